"""Consent on the Frappe store: the failures seen on a real site, each replayed through the engine.

The same scenarios run on the in-memory store in tests/unit/test_consent_items.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import frappe

from cc_sync.cc_sync.constants import CONTACT, EMAIL_UNSUBSCRIBE, LEAD, OPT_OUT
from cc_sync.sync.streams import STREAM_OPTOUT_PUSH, STREAM_RECONCILE
from tests.integration.test_frappe_scenarios import GROUP, addr, make_world, one_contact

SITE_ONLY = "Tier2 Site only"
ELEVEN_MINUTES = 11 * 60


def _optout_unseen_on_lead(email: str) -> str:
	"""A Lead marked Unsubscribed before the app was installed (no doc_event, no opt-out row)."""
	doc = frappe.get_doc({"doctype": LEAD, "lead_name": f"tier2 {email}", "email_id": email})
	doc.insert(ignore_permissions=True)
	frappe.db.set_value(LEAD, doc.name, "unsubscribed", 1)
	frappe.db.commit()
	return doc.name


def test_a_row_added_for_an_opted_out_person_is_added_unsubscribed():
	"""Item 1: an opted-out person put on a mapped CC list never lands in the group subscribed."""
	w = make_world()
	email = addr("listed")
	cc_id = w.emu.add_contact(email)
	with w.emu.mocked():
		w.run()
		w.site.unsubscribe_in_desk(one_contact(w, email).name)
		w.emu.add_to_list(cc_id, w.list_id)  # CC's list tool: no timestamp moves
		w.clock.advance(3600)
		w.run(STREAM_RECONCILE)
	assert w.site.member_rows(email) == {GROUP: True}


def test_every_site_channel_of_optout_is_seen_when_matching_and_creating():
	"""Items 6 and 13: a Lead opt-out no doc_event saw opts the address out: the Contact created from CC
	is created unsubscribed, CC is told, and Lead and Contact tell the same story."""
	w = make_world()
	email = addr("leadonly")
	lead = _optout_unseen_on_lead(email)
	doc_email = addr("docunsub")
	frappe.get_doc(
		{
			"doctype": EMAIL_UNSUBSCRIBE,
			"email": doc_email,
			"global_unsubscribe": 0,
			"reference_doctype": "User",
			"reference_name": "Administrator",
		}
	).insert(ignore_permissions=True)
	frappe.db.commit()
	lead_cc = w.emu.add_contact(email, list_ids=[w.list_id])
	doc_cc = w.emu.add_contact(doc_email, list_ids=[w.list_id])
	with w.emu.mocked():
		w.run()
		w.run(STREAM_OPTOUT_PUSH)
	for address, cc_id in ((email, lead_cc), (doc_email, doc_cc)):
		assert one_contact(w, address).unsubscribed == 1
		assert w.site.member_rows(address) == {GROUP: True}
		assert w.emu.get(cc_id)["email_address"]["permission_to_send"] == "unsubscribed"
	assert w.site.lead(lead).unsubscribed == 1


def test_a_resolved_optout_of_an_address_held_nowhere_else_is_not_forgotten():
	"""Item 6: once CC holds it, the opt-out row is still the site's record of the address's opt-out."""
	w = make_world()
	email = addr("nowhere")
	w.site.unsubscribe_locally(email)
	with w.emu.mocked():
		w.run(STREAM_OPTOUT_PUSH)  # not in CC: resolved
		w.emu.add_contact(email, list_ids=[w.list_id])  # later, CC adds the person
		w.clock.advance(60)
		w.run()
		w.run(STREAM_OPTOUT_PUSH)
	assert one_contact(w, email).unsubscribed == 1
	assert w.emu.find_by_email(email)["email_address"]["permission_to_send"] == "unsubscribed"


def test_a_cc_reoptin_leaves_site_only_groups_and_their_unsubscribes_alone():
	"""Item 7: CC's opt-in lifts the address's opt-out and brings back CC's lists, nothing else."""
	w = make_world()
	email = addr("back")
	cc_id = w.emu.add_contact(email, list_ids=[w.list_id])
	with w.emu.mocked():
		w.run()
	w.site.add_member(SITE_ONLY, email)
	w.site.unsubscribe_locally(email)
	w.clock.advance(ELEVEN_MINUTES)
	w.emu.opt_in(cc_id)  # before the site's opt-out reached CC
	w.clock.advance(60)
	with w.emu.mocked():
		w.run(STREAM_OPTOUT_PUSH)
	assert w.emu.get(cc_id)["email_address"]["permission_to_send"] == "explicit"
	assert one_contact(w, email).unsubscribed == 0
	assert w.site.member_rows(email)[SITE_ONLY] is True


