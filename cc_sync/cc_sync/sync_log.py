"""One Sync Log per run, with a row per stream inside it (rule 5: every run leaves a record).

A run's log is inserted as Running before any work, so a run that dies still leaves a trace. When
it ends the whole report goes into that one log: totals, a row per stream (counts, calls,
watermarks, error), the per-record notes, and for a dry run the plan as readable rows. Scheduled
runs that changed nothing are folded into the previous log when that one was quiet too, so a quiet
day costs a handful of logs, not hundreds.
"""

from __future__ import annotations

from typing import Any

import frappe
from frappe import _
from frappe.utils import getdate, now_datetime

from cc_sync.cc_sync.constants import (
	JOB_ALL_LABEL,
	JOB_RECORD_LABEL,
	LIST,
	STATUS_LABELS,
	STREAM_LABELS,
	SYNC_LOG,
	TRIGGER_SCHEDULER,
	LogStatus,
)
from cc_sync.cc_sync.sitetime import to_site
from cc_sync.sync.report import RunReport, StreamReport, StreamStatus
from cc_sync.sync.streams import CHANGE_COUNTERS, JOB_ALL

# A log keeps this many per-record notes; the counts always hold the full totals.
MAX_LOG_ITEMS = 500
# A dry run's form shows its first planned changes (a form with thousands of rows takes many seconds to
# open); the CSV kept beside the log holds the plan up to MAX_PLAN_ENTRIES (about 5 MB, within Frappe's
# default 10 MB file size).
PLAN_ROWS_ON_FORM = 100
MAX_PLAN_ENTRIES = 50_000


def job_label(stream: str, reference: str | None = None) -> str:
	"""How a log names what ran: a stream's label, "All streams", or "One record"."""
	if reference:
		return JOB_RECORD_LABEL
	if stream == JOB_ALL:
		return JOB_ALL_LABEL
	return STREAM_LABELS.get(stream, stream)


def new_log(stream: str, trigger: str, *, dry_run: bool, run_id: str, reference: str | None = None) -> Any:
	"""A log in status Running, committed by the caller at once so a run that dies leaves a trace."""
	log = frappe.get_doc(
		{
			"doctype": SYNC_LOG,
			"stream": job_label(stream, reference),
			"status": LogStatus.RUNNING,
			"trigger": trigger,
			"dry_run": int(bool(dry_run)),
			"started": now_datetime(),
			"run_id": run_id,
			"reference": reference,
			"runs": 1,
		}
	)
	log.insert(ignore_permissions=True)
	return log


def finish_log(log: Any, *, status: str, error: str | None = None, tb: str | None = None) -> None:
	log.status = status
	log.error = error
	log.traceback = tb
	log.ended = now_datetime()
	log.save(ignore_permissions=True)


def write_report(log: Any, report: RunReport, main_stream: str | None = None) -> list[Any]:
	"""Put the run's report into its one log and save it; returns [the log that holds it].

	`main_stream` only orders the rows (the stream asked for first). A quiet scheduled run may end up
	counted in the previous quiet log instead, which is then the log returned.
	"""
	streams = list(report.streams.values())
	if not streams:
		finish_log(log, status=LogStatus.SKIPPED, error=_("Nothing to do."))
		return [log]
	streams.sort(key=lambda s: s.stream != main_stream)
	log.status = STATUS_LABELS.get(report.status, LogStatus.FAILED)
	for name, value in report.totals().items():
		log.set(name, value)
	log.api_calls = report.api_calls
	log.set("streams", [stream_row(s) for s in streams])
	log.error = run_errors(report, streams)
	log.traceback = "\n\n".join(s.traceback for s in streams if s.traceback) or None
	log.activity_ids = ", ".join(a for s in streams for a in s.activity_ids) or None
	log.notices = (
		"\n".join(f"{_(STREAM_LABELS.get(s.stream, s.stream))}: {s.notice}" for s in streams if s.notice)
		or None
	)
	fill_items(log, streams)
	if log.dry_run:
		fill_plan(log, streams)
	log.ended = now_datetime()
	if is_quiet(log):
		folded = fold_into_previous(log)
		if folded is not None:
			return [folded]
		log.quiet = 1
	log.save(ignore_permissions=True)
	return [log]


def stream_row(stream: StreamReport) -> dict[str, Any]:
	from cc_sync.cc_sync.doctype.constant_contact_sync_log.constant_contact_sync_log import summary_text

	counts = stream.counts()
	status = STATUS_LABELS.get(stream.status, LogStatus.FAILED)
	return {
		"stream": STREAM_LABELS.get(stream.stream, stream.stream),
		"status": status,
		"summary": (stream.error if status == LogStatus.SKIPPED and stream.error else summary_text(counts))[
			:140
		],
		**counts,
		"api_calls": stream.api_calls,
		"watermark_before": to_site(stream.watermark_before),
		"watermark_after": to_site(stream.watermark_after),
		"activity_ids": ", ".join(stream.activity_ids) or None,
		"notice": stream.notice,
		"error": stream.error,
		"retries": stream.retries_text(),
	}


