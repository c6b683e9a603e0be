"""Installing the stand-in Lead on a site: never beside ERPNext, and in place of an older custom one."""

from __future__ import annotations

import frappe

LEAD = "Lead"


def before_install() -> bool | None:
	"""Decline where ERPNext provides Lead; drop a custom stand-in Lead DocType an older test run made."""
	if "erpnext" in frappe.get_installed_apps():
		print("cc_sync_testkit: ERPNext is installed, its Lead is used; nothing installed")
		return False
	if frappe.db.get_value("DocType", LEAD, "custom"):
		frappe.delete_doc("DocType", LEAD, force=True, ignore_permissions=True)
		frappe.db.sql_ddl(f"drop table if exists `tab{LEAD}`")
	return None
