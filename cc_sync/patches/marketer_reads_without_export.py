"""The Constant Contact User role's reads of Contact and Lead, as first granted, also allowed Export (the
default of Frappe's permission rule): a marketer could download every person's address. The rule keeps
read and loses export, report, print and email; each DocType is remembered as granted, so a rule a System
Manager takes away later is never granted again."""

import frappe

from cc_sync.cc_sync.desk_setup import MARKETER_READS, MARKETER_ROLE, granted_key


def execute() -> None:
	for doctype in MARKETER_READS:
		rule = {"parent": doctype, "role": MARKETER_ROLE, "permlevel": 0}
		if not frappe.db.exists("Custom DocPerm", rule):
			continue
		frappe.db.set_value("Custom DocPerm", rule, {"export": 0, "report": 0, "print": 0, "email": 0})
		frappe.db.set_default(granted_key(doctype), "1")
		frappe.clear_cache(doctype=doctype)