def test_clock_skew_cannot_undo_a_site_optout():
	"""Item 9: CC's clock 90 s ahead of the site's; the person opts out here 30 s after opting in in CC."""
	w = make_world()
	email = addr("skew")
	cc_id = w.emu.add_contact(email)
	with w.emu.mocked():
		w.run()
	w.clock.advance(60)  # CC's clock: 60 s ahead of the site's by the time the site opts out
	w.emu.opt_in(cc_id)
	w.site.unsubscribe_locally(email)
	w.clock.advance(60)
	with w.emu.mocked():
		w.run()
		w.run(STREAM_RECONCILE)
	assert one_contact(w, email).unsubscribed == 1
	assert w.emu.get(cc_id)["email_address"]["permission_to_send"] == "unsubscribed"


def test_an_optout_committed_while_a_page_is_applied_is_kept(monkeypatch):
	"""Item 10: a page's writes are checked against the site at write time."""
	# CC's clock starts half an hour back, so after the steps below it still runs behind the site's
	# (whose opt-out, landing last, must carry the latest date, as it would in life).
	w = make_world(datetime.now(timezone.utc) - timedelta(minutes=30))
	email = addr("mid")
	cc_id = w.emu.add_contact(email, list_ids=[w.list_id])
	with w.emu.mocked():
		w.run()
		w.emu.unsubscribe(cc_id)
		w.clock.advance(60)
		w.run()
	w.clock.advance(ELEVEN_MINUTES)
	w.emu.opt_in(cc_id)
	w.clock.advance(ELEVEN_MINUTES)
	real_apply = type(w.store).apply_contacts
	landed = []

	def apply_contacts(store, writes, managed_groups=()):
		if not landed:
			landed.append(True)
			w.site.unsubscribe_locally(email, by_person=True)  # commits, as another request would
		return real_apply(store, writes, managed_groups)

	monkeypatch.setattr(type(w.store), "apply_contacts", apply_contacts)
	with w.emu.mocked():
		w.run(STREAM_RECONCILE)
	monkeypatch.undo()
	assert landed
	assert one_contact(w, email).unsubscribed == 1
	with w.emu.mocked():
		w.run(STREAM_OPTOUT_PUSH)
	assert w.emu.get(cc_id)["email_address"]["permission_to_send"] == "unsubscribed"


def test_after_a_cc_optout_the_group_keeps_the_row_unsubscribed():
	"""Item 12: CC dropping the memberships of someone who opted out leaves the row as the record, and a
	manual add to a group later is unsubscribed."""
	w = make_world()
	email = addr("kept")
	cc_id = w.emu.add_contact(email, list_ids=[w.list_id])
	with w.emu.mocked():
		w.run()
		w.emu.unsubscribe(cc_id)
		w.emu.remove_from_list(cc_id, w.list_id)
		w.clock.advance(60)
		w.run()
	assert w.site.member_rows(email) == {GROUP: True}
	w.site.add_member(SITE_ONLY, email)  # a manual import into another group
	assert w.site.member_rows(email) == {GROUP: True, SITE_ONLY: True}


