"""What a marketer (the Constant Contact User role) sees on the desk: the workspace's numbers count the
site's contacts, not only the ones the marketer created; a user whose roles may not read what a card
counts is told so; the Constant Contact workspace heads the marketer's sidebar; and an opt-out names the
CC lists it concerns."""

from __future__ import annotations

import pytest

import frappe

from cc_sync.cc_sync import boot, dashboard
from cc_sync.cc_sync.constants import CONTACT, CONTACT_CC_ID, LIST, OPT_OUT
from tests.integration.app_helpers import drop_user, make_user

MARKETER = "tier2-desk-marketer@tier2.test"
NOBODY = "tier2-desk-nobody@tier2.test"
ROLE = "Constant Contact User"


@pytest.fixture
def people():
	make_user(MARKETER, (ROLE,))
	make_user(NOBODY)
	names = []
	for i in range(2):
		doc = frappe.get_doc(
			{
				"doctype": CONTACT,
				"first_name": f"Desk{i}",
				"email_ids": [{"email_id": f"desk-card{i}@tier2.test", "is_primary": 1}],
				CONTACT_CC_ID: f"tier2-desk-card-{i}",
			}
		).insert(ignore_permissions=True)
		names.append(doc.name)
	frappe.db.commit()
	yield
	frappe.set_user("Administrator")
	for name in names:
		frappe.delete_doc(CONTACT, name, force=True, ignore_permissions=True)
	drop_user(MARKETER)
	drop_user(NOBODY)
	frappe.db.commit()


def test_a_marketer_sees_the_sites_contact_numbers_not_only_their_own(people):
	everyone = dashboard.contacts_in_sync()["value"]
	assert everyone >= 2
	frappe.set_user(MARKETER)
	card = dashboard.contacts_in_sync()
	assert card["value"] == everyone and card["route"] == ["List", CONTACT]
	assert dashboard.subscribed()["value"] + dashboard.unsubscribed()["value"] == everyone
	# Read only: the role reads Contacts and writes none.
	assert frappe.has_permission(CONTACT, "read") and not frappe.has_permission(CONTACT, "write")


def test_a_user_whose_roles_read_only_their_own_contacts_is_told_so_not_shown_zero(people):
	# Frappe's "All" role reads the Contacts a user created, and no other.
	frappe.set_user(NOBODY)
	assert dashboard.contacts_in_sync() == "No read access to Contact"
	assert dashboard.not_in_cc() == "No read access to Contact"


def test_the_constant_contact_workspace_heads_a_marketers_sidebar_and_no_one_elses():
	from frappe.desk.desktop import get_workspace_sidebar_items

	hook = frappe.get_hooks("override_whitelisted_methods")["frappe.desk.desktop.get_workspace_sidebar_items"]
	assert hook == ["cc_sync.cc_sync.boot.workspace_sidebar_items"]
	frappe_order = [p["name"] for p in get_workspace_sidebar_items()["pages"]]
	assert [p["name"] for p in boot.workspace_sidebar_items()["pages"]] == frappe_order
	make_user(MARKETER, (ROLE,))
	try:
		frappe.set_user(MARKETER)
		pages = [p["name"] for p in boot.workspace_sidebar_items()["pages"]]
		assert pages[0] == "Constant Contact"
		assert sorted(pages) == sorted(p["name"] for p in get_workspace_sidebar_items()["pages"])
	finally:
		frappe.set_user("Administrator")
		drop_user(MARKETER)


def test_an_opt_out_names_the_cc_lists_it_takes_the_person_off():
	from frappe.desk.form.load import getdoc

	frappe.get_doc({"doctype": LIST, "list_id": "tier2-desk-news", "list_name": "Tier2 Desk News"}).insert(
		ignore_permissions=True
	)
	optout = frappe.get_doc(
		{
			"doctype": OPT_OUT,
			"email": "desk-leaver@tier2.test",
			"cc_lists": "tier2-desk-news\ntier2-desk-gone",
			"status": "Pending",
		}
	).insert(ignore_permissions=True)
	try:
		frappe.local.response = frappe._dict()
		getdoc(OPT_OUT, optout.name)
		[loaded] = frappe.response["docs"]
		# By name; a list the site never fetched by its id.
		assert loaded.as_dict()["cc_list_names"] == "Tier2 Desk News\ntier2-desk-gone"
		assert frappe.get_meta(OPT_OUT).get_field("cc_lists").hidden
	finally:
		frappe.delete_doc(OPT_OUT, optout.name, force=True, ignore_permissions=True)
		frappe.delete_doc(LIST, "tier2-desk-news", force=True, ignore_permissions=True)
		frappe.db.commit()


def test_the_marketer_role_reads_contacts_and_leads_but_may_not_export_them(people):
	frappe.set_user(MARKETER)
	for doctype in (CONTACT, "Lead"):
		assert frappe.has_permission(doctype, "read"), doctype
		assert not frappe.has_permission(doctype, "export"), doctype
		assert not frappe.has_permission(doctype, "write"), doctype


def test_a_read_a_system_manager_took_away_stays_away_when_another_app_is_installed(people):
	from cc_sync.cc_sync import install

	rule = {"parent": CONTACT, "role": ROLE, "permlevel": 0}
	kept = frappe.get_doc("Custom DocPerm", frappe.db.get_value("Custom DocPerm", rule)).as_dict()
	frappe.db.delete("Custom DocPerm", rule)
	frappe.clear_cache(doctype=CONTACT)
	try:
		install.after_app_install("another_app")
		assert not frappe.db.exists("Custom DocPerm", rule)
		frappe.set_user(MARKETER)
		assert dashboard.contacts_in_sync() == "No read access to Contact"
	finally:
		frappe.set_user("Administrator")
		frappe.get_doc({**kept, "doctype": "Custom DocPerm", "__islocal": 1}).db_insert()
		frappe.clear_cache(doctype=CONTACT)
		frappe.db.commit()
