"""What the desk's scripts know of the sync, handed to them at login (`frappe.boot.cc_sync`).

The stream table (`cc_sync.sync.streams`) is the one place the jobs, their settings fields and the
counts are declared; the settings form, the sync log list and "Sync now" on a record read them from
here, in the user's language, rather than keep copies of their own.
"""

from __future__ import annotations

from typing import Any

import frappe
from frappe import _

from cc_sync.sync.streams import COUNTS, JOBS, STREAMS


def desk_tables() -> dict[str, Any]:
	"""The jobs (menus, schedule line), the streams' labels and the counts' phrases, translated."""
	return {
		"jobs": [
			{
				"name": j.name,
				"label": _(j.label),
				"offered": j.offered,
				"scheduled": j.scheduled,
				"interval_field": j.interval_field if j.scheduled else None,
				"minutes_per_unit": j.minutes_per_unit,
				"last_run_field": j.last_run_field if j.scheduled else None,
				"last_status_field": j.last_status_field if j.scheduled else None,
			}
			for j in JOBS
		],
		"streams": {s.name: _(s.label) for s in STREAMS},
		"counts": [{"name": c.name, "phrase": _(c.phrase), "change": c.change} for c in COUNTS],
	}


# A marketer's role, and the workspace it works in.
MARKETER_ROLE = "Constant Contact User"
WORKSPACE = "Constant Contact"


def is_marketer() -> bool:
	"""A user who works in the Constant Contact workspace rather than administers the site."""
	roles = set(frappe.get_roles())
	return MARKETER_ROLE in roles and "System Manager" not in roles


def boot_session(bootinfo: Any) -> None:
	bootinfo.cc_sync = desk_tables()
	if not is_marketer():
		return
	# A marketer who has chosen no workspace of their own lands on Constant Contact, not on the first
	# workspace Frappe happens to list for them (Users).
	user = bootinfo.get("user") or {}
	if not user.get("default_workspace"):
		user["default_workspace"] = {"name": WORKSPACE, "public": 1, "title": WORKSPACE}
	if bootinfo.get("allowed_workspaces"):
		bootinfo.allowed_workspaces = workspace_first(bootinfo.allowed_workspaces)


def workspace_first(pages: list[Any]) -> list[Any]:
	"""The Constant Contact workspace first, the others in Frappe's order."""
	return sorted(pages, key=lambda page: page.get("name") != WORKSPACE)


@frappe.whitelist()
def workspace_sidebar_items() -> dict[str, Any]:
	"""Frappe's desk sidebar (hooks.py puts this in place of `get_workspace_sidebar_items`), with the
	Constant Contact workspace at the top for a marketer, above the workspaces Frappe lists first (Users,
	Website); everyone else's sidebar is Frappe's own."""
	from frappe.desk.desktop import get_workspace_sidebar_items

	items = get_workspace_sidebar_items()
	if is_marketer():
		items["pages"] = workspace_first(items.get("pages") or [])
	return items
