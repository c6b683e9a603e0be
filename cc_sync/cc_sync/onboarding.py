"""The guided setup ticks its own steps: each is complete when the state it asks for exists, however
it was reached (the settings form, the OAuth return, a dry run started from the shell)."""

from __future__ import annotations

import frappe
from frappe.utils import cint

from cc_sync.cc_sync.constants import CONNECTION_CONNECTED, SETTINGS, SYNC_LOG
from cc_sync.cc_sync.settings import all_stored_values

ONBOARDING = "Constant Contact"


def step_states() -> dict[str, bool]:
	v = all_stored_values()
	has_secret = bool(
		frappe.db.exists("__Auth", {"doctype": SETTINGS, "name": SETTINGS, "fieldname": "client_secret"})
	)
	return {
		"CC Create Application": bool(v.get("client_id")),
		"CC Enter Keys": bool(v.get("client_id")) and has_secret,
		"CC Connect": v.get("connection_status") == CONNECTION_CONNECTED,
		"CC Map Lists": bool(frappe.db.count("Constant Contact List Mapping", {"parent": SETTINGS})),
		"CC Dry Run": bool(frappe.db.exists(SYNC_LOG, {"dry_run": 1})),
		"CC Enable": bool(cint(v.get("enabled"))),
	}


def tick_steps(*, commit: bool = False) -> None:
	"""Mark the steps whose state now exists (never un-ticks one a person finished). `commit` is for
	callers in a read request (a form load), whose transaction is not committed for them."""
	if not frappe.db.exists("Module Onboarding", ONBOARDING):
		return
	ticked = False
	for step, done in step_states().items():
		if done and frappe.db.get_value("Onboarding Step", step, "is_complete") == 0:
			frappe.db.set_value("Onboarding Step", step, "is_complete", 1, update_modified=False)
			ticked = True
	if ticked and commit:
		frappe.db.commit()