def test_leaving_one_group_leaves_its_cc_list_only():
	"""Item 14: the default: leaving a mapped group takes the person off that CC list; no global
	opt-out anywhere."""
	w = make_world()
	email = addr("leaver")
	other = w.emu.create_list("Events")
	cc_id = w.emu.add_contact(email, list_ids=[w.list_id, other])
	with w.emu.mocked():
		w.run()
		w.site.add_member(SITE_ONLY, email)
		w.site.leave_group(GROUP, email)
		contact = one_contact(w, email)
		assert contact.unsubscribed == 0
		assert frappe.get_all(OPT_OUT, filters={"email": email}, pluck="email_group") == [GROUP]
		w.clock.advance(60)
		w.run(STREAM_OPTOUT_PUSH)
		w.emu.complete_activities()
		w.clock.advance(900)
		w.run()
	cc = w.emu.get(cc_id)
	assert cc["email_address"]["permission_to_send"] != "unsubscribed"
	assert w.list_id not in cc["list_memberships"] and other in cc["list_memberships"]
	assert one_contact(w, email).unsubscribed == 0
	assert w.site.member_rows(email) == {GROUP: True, SITE_ONLY: False}
	assert not frappe.get_all(EMAIL_UNSUBSCRIBE, filters={"email": email, "global_unsubscribe": 1})


def test_the_settings_can_make_a_group_leave_a_global_optout():
	w = make_world()
	email = addr("global")
	w.emu.add_contact(email, list_ids=[w.list_id])
	with w.emu.mocked():
		w.run()
	frappe.db.set_single_value("Constant Contact Settings", "group_leave_is_global", 1)
	try:
		w.site.leave_group(GROUP, email)
	finally:
		frappe.db.set_single_value("Constant Contact Settings", "group_leave_is_global", 0)
		frappe.db.commit()
	assert frappe.db.get_value(CONTACT, one_contact(w, email).name, "unsubscribed") == 1
	assert frappe.get_all(OPT_OUT, filters={"email": email}, pluck="email_group") == [None]


def test_a_lead_never_says_pushed_for_a_contact_cc_deleted():
	"""Item 13: the Lead of an address CC deleted says so, as the Contact does."""
	w = make_world()
	email = addr("gone")
	lead = w.site.add_lead(email, first_name="Gone")
	with w.emu.mocked():
		w.run()
		w.emu.complete_activities()
		w.clock.advance(900)
		w.run()
		assert w.site.lead(lead).cc_push_status == "Pushed"
		w.emu.delete_contact(w.emu.find_by_email(email)["contact_id"])
		w.clock.advance(900)
		w.run()
	assert one_contact(w, email).cc_deleted == 1
	assert w.site.lead(lead).cc_push_status == "Skipped"
	assert "deleted in CC" in w.site.lead(lead).cc_push_error


def test_a_lead_for_someone_cc_holds_adds_them_to_no_list():
	"""Item 8: the lists a pushed row carries are decided per person: none a person CC holds left."""
	from cc_sync.cc_sync.constants import LEAD_CC_ID

	w = make_world()
	seen, unseen, new = addr("seen"), addr("unseen"), addr("new")
	seen_id = w.emu.add_contact(seen, first_name="Seen", list_ids=[w.list_id])
	unseen_id = w.emu.add_contact(unseen, first_name="Unseen", list_ids=[w.list_id])
	with w.emu.mocked():
		w.run()
		w.clock.advance(3600)
		w.emu.remove_from_list(seen_id, w.list_id)  # the person leaves the list in CC
		w.run(STREAM_RECONCILE)
		w.emu.remove_from_list(unseen_id, w.list_id)  # the owner removes them; no pull sees it
		leads = [w.site.add_lead(e, first_name="Lead") for e in (seen, unseen, new)]
		w.clock.advance(900)
		w.run()
		w.emu.complete_activities()
		w.clock.advance(900)
		w.run()
	assert w.list_id not in w.emu.find_by_email(seen)["list_memberships"]
	assert w.list_id not in w.emu.find_by_email(unseen)["list_memberships"]
	assert w.list_id in w.emu.find_by_email(new)["list_memberships"]
	assert w.site.member_rows(seen) == {GROUP: True}
	assert [w.site.lead(k).cc_push_status for k in leads] == ["Pushed"] * 3
	assert all(w.site.lead(k).get(LEAD_CC_ID) for k in leads)


