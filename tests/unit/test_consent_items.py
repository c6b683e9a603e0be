"""Consent failures seen from outside, each replayed on the engine and the in-memory store.

Every test here plays one reported failure end to end (emulator, client, engine, store); the same
scenarios run on the Frappe store in tests/integration/test_frappe_consent.py.
"""

from __future__ import annotations

from datetime import timedelta

from cc_sync.sync.streams import STREAM_OPTOUT_PUSH, STREAM_RECONCILE
from tests.world import make_world

ELEVEN_MINUTES = 11 * 60


def test_a_cc_reoptin_leaves_site_only_groups_the_person_left():
	"""Item 7: CC's opt-in brings the person back to CC's lists, not to a group only the site has."""
	w = make_world()
	cc_id = w.emu.add_contact("back@example.com", list_ids=[w.list_id])
	with w.emu.mocked():
		w.run()
	w.store.members[("Site only", "back@example.com")] = False
	w.store.unsubscribe_locally("back@example.com")
	w.store.commit()
	w.clock.advance(ELEVEN_MINUTES)
	w.emu.opt_in(cc_id)  # the person opts in again in CC, before the site's opt-out reached CC
	w.clock.advance(60)
	with w.emu.mocked():
		w.run(STREAM_OPTOUT_PUSH)
	assert w.emu.get(cc_id)["email_address"]["permission_to_send"] == "explicit"
	assert not w.store.contact_by_email("back@example.com").unsubscribed
	assert w.store.members[("Site only", "back@example.com")] is True


def test_clock_skew_cannot_undo_a_site_optout():
	"""Item 9: CC's clock 90 s ahead; the person opts out on the site 30 s after opting in in CC."""
	w = make_world()
	cc_id = w.emu.add_contact("skew@example.com")
	with w.emu.mocked():
		w.run()
	w.store._now = lambda: w.clock.now() - timedelta(seconds=90)
	w.clock.advance(3600)
	w.emu.opt_in(cc_id)
	w.clock.advance(30)
	w.store.unsubscribe_locally("skew@example.com")
	w.store.commit()
	w.clock.advance(60)
	with w.emu.mocked():
		w.run()
		w.run(STREAM_RECONCILE)
	assert w.store.contact_by_email("skew@example.com").unsubscribed
	assert w.emu.get(cc_id)["email_address"]["permission_to_send"] == "unsubscribed"


def test_an_optout_committed_while_a_page_is_applied_is_kept():
	"""Item 10: the decision is checked against the site at write time, not only at the page's start."""
	w = make_world()
	cc_id = w.emu.add_contact("mid@example.com", list_ids=[w.list_id])
	with w.emu.mocked():
		w.run()
	w.emu.unsubscribe(cc_id)
	w.clock.advance(60)
	with w.emu.mocked():
		w.run()
	assert w.store.contact_by_email("mid@example.com").unsubscribed
	w.clock.advance(ELEVEN_MINUTES)
	w.emu.opt_in(cc_id)  # a newer opt-in by the person: the reconcile would lift the opt-out...
	w.clock.advance(ELEVEN_MINUTES)
	landed = []

	def site_optout_lands(operation: str) -> None:
		if operation == "apply_contacts" and not landed:
			landed.append(operation)
			w.store.unsubscribe_locally("mid@example.com", by_person=True)  # ...but this is newer still

	w.store.before_write = site_optout_lands
	with w.emu.mocked():
		w.run(STREAM_RECONCILE)
	w.store.before_write = None
	assert landed
	assert w.store.contact_by_email("mid@example.com").unsubscribed
	with w.emu.mocked():
		w.run(STREAM_OPTOUT_PUSH)
	assert w.emu.get(cc_id)["email_address"]["permission_to_send"] == "unsubscribed"


def test_after_a_cc_optout_a_group_keeps_the_record_and_a_later_add_is_unsubscribed():
	"""Item 12: the row of someone who opted out stays, unsubscribed, and a row added later on the site
	for them is put right on the next look."""
	w = make_world()
	cc_id = w.emu.add_contact("kept@example.com", list_ids=[w.list_id])
	with w.emu.mocked():
		w.run()
		w.emu.unsubscribe(cc_id)
		w.emu.remove_from_list(cc_id, w.list_id)  # CC drops the memberships of someone who opted out
		w.clock.advance(60)
		w.run()
		assert w.store.members[("Newsletter", "kept@example.com")] is True
		w.store.members[("Imported", "kept@example.com")] = False  # a manual import into another group
		w.clock.advance(3600)
		w.run(STREAM_RECONCILE)
	assert w.store.members[("Newsletter", "kept@example.com")] is True
	assert w.store.members[("Imported", "kept@example.com")] is True


