"""The real engine over the emulator (in-process) and the real client, applied into a real Frappe site."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from cc_sync.sync.streams import (
	STREAM_CHANGES,
	STREAM_OPTOUT_PUSH,
	STREAM_OPTOUTS,
	STREAM_PUSH,
	STREAM_RECONCILE,
)
from tests.world import World
from tests.world import make_world as build_world

DOMAIN = "tier2.test"
GROUP = "Tier2 Newsletter"
OTHER_GROUP = "Tier2 Other"


def utc(*args: int) -> datetime:
	return datetime(*args, tzinfo=timezone.utc)


def addr(local: str) -> str:
	return f"{local}@{DOMAIN}"


def make_world(start: datetime | None = None) -> World:
	"""The shared world (`tests/world.py`) on the Frappe store, with the group the list maps to."""
	from tests.integration.frappe_site import FrappeSite, make_store

	site = FrappeSite()
	site.make_group(GROUP)
	# Lead.modified is the site's real time, so a push test runs on a clock that starts now. A token that
	# outlives the clock jumps (the refresh flow has tier 1 tests of its own).
	return build_world(
		(start or datetime.now(timezone.utc)).replace(microsecond=0),
		store=make_store(),
		group=GROUP,
		static_token=True,
		site=site,
		strict=True,
	)


def one_contact(world: World, email: str):
	contacts = world.site.contacts(email)
	assert len(contacts) == 1, f"{len(contacts)} Contacts hold {email}"
	return contacts[0]


def test_the_seeds_case_ends_unsubscribed_on_the_site():
	"""updated_at 2023-01-30T18:04:55Z, unsubscribed at 2024-06-08T01:31:05Z, last sync 2024-06-01T01:31:05Z."""
	from cc_sync.cc_sync.sitetime import from_site

	w = make_world(utc(2024, 5, 31, 9, 0, 0))
	email = addr("abc")
	cc_id = w.emu.add_contact(
		email,
		first_name="Abc",
		list_ids=[w.list_id],
		created_at="2023-01-30T18:04:55Z",
		updated_at="2023-01-30T18:04:55Z",
	)
	w.clock.set(utc(2024, 6, 1, 1, 31, 5))
	with w.emu.mocked():
		w.run(STREAM_CHANGES, STREAM_OPTOUTS)
	contact = one_contact(w, email)
	assert not contact.unsubscribed
	assert contact.cc_contact_id == cc_id
	# The opt-out watermark is CC's newest opt-out date: none yet.
	assert w.store.get_watermark(STREAM_OPTOUTS) is None

	w.clock.set(utc(2024, 6, 8, 1, 31, 5))
	w.emu.unsubscribe(cc_id)
	w.clock.advance(3600)
	with w.emu.mocked():
		changes_only = w.run(STREAM_CHANGES)
		# The trap: updated_after alone never sees the unsubscribe.
		assert changes_only.streams[STREAM_CHANGES].fetched == 0
		assert not one_contact(w, email).unsubscribed
		report = w.run(STREAM_OPTOUTS)
	contact = one_contact(w, email)
	assert contact.unsubscribed == 1
	assert from_site(contact.cc_opted_out_at) == utc(2024, 6, 8, 1, 31, 5)
	assert contact.cc_permission == "unsubscribed"
	assert w.site.member_rows(email) == {GROUP: True}
	assert report.streams[STREAM_OPTOUTS].unsubscribed == 1


def test_a_rerun_creates_no_duplicate_contact_and_writes_nothing():
	w = make_world()
	pre = w.site.add_contact(addr("pre"), first_name="Pre", last_name="Existing")
	w.emu.add_contact(addr("pre"), first_name="Pre", last_name="Existing")
	for i in range(6):
		w.emu.add_contact(
			addr(f"p{i}"), first_name="Same", last_name="Name", list_ids=[w.list_id] if i % 2 else []
		)
	with w.emu.mocked():
		first = w.run()
		modified = {c.name: c.modified for i in range(6) for c in w.site.contacts(addr(f"p{i}"))}
		w.clock.advance(900)
		second = w.run()
		w.clock.advance(900)
		reconcile = w.run(STREAM_RECONCILE)
	assert first.streams[STREAM_CHANGES].created == 6
	assert one_contact(w, addr("pre")).name == pre  # matched by email, not created again
	assert one_contact(w, addr("pre")).cc_contact_id
	for i in range(6):
		contact = one_contact(w, addr(f"p{i}"))
		assert contact.full_name == "Same Name"
		assert modified[contact.name] == contact.modified
	# Six people share one full name: six distinct, Frappe-style names.
	assert len(modified) == 6
	assert {w.site.member_rows(addr(f"p{i}")).get(GROUP) for i in (1, 3, 5)} == {False}
	assert w.site.member_rows(addr("p0")) == {}
	for stream in second.streams.values():
		assert stream.created == stream.updated == 0
	assert reconcile.streams[STREAM_RECONCILE].corrected == 0


def test_a_cc_optout_unsubscribes_the_contact_and_its_email_group_members():
	w = make_world()
	email = addr("leaver")
	cc_id = w.emu.add_contact(email, first_name="Lea", list_ids=[w.list_id])
	with w.emu.mocked():
		w.run()
		assert w.site.member_rows(email) == {GROUP: False}
		# A membership the sync does not manage: the opt-out reaches it too.
		w.site.add_member(OTHER_GROUP, email)
		w.clock.advance(60)
		w.emu.unsubscribe(cc_id)
		w.clock.advance(60)
		report = w.run()
	contact = one_contact(w, email)
	assert contact.unsubscribed == 1
	assert w.site.member_rows(email) == {GROUP: True, OTHER_GROUP: True}
	assert report.streams[STREAM_OPTOUTS].unsubscribed == 1
	# CC already holds it: nothing is queued to send back.
	assert w.store.pending_optouts() == []
	assert w.store.opted_out_emails([email]) == {email}


def test_a_local_unsubscribe_reaches_cc():
	import frappe

	from cc_sync.cc_sync.constants import OPT_OUT

	w = make_world()
	email = addr("bye")
	cc_id = w.emu.add_contact(email, first_name="By", last_name="E", job_title="CFO", list_ids=[w.list_id])
	with w.emu.mocked():
		w.run()
		w.site.unsubscribe_locally(email, by_person=True)
		assert one_contact(w, email).unsubscribed == 1
		assert w.site.member_rows(email) == {GROUP: True}
		w.clock.advance(60)
		report = w.run()
	resource = w.emu.get(cc_id)
	assert resource["email_address"]["permission_to_send"] == "unsubscribed"
	assert resource["email_address"]["opt_out_source"] == "Contact"
	assert (resource["first_name"], resource["last_name"], resource["job_title"]) == ("By", "E", "CFO")
	assert report.streams[STREAM_OPTOUT_PUSH].unsubscribed == 1
	assert w.store.pending_optouts() == []
	assert frappe.db.get_value(OPT_OUT, {"email": email}, "status") == "Done"


def test_a_contact_unsubscribed_in_the_desk_reaches_cc():
	w = make_world()
	email = addr("desk")
	cc_id = w.emu.add_contact(email, list_ids=[w.list_id])
	with w.emu.mocked():
		w.run()
		w.site.unsubscribe_in_desk(one_contact(w, email).name)
		assert [p.email for p in w.store.pending_optouts()] == [email]
		assert w.site.member_rows(email) == {GROUP: True}
		w.clock.advance(60)
		w.run()
	assert w.emu.get(cc_id)["email_address"]["permission_to_send"] == "unsubscribed"
	assert w.emu.get(cc_id)["email_address"]["opt_out_source"] == "Account"
	assert w.store.pending_optouts() == []


def test_a_global_email_unsubscribe_no_doc_event_saw_reaches_cc_through_the_reconcile():
	"""An Email Unsubscribe written before the app was installed: the next full scan pushes it."""
	w = make_world()
	email = addr("quiet")
	cc_id = w.emu.add_contact(email, list_ids=[w.list_id])
	with w.emu.mocked():
		w.run()
		w.site.global_unsubscribe(email, unseen=True)
		assert w.store.pending_optouts() == []
		w.clock.advance(60)
		w.run(STREAM_RECONCILE, STREAM_OPTOUT_PUSH)
	assert w.emu.get(cc_id)["email_address"]["permission_to_send"] == "unsubscribed"
	assert w.store.pending_optouts() == []


def test_an_explicit_reoptin_in_cc_lifts_every_site_optout():
	w = make_world()
	email = addr("back")
	cc_id = w.emu.add_contact(email, list_ids=[w.list_id])
	lead = w.site.add_lead(email, first_name="Back")
	with w.emu.mocked():
		w.run()
		w.clock.advance(60)
		w.emu.unsubscribe(cc_id)
		w.clock.advance(60)
		w.run()
		assert one_contact(w, email).unsubscribed == 1
		assert w.site.lead(lead).unsubscribed == 1
		w.clock.advance(60)
		w.emu.opt_in(cc_id)
		w.clock.advance(60)
		w.run(STREAM_RECONCILE)
	assert one_contact(w, email).unsubscribed == 0
	assert w.site.member_rows(email) == {GROUP: False}
	assert w.site.lead(lead).unsubscribed == 0
	assert w.store.opted_out_emails([email]) == set()


def test_the_push_skips_unsubscribed_and_invalid_emails_and_links_cc_ids_back():
	import frappe

	w = make_world()
	out_id = w.emu.add_contact(addr("out"))
	w.emu.unsubscribe(out_id)
	new1 = w.site.add_lead(
		addr("new1"), first_name="New", last_name="One", company_name="Acme", job_title="CTO"
	)
	new2 = w.site.add_lead(f"  {addr('NEW2').upper()} ", first_name="New2")
	out = w.site.add_lead(addr("out"), first_name="Out")
	local_out = w.site.add_lead(addr("localout"), first_name="Local", unsubscribed=True)
	# Frappe validates Lead emails on save; an older row (data import, SQL) can still hold a bad one.
	bad = w.site.add_lead(None)
	frappe.db.set_value("Lead", bad, "email_id", "not-an-email")
	frappe.db.commit()
	too_long = w.site.add_lead(addr("a-very-long-local-part-that-cc-import-refuses"))
	missing = w.site.add_lead(None)
	with w.emu.mocked():
		report = w.run()
	push = report.streams[STREAM_PUSH]
	assert push.status == "success", push.error
	reasons = {note.email: note.reason for note in push.skips}
	assert "opted out" in reasons[addr("out")]
	assert "opted out" in reasons[addr("localout")]
	assert "invalid email" in reasons["not-an-email"]
	assert "missing email" in reasons[None]
	assert "longer than 50" in reasons[addr("a-very-long-local-part-that-cc-import-refuses")]

	in_cc = w.emu.find_by_email(addr("new1"))
	assert in_cc["company_name"] == "Acme" and in_cc["job_title"] == "CTO"
	assert w.list_id in in_cc["list_memberships"]
	assert w.emu.find_by_email(addr("localout")) is None
	assert w.emu.find_by_email(addr("out"))["email_address"]["permission_to_send"] == "unsubscribed"
	assert w.emu.calls_to("/v3/contacts/sign_up_form") == 0

	lead1 = w.site.lead(new1)
	assert lead1.cc_push_status == "Pushed"
	assert lead1.cc_contact_id == in_cc["contact_id"]
	assert w.site.lead(new2).cc_contact_id == w.emu.find_by_email(addr("new2"))["contact_id"]
	assert w.site.lead(out).cc_push_status == "Skipped"
	assert w.site.lead(local_out).cc_push_status == "Skipped"
	assert w.site.lead(bad).cc_push_status == "Skipped"
	assert w.site.lead(missing).cc_push_status == "Skipped"
	assert "longer than 50" in w.site.lead(too_long).cc_push_error
	# The import's contacts come back as site Contacts linked to their leads.
	contact = one_contact(w, addr("new1"))
	assert contact.cc_contact_id == in_cc["contact_id"]
	assert [(link.link_doctype, link.link_name) for link in contact.links] == [("Lead", new1)]
	assert contact.designation == "CTO"
	# Recording the push did not make the lead look changed: the next run sends nothing.
	modified = frappe.db.get_value("Lead", new1, "modified")
	assert modified == lead1.modified
	imports = w.emu.calls_to("/v3/activities/contacts_json_import")
	w.clock.advance(900)
	with w.emu.mocked():
		again = w.run()
	assert again.streams[STREAM_PUSH].pushed == 0
	assert w.emu.calls_to("/v3/activities/contacts_json_import") == imports


@pytest.mark.parametrize("by_person", [False, True])
def test_record_local_optout_marks_every_record_of_the_address(by_person):
	w = make_world()
	email = addr("all")
	w.site.add_contact(email)
	w.site.add_contact(email.upper(), first_name="Dup")
	lead = w.site.add_lead(email)
	w.site.add_member(OTHER_GROUP, email)
	w.site.unsubscribe_locally(email, by_person=by_person)
	# The two added, and the one ERPNext's Lead made of itself.
	assert [c.unsubscribed for c in w.site.contacts(email)] == [1, 1, 1]
	assert w.site.member_rows(email) == {OTHER_GROUP: True}
	assert w.site.lead(lead).unsubscribed == 1
	[pending] = w.store.pending_optouts()
	assert pending.email == email and pending.by_person is by_person
	# A second report of the same opt-out keeps the one pending row.
	w.site.unsubscribe_locally(email)
	assert len(w.store.pending_optouts()) == 1
