"""Installing the stand-in Lead on a site: never beside ERPNext, and in place of an older custom one."""

from __future__ import annotations

import frappe

LEAD = "Lead"
LEAD_SOURCE = "Lead Source"
CRM_SETTINGS = "CRM Settings"
# ERPNext v15's Lead Sources (erpnext/setup/setup_wizard/operations/install_fixtures.py, install).
LEAD_SOURCES = (
	"Existing Customer",
	"Reference",
	"Advertisement",
	"Cold Calling",
	"Exhibition",
	"Supplier Reference",
	"Mass Mailing",
	"Customer's Vendor",
	"Campaign",
	"Walk In",
)


def before_install() -> bool | None:
	"""Decline where ERPNext provides Lead; drop a custom stand-in Lead DocType an older test run made."""
	if "erpnext" in frappe.get_installed_apps():
		print("cc_sync_testkit: ERPNext is installed, its Lead is used; nothing installed")
		return False
	if frappe.db.get_value("DocType", LEAD, "custom"):
		frappe.delete_doc("DocType", LEAD, force=True, ignore_permissions=True)
		frappe.db.sql_ddl(f"drop table if exists `tab{LEAD}`")
	return None


def after_install() -> None:
	"""What an ERPNext site holds from its setup: the Lead Sources, and CRM Settings stored with their
	defaults (contacts created from leads, duplicate addresses refused)."""
	if "erpnext" in frappe.get_installed_apps() or not frappe.db.table_exists(LEAD_SOURCE):
		return
	for source in LEAD_SOURCES:
		if not frappe.db.exists(LEAD_SOURCE, source):
			frappe.get_doc({"doctype": LEAD_SOURCE, "source_name": source}).insert(ignore_permissions=True)
	if not frappe.db.sql("select 1 from `tabSingles` where doctype = %s limit 1", CRM_SETTINGS):
		frappe.get_single(CRM_SETTINGS).save(ignore_permissions=True)
