"""Before the schema sync: a Sync Log's `summary` becomes a 140-character Data field ("What changed").
For a short while it was a text field holding a stream's notice (the opt-out self-check, what a
reconcile corrected), which can be longer; cut those so the column change does not fail. The notice
itself now lives on the log's stream rows."""

import frappe

from cc_sync.cc_sync.constants import SYNC_LOG


def execute() -> None:
	if not frappe.db.table_exists(SYNC_LOG) or not frappe.db.has_column(SYNC_LOG, "summary"):
		return
	frappe.db.sql(f"update `tab{SYNC_LOG}` set summary = left(summary, 140) where char_length(summary) > 140")
