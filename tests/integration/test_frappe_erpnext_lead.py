"""ERPNext v15's Lead as it behaves (the testkit's stand-in where ERPNext is absent), met by the sync.

A Lead makes a Contact of its own on insert (CRM Settings' auto-creation, on by default), refuses a second
Lead of its address, fails validation on a bad address, deletes its Contact with itself, and has the
status "Do Not Contact". Each of these meets cc_sync's hooks and the push; these tests hold the
sync to what a marketer expects of each.
"""

from __future__ import annotations

import pytest

import frappe

from cc_sync.cc_sync.constants import CONTACT, LEAD, OPT_OUT, SETTINGS
from cc_sync.cc_sync.targets import lead as lead_target
from cc_sync.sync.streams import STREAM_OPTOUT_PUSH
from tests.integration.test_frappe_scenarios import addr, make_world, one_contact

CRM_SETTINGS = "CRM Settings"


def _optout_rows(email: str) -> list[frappe._dict]:
	return frappe.get_all(OPT_OUT, filters={"email": email}, fields=["status", "reason", "email_group"])


def _links(contact) -> list[tuple[str, str]]:
	return [(link.link_doctype, link.link_name) for link in contact.links]


@pytest.fixture
def crm_settings():
	"""CRM Settings as a test leaves them are put back."""
	keep = {
		f: frappe.db.get_single_value(CRM_SETTINGS, f)
		for f in ("auto_creation_of_contact", "allow_lead_duplication_based_on_emails")
	}
	yield
	for field, value in keep.items():
		frappe.db.set_single_value(CRM_SETTINGS, field, value)
	frappe.db.commit()


def test_crm_settings_create_a_contact_for_each_lead_and_refuse_duplicates_by_default():
	assert frappe.db.get_single_value(CRM_SETTINGS, "auto_creation_of_contact") == 1
	assert frappe.db.get_single_value(CRM_SETTINGS, "allow_lead_duplication_based_on_emails") == 0
	source = frappe.get_meta(LEAD).get_field("source")
	assert (source.fieldtype, source.options) == ("Link", "Lead Source")
	assert lead_target.DO_NOT_CONTACT in frappe.get_meta(LEAD).get_field("status").options.split("\n")


def test_a_new_lead_gives_one_contact_linked_to_its_cc_contact_and_one_push():
	w = make_world()
	email = addr("autocontact")
	lead = w.site.add_lead(email, first_name="Auto", last_name="Contact", company_name="Acme")
	made = one_contact(w, email)
	assert _links(made) == [(LEAD, lead)]
	assert not made.unsubscribed
	with w.emu.mocked():
		w.run()
		w.clock.advance(900)
		again = w.run()
	in_cc = w.emu.find_by_email(email)
	assert in_cc is not None and w.list_id in in_cc["list_memberships"]
	contact = one_contact(w, email)
	assert contact.name == made.name
	assert contact.cc_contact_id == in_cc["contact_id"] == w.site.lead(lead).cc_contact_id
	assert _links(contact) == [(LEAD, lead)]
	assert not contact.unsubscribed and _optout_rows(email) == []
	assert w.site.lead(lead).cc_push_status == "Pushed"
	assert again.streams["push"].pushed == 0
	assert len(w.emu.imported_rows(email)) == 1


def test_a_lead_refused_as_a_duplicate_leaves_nothing_half_written():
	w = make_world()
	email = addr("dup")
	first = w.site.add_lead(email, first_name="First")
	contacts_before = {c.name for c in w.site.contacts(email)}
	frappe.db.savepoint("dup")
	with pytest.raises(frappe.DuplicateEntryError):
		frappe.get_doc(
			{"doctype": LEAD, "first_name": "Second", "email_id": email, "status": lead_target.DO_NOT_CONTACT}
		).insert(ignore_permissions=True)
	frappe.db.rollback(save_point="dup")
	frappe.db.commit()
	assert frappe.get_all(LEAD, filters={"email_id": email}, pluck="name") == [first]
	assert {c.name for c in w.site.contacts(email)} == contacts_before
	assert _optout_rows(email) == [] and w.store.pending_optouts() == []
	with w.emu.mocked():
		w.run()
	assert w.emu.find_by_email(email)["email_address"]["permission_to_send"] != "unsubscribed"
	assert len(w.emu.imported_rows(email)) == 1


def test_duplicate_leads_are_accepted_when_crm_settings_allow_them(crm_settings):
	w = make_world()
	email = addr("dupok")
	frappe.db.set_single_value(CRM_SETTINGS, "allow_lead_duplication_based_on_emails", 1)
	frappe.db.commit()
	w.site.add_lead(email, first_name="One")
	w.site.add_lead(email, first_name="Two")
	assert len(frappe.get_all(LEAD, filters={"email_id": email})) == 2