def run_errors(report: RunReport, streams: list[StreamReport]) -> str | None:
	"""Each stream's error once, named by stream; what stopped the run is said once, not per stream."""
	lines = []
	for s in streams:
		if not s.error or (
			report.stopped_by and s.error == report.stopped_by and s.status == StreamStatus.SKIPPED
		):
			continue
		line = f"{_(STREAM_LABELS.get(s.stream, s.stream))}: {s.error}"
		if line not in lines:
			lines.append(line)
	if report.stopped_by and not any(report.stopped_by in line for line in lines):
		lines.append(report.stopped_by)
	return "\n".join(lines) or None


def fill_items(log: Any, streams: list[StreamReport]) -> None:
	notes = []
	for s in streams:
		notes += [("Error", n) for n in s.errors]
		notes += [("Skip", n) for n in s.skips]
		notes += [("Warning", n) for n in s.warnings]
	log.set("items", [])
	for kind, note in notes[:MAX_LOG_ITEMS]:
		# The email column is a 140-character Data field; an odd address from CC must not fail the log.
		email = note.email[:140] if note.email else None
		log.append("items", {"kind": kind, "email": email, "reason": note.reason, "record": note.key})
	if len(notes) > MAX_LOG_ITEMS:
		log.append(
			"items",
			{
				"kind": "Warning",
				"reason": _("{0} more records not listed").format(len(notes) - MAX_LOG_ITEMS),
			},
		)


def fill_plan(log: Any, streams: list[StreamReport]) -> None:
	"""The dry run's plan as rows: what would be done, to whom, and the details that matter. The form
	holds the first of them, the CSV beside the log every one (up to MAX_PLAN_ENTRIES)."""
	from cc_sync.cc_sync.doctype.constant_contact_sync_log.constant_contact_sync_log import plan_file_name

	lines = [(s.stream, line) for s in streams for line in s.plan]
	rows = [plan_row(stream, line) for stream, line in lines[:MAX_PLAN_ENTRIES]]
	log.plan_total = len(lines)
	log.set("plan_rows", rows[:PLAN_ROWS_ON_FORM])
	# Each stream's changes past the first ones, a row per stream ("Changes | 2,400 more").
	more: dict[str, int] = {}
	for stream, _line in lines[PLAN_ROWS_ON_FORM:]:
		more[stream] = more.get(stream, 0) + 1
	for stream, count in more.items():
		log.append(
			"plan_rows",
			{
				"stream": STREAM_LABELS.get(stream, stream),
				"action": _("{0} more").format(f"{count:,}"),
				"details": _("Download as CSV lists them"),
			},
		)
	if len(rows) <= PLAN_ROWS_ON_FORM:
		return
	content = plan_csv(rows, len(lines))
	frappe.get_doc(
		{
			"doctype": "File",
			"file_name": plan_file_name(log.name),
			"attached_to_doctype": SYNC_LOG,
			"attached_to_name": log.name,
			"is_private": 1,
			"content": content,
		}
	).insert(ignore_permissions=True)


def plan_csv(rows: list[dict[str, Any]], total: int) -> str:
	"""The planned changes as CSV, as many as the site's maximum file size holds (a File larger than
	that is refused, and with it the whole log), and a last row counting those not listed."""
	from frappe.core.api.file import get_max_file_size
	from frappe.utils.csvutils import to_csv

	from cc_sync.cc_sync.doctype.constant_contact_sync_log.constant_contact_sync_log import plan_header

	limit = get_max_file_size()
	listed = rows
	while True:
		table = [plan_header()]
		table += [[_(r["stream"] or ""), r["action"], r["email"], r["record"], r["details"]] for r in listed]
		if total > len(listed):
			table.append(["", _("{0} more not listed").format(f"{total - len(listed):,}"), "", "", ""])
		content = to_csv(table)
		size = len(content.encode())
		if size <= limit or not listed:
			return content
		listed = listed[: int(len(listed) * limit * 0.95 / size)]


ACTION_LABELS = {
	"create": "Create contact",
	"update": "Update contact",
	"unsubscribe in CC": "Unsubscribe in CC",
	"import": "Import into CC",
	"resolve interrupted import": "Resolve interrupted import",
	"finish import": "Finish import",
}


