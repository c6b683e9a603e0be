"""Logs written one per stream (before a run kept one log) get the shape of a run's log: a readable
name for what ran, and their counts, calls and watermarks as the log's one stream row."""

import frappe

from cc_sync.cc_sync.constants import STREAM_LABELS, SYNC_LOG
from cc_sync.sync.streams import COUNTERS


def execute() -> None:
	columns = set(frappe.db.get_table_columns(SYNC_LOG))
	raw = [s for s in STREAM_LABELS]
	old = frappe.db.sql(
		f"select * from `tab{SYNC_LOG}` where stream in %s or stream is null or stream = ''",
		(raw,),
		as_dict=True,
	)
	for row in old:
		log = frappe.get_doc(SYNC_LOG, row.name)
		label = STREAM_LABELS.get(row.stream or "")
		log.stream = label or "All streams"
		if label and not log.streams and log.status not in ("Queued", "Running"):
			log.append(
				"streams",
				{
					"stream": label,
					"status": log.status
					if log.status in ("Success", "Partial", "Failed", "Skipped")
					else None,
					**{c: row.get(c) or 0 for c in COUNTERS},
					"api_calls": row.api_calls or 0,
					"watermark_before": row.get("watermark_before")
					if "watermark_before" in columns
					else None,
					"watermark_after": row.get("watermark_after") if "watermark_after" in columns else None,
					"error": row.error,
				},
			)
		log.runs = log.runs or 1
		log.flags.ignore_links = True
		log.save(ignore_permissions=True)