def test_without_auto_creation_a_lead_makes_no_contact(crm_settings):
	w = make_world()
	email = addr("nocontact")
	frappe.db.set_single_value(CRM_SETTINGS, "auto_creation_of_contact", 0)
	frappe.db.commit()
	w.site.add_lead(email, first_name="No")
	assert w.site.contacts(email) == []


def test_an_invalid_address_fails_the_leads_validation():
	w = make_world()
	with pytest.raises(frappe.InvalidEmailAddressError):
		frappe.get_doc({"doctype": LEAD, "first_name": "Bad", "email_id": "tier2 not-an-address"}).insert(
			ignore_permissions=True
		)
	frappe.db.rollback()
	assert frappe.get_all(LEAD, filters={"email_id": "tier2 not-an-address"}) == []
	assert w.store.pending_optouts() == []


def test_a_deleted_lead_keeps_its_optout_on_record_and_deletes_nothing_in_cc():
	"""CC's opt-out of a pushed Lead's address reached the Lead and its Contact; deleting the Lead deletes
	that Contact (ERPNext's on_trash). A Lead created again for the address is never pushed."""
	w = make_world()
	email = addr("deleted")
	lead = w.site.add_lead(email, first_name="Gone")
	with w.emu.mocked():
		w.run()
		cc_id = w.emu.find_by_email(email)["contact_id"]
		w.clock.advance(60)
		w.emu.unsubscribe(cc_id)
		w.clock.advance(60)
		w.run()
	assert one_contact(w, email).unsubscribed == 1
	frappe.delete_doc(LEAD, lead, ignore_permissions=True)
	frappe.db.commit()
	assert w.site.contacts(email) == []  # ERPNext deleted the Lead's Contact with it
	assert [r.status for r in _optout_rows(email)] == ["Done"]
	again = w.site.add_lead(email, first_name="Back")
	w.clock.advance(900)
	with w.emu.mocked():
		w.run()
		w.run(STREAM_OPTOUT_PUSH)
	assert w.site.lead(again).cc_push_status == "Skipped"
	assert len(w.emu.imported_rows(email)) == 1
	in_cc = w.emu.get(cc_id)
	assert in_cc is not None and in_cc["email_address"]["permission_to_send"] == "unsubscribed"
	assert w.emu.calls_to(f"/v3/contacts/{cc_id}", method="DELETE") == 0


def test_a_deleted_contact_holding_a_cc_optout_keeps_it_on_record():
	w = make_world()
	email = addr("contactgone")
	cc_id = w.emu.add_contact(email, list_ids=[w.list_id])
	w.emu.unsubscribe(cc_id)
	with w.emu.mocked():
		w.run()
	contact = one_contact(w, email)
	assert contact.unsubscribed == 1
	frappe.delete_doc(CONTACT, contact.name, ignore_permissions=True)
	frappe.db.commit()
	assert w.store.consent_state([email])[email].never_push


def test_do_not_contact_is_never_pushed_and_reaches_cc_as_an_optout():
	w = make_world()
	email, fresh = addr("dnc"), addr("dncnew")
	lead = w.site.add_lead(email, first_name="Dee")
	with w.emu.mocked():
		w.run()
	cc_id = w.emu.find_by_email(email)["contact_id"]
	w.site.edit_lead(lead, status=lead_target.DO_NOT_CONTACT)
	assert w.site.lead(lead).unsubscribed == 1
	[row] = _optout_rows(email)
	assert row.status == "Pending" and "Do Not Contact" in row.reason
	never = w.site.add_lead(fresh, first_name="Never", status=lead_target.DO_NOT_CONTACT)
	w.clock.advance(900)
	with w.emu.mocked():
		w.run(STREAM_OPTOUT_PUSH)
		w.run()
	assert w.emu.get(cc_id)["email_address"]["permission_to_send"] == "unsubscribed"
	assert w.emu.find_by_email(fresh) is None
	assert w.site.lead(never).cc_push_status != "Pushed"
	assert len(w.emu.imported_rows(email)) == 1


def test_do_not_contact_is_only_kept_from_the_push_when_the_settings_say_it_is_no_optout():
	w = make_world()
	email = addr("dncoff")
	frappe.db.set_single_value(SETTINGS, lead_target.SETTING_DO_NOT_CONTACT, 0)
	frappe.db.commit()
	try:
		lead = w.site.add_lead(email, first_name="Dora", status=lead_target.DO_NOT_CONTACT)
		with w.emu.mocked():
			w.run()
		assert w.site.lead(lead).unsubscribed == 0
		assert _optout_rows(email) == []
		assert w.emu.find_by_email(email) is None
		assert not w.store.consent_state([email])[email].never_push
	finally:
		frappe.db.set_single_value(SETTINGS, lead_target.SETTING_DO_NOT_CONTACT, 1)
		frappe.db.commit()