def test_a_page_of_cc_optouts_reaches_every_record_of_each_address_and_the_latest_date_stands():
	"""CC opt-outs applied a page at a time: each address's Contacts (duplicates too) and Leads say opted
	out, and a Contact already opted out keeps the date it has."""
	from cc_sync.cc_sync.constants import CONTACT_OPTED_OUT_AT

	w = make_world()
	emails = [addr(f"page{i}") for i in range(30)]
	ids = [w.emu.add_contact(e, list_ids=[w.list_id]) for e in emails]
	with w.emu.mocked():
		w.run()
	twin = w.site.add_contact(emails[0], first_name="Twin")
	lead = w.site.add_lead(emails[0], first_name="Lead")
	earlier, later = emails[1], emails[2]
	long_ago = datetime(2020, 1, 1)
	far_ahead = datetime.now() + timedelta(days=3650)
	for email, when in ((earlier, long_ago), (later, far_ahead)):
		frappe.db.sql(
			f"update `tabContact` set unsubscribed = 1, `{CONTACT_OPTED_OUT_AT}` = %s where name = %s",
			(when, one_contact(w, email).name),
		)
	frappe.db.commit()
	w.clock.advance(3600)
	for cc_id in ids:
		w.emu.unsubscribe(cc_id)
	w.clock.advance(900)
	with w.emu.mocked():
		w.run()
	for email in emails:
		for contact in w.site.contacts(email):
			assert contact.unsubscribed == 1, (email, contact.name)
	assert twin in {c.name for c in w.site.contacts(emails[0])}
	assert w.site.lead(lead).unsubscribed == 1
	for email, when in ((earlier, long_ago), (later, far_ahead)):
		kept = one_contact(w, email).get(CONTACT_OPTED_OUT_AT)
		assert abs((kept - when).total_seconds()) < 1, (email, kept, when)


def _write(email: str, **kw):
	from cc_sync.sync.records import ContactWrite

	return ContactWrite(key=None, email=email, **kw)


def test_a_lift_and_an_optout_of_one_contact_in_one_page_apply_in_the_page_order():
	"""A Contact holding two addresses: one lifted and one opted out in the same page. The page's order
	decides, as when each address is applied in turn."""
	from cc_sync.cc_sync.store.consent_writes import ConsentWrites
	from cc_sync.cc_sync.store.contact_reads import contacts_by_address

	w = make_world()
	first, second = addr("two-a"), addr("two-b")
	name = w.site.add_contact(first, first_name="Two")
	contact = frappe.get_doc(CONTACT, name)
	contact.append("email_ids", {"email_id": second})
	contact.save(ignore_permissions=True)
	frappe.db.commit()
	now = datetime.now(timezone.utc)
	lift, out = (
		_write(second, opted_out=False, lift_optout=True),
		_write(first, opted_out=True, opted_out_at=now),
	)
	consent = ConsentWrites(contacts_by_address, has_lead=bool(frappe.db.table_exists("Lead")))
	consent.apply([lift, out], now.replace(tzinfo=None))
	assert frappe.db.get_value(CONTACT, name, "unsubscribed") == 1
	consent.apply([out, lift], now.replace(tzinfo=None))
	assert frappe.db.get_value(CONTACT, name, "unsubscribed") == 0


def test_an_optout_of_an_address_the_database_only_collates_alike_leaves_the_other_contact_alone():
	"""MariaDB's collation takes straße for strasse; an opt-out of one is not an opt-out of the other,
	and it breaks nothing else in the page."""
	from cc_sync.cc_sync.store.consent_writes import ConsentWrites
	from cc_sync.cc_sync.store.contact_reads import contacts_by_address

	w = make_world()
	other = w.site.add_contact(addr("strasse"), first_name="Other")
	mine = w.site.add_contact(addr("page-mate"), first_name="Mate")
	now = datetime.now()
	consent = ConsentWrites(contacts_by_address, has_lead=bool(frappe.db.table_exists("Lead")))
	consent.opt_out_all([(addr("straße"), None, False), (addr("page-mate"), None, False)], now)
	assert frappe.db.get_value(CONTACT, other, "unsubscribed") == 0
	assert frappe.db.get_value(CONTACT, mine, "unsubscribed") == 1