def test_leaving_one_group_takes_the_person_off_its_cc_list_only():
	"""Item 14: leaving a group mapped to a CC list leaves that list; the person stays subscribed."""
	w = make_world()
	other = w.emu.create_list("Events")
	cc_id = w.emu.add_contact("leaver@example.com", list_ids=[w.list_id, other])
	with w.emu.mocked():
		w.run()
		w.store.leave_group("leaver@example.com", "Newsletter", by_person=True)
		w.store.commit()
		w.clock.advance(60)
		w.run(STREAM_OPTOUT_PUSH)
		w.emu.complete_activities()
		w.clock.advance(900)
		w.run()
	cc = w.emu.get(cc_id)
	assert cc["email_address"]["permission_to_send"] != "unsubscribed"
	assert w.list_id not in cc["list_memberships"] and other in cc["list_memberships"]
	assert not w.store.contact_by_email("leaver@example.com").unsubscribed
	assert w.store.members[("Newsletter", "leaver@example.com")] is True
	assert w.store.pending_optouts() == []


def test_every_record_of_an_address_tells_one_story():
	"""Item 13: a Lead opt-out makes the Contact CC brings opted out too; a CC delete is what the
	address's Leads say, not "Pushed"."""
	w = make_world()
	w.store.add_lead("story@example.com", first_name="Story", unsubscribed=True)
	w.store.add_lead("gone@example.com", first_name="Gone")
	w.store.commit()
	with w.emu.mocked():
		w.run()
		w.emu.complete_activities()
		w.clock.advance(900)
		w.run()
		assert {lead.email: lead.push_status for lead in w.store.leads.values()} == {
			"story@example.com": "Skipped",
			"gone@example.com": "Pushed",
		}
		w.emu.add_contact("story@example.com", first_name="Story")
		w.emu.delete_contact(w.emu.find_by_email("gone@example.com")["contact_id"])
		w.clock.advance(900)
		w.run()
	[story] = [c for c in w.store.contacts.values() if c.email == "story@example.com"]
	assert story.unsubscribed is True  # the Contact's own flag, not only the address's view
	[gone] = [lead for lead in w.store.leads.values() if lead.email == "gone@example.com"]
	assert gone.push_status == "Skipped" and "deleted in CC" in gone.push_error


def test_a_lead_skipped_while_opted_out_is_pushed_once_the_person_opts_in_again():
	w = make_world()
	cc_id = w.emu.add_contact("again@example.com")
	w.emu.unsubscribe(cc_id)
	w.clock.advance(60)
	with w.emu.mocked():
		w.run()
		w.store.add_lead("again@example.com", first_name="Again")
		w.store.commit()
		w.clock.advance(900)
		w.run()
		[lead] = w.store.leads.values()
		assert lead.push_status == "Skipped"
		w.emu.opt_in(cc_id)  # the person, in CC
		w.clock.advance(3600)
		w.run(STREAM_RECONCILE)
		w.run()
	assert not w.store.contact_by_email("again@example.com").unsubscribed
	assert lead.push_status == "Pushed" and lead.cc_contact_id == cc_id


def test_an_address_change_in_cc_leaves_no_old_row_subscribed():
	"""Same CC contact, new address: the old address's rows in the mapped group go, so site newsletters
	reach the new address only; a leave the old address made stays as the record of it."""
	w = make_world()
	moved = w.emu.add_contact("moved-old@example.com", list_ids=[w.list_id])
	w.store.members[("Newsletter", "left-old@example.com")] = True
	with w.emu.mocked():
		w.run()
	assert w.store.members[("Newsletter", "moved-old@example.com")] is False
	w.clock.advance(600)
	w.emu.edit_contact(moved, email="moved-new@example.com")
	w.clock.advance(600)
	with w.emu.mocked():
		w.run()
	assert w.store.members[("Newsletter", "moved-new@example.com")] is False
	assert ("Newsletter", "moved-old@example.com") not in w.store.members
	assert w.store.contact_by_email("moved-new@example.com").cc_contact_id == moved


def test_two_contacts_swapping_addresses_keep_both_rows():
	"""A moves to B's address while B moves to A's: each address keeps its row (now the other person's)."""
	w = make_world()
	a = w.emu.add_contact("swap-a@example.com", list_ids=[w.list_id])
	b = w.emu.add_contact("swap-b@example.com", list_ids=[w.list_id])
	with w.emu.mocked():
		w.run()
	w.clock.advance(600)
	w.emu.edit_contact(a, email="swap-tmp@example.com")
	w.emu.edit_contact(b, email="swap-a@example.com")
	w.emu.edit_contact(a, email="swap-b@example.com")
	w.clock.advance(600)
	with w.emu.mocked():
		w.run()
	assert w.store.members[("Newsletter", "swap-a@example.com")] is False
	assert w.store.members[("Newsletter", "swap-b@example.com")] is False
