"""Give sites installed before the opt-out safety scan and the export threshold their defaults.

A new field of a Single holds nothing on an existing site, and 0 would turn the daily scan off.
"""

import frappe

DEFAULTS = {"optout_scan_interval_hours": 24, "export_threshold": 5000}


def execute() -> None:
	for field, value in DEFAULTS.items():
		stored = frappe.db.sql(
			"select value from `tabSingles` where doctype=%s and field=%s",
			("Constant Contact Settings", field),
		)
		if not stored:
			frappe.db.set_single_value("Constant Contact Settings", field, value, update_modified=False)