def list_names(list_ids: list[str]) -> list[str]:
	"""CC lists as a person knows them: by name (the id where the site has not fetched the list)."""
	if not list_ids:
		return []
	rows = frappe.get_all(LIST, filters={"name": ["in", list(list_ids)]}, fields=["name", "list_name"])
	names = {row.name: row.list_name for row in rows}
	return [names.get(i) or str(i) for i in list_ids]


def plan_row(stream: str, line: dict[str, Any]) -> dict[str, Any]:
	rest = dict(line)
	action = str(rest.pop("action", ""))
	email = rest.pop("email", None)
	record = rest.pop("contact", None) or rest.pop("activity", None)
	chunk = rest.pop("chunk", None)
	if record is None and chunk is not None:
		record = _("chunk {0}").format(chunk)
	details = []
	if rest.pop("unsubscribed", None) is not None:
		details.append(_("unsubscribe") if line["unsubscribed"] else _("resubscribe"))
	if rest.pop("push_optout", None):
		details.append(_("send the opt-out to CC"))
	if rest.pop("cc_deleted", None):
		details.append(_("mark as deleted in CC"))
	if "fields" in rest:
		details.append(_("fields: {0}").format(", ".join(map(str, rest.pop("fields")))))
	emails = list(rest.pop("emails", None) or ())
	if "contacts" in rest:
		count = int(rest.pop("contacts"))
		if count == 1 and len(emails) == 1 and not email:
			email = emails.pop()
		details.append(_("1 contact") if count == 1 else _("{0} contacts").format(f"{count:,}"))
		if emails:
			more = count - len(emails)
			named = ", ".join(emails)
			details.append(named if more <= 0 else _("{0} and {1} more").format(named, f"{more:,}"))
	if "list_ids" in rest:
		details.append(_("lists: {0}").format(", ".join(list_names(rest.pop("list_ids")))))
	details += [f"{key}: {value}" for key, value in sorted(rest.items())]
	return {
		"stream": STREAM_LABELS.get(stream, stream),
		"action": _(ACTION_LABELS.get(action, action)),
		"email": email,
		"record": str(record) if record is not None else None,
		"details": "; ".join(details) or None,
	}


# ---------------------------------------------------------------- quiet runs


def is_quiet(log: Any) -> bool:
	"""A scheduled, real run that succeeded and changed, skipped, flagged, retried and failed nothing. A
	stream it skipped for a standing reason (no list mapped for push) does not make it news each time."""
	return (
		not log.dry_run
		and log.trigger == TRIGGER_SCHEDULER
		and log.status == LogStatus.SUCCESS
		and all(
			row.status != LogStatus.FAILED
			and (row.status == LogStatus.SKIPPED or not row.error)
			and not row.get("retries")
			for row in log.streams
		)
		and not log.items
		and not log.activity_ids
		and not any(log.get(c) for c in CHANGE_COUNTERS)
	)


def fold_into_previous(log: Any) -> Any | None:
	"""Count this quiet run in the latest log when that is a quiet log of the same day (with the same
	standing note, if any), and drop this run's own log. Runs of a site never overlap (the run lock),
	so nothing else writes meanwhile."""
	from cc_sync.cc_sync.doctype.constant_contact_sync_log.constant_contact_sync_log import summary_text

	latest = frappe.get_all(
		SYNC_LOG,
		filters={"name": ["!=", log.name]},
		fields=["name", "quiet", "started", "error"],
		order_by="creation desc",
		limit=1,
	)
	if not latest or not latest[0].quiet or getdate(latest[0].started) != getdate(log.started):
		return None
	if (latest[0].error or None) != (log.error or None):
		return None
	summary = frappe.get_doc(SYNC_LOG, latest[0].name)
	summary.runs = (summary.runs or 1) + 1
	summary.ended = log.ended
	summary.api_calls = (summary.api_calls or 0) + (log.api_calls or 0)
	for name in ("fetched", "unchanged"):
		summary.set(name, (summary.get(name) or 0) + (log.get(name) or 0))
	rows = {row.stream: row for row in summary.streams}
	for new in log.streams:
		row = rows.get(new.stream)
		if row is None:
			summary.append("streams", new.as_dict(no_default_fields=True))
			continue
		for name in ("fetched", "unchanged", "api_calls"):
			row.set(name, (row.get(name) or 0) + (new.get(name) or 0))
		row.watermark_after = new.watermark_after or row.watermark_after
		row.notice = new.notice or row.notice
		row.summary = summary_text(row.as_dict())[:140]
	summary.notices = log.notices or summary.notices
	if summary.stream != log.stream:
		summary.stream = JOB_ALL_LABEL
	summary.save(ignore_permissions=True)
	frappe.delete_doc(SYNC_LOG, log.name, ignore_permissions=True, force=True, delete_permanently=True)
	return summary
