"""`bench --site SITE cc-sync status` and `bench --site SITE cc-sync sync [--stream NAME] [--dry-run]`."""

from __future__ import annotations

import click

from frappe.commands import get_site, pass_context

from cc_sync.cc_sync.constants import JOB_STREAMS, LogStatus
from cc_sync.sync.streams import JOB_ALL

# The jobs a desk button or the scheduler can run, and nothing else (the stream table's jobs).
STREAM_CHOICES = tuple(JOB_STREAMS)


@click.group("cc-sync")
def cc_sync_group() -> None:
	"""Constant Contact sync."""


@cc_sync_group.command("status")
@pass_context
def status(context) -> None:
	"""Show the connection, each stream's last run and watermark, the contacts and today's API calls."""
	import frappe

	site = get_site(context)
	frappe.init(site=site)
	frappe.connect()
	try:
		for line in status_lines(site):
			click.echo(line)
	finally:
		frappe.destroy()


def status_lines(site: str) -> list[str]:
	"""What `status` prints: a few facts, then one row per scheduled job in aligned columns."""
	import frappe
	from frappe.utils import get_datetime
	from frappe.utils.background_jobs import is_job_enqueued

	from cc_sync.cc_sync.constants import JOB_PREFIX, SYNC_LOG, WATERMARK_FIELD
	from cc_sync.cc_sync.dashboard import contact_numbers, contact_numbers_line
	from cc_sync.cc_sync.settings import SCHEDULE, get_settings

	def when(value) -> str:
		return get_datetime(value).strftime("%Y-%m-%d %H:%M:%S") if value else "-"

	s = get_settings()
	lines = [
		f"Site:          {site}",
		f"Enabled:       {'yes' if s.enabled else 'no'}",
		f"Connection:    {s.connection_status}"
		+ (f" ({s.connected_account})" if s.connected_account else ""),
	]
	if s.last_error:
		lines.append(f"Last error:    {s.last_error}")
	lines += [
		f"Token expires: {when(s.token_expires_at)}",
		f"API calls:     {s.api_calls_today or 0} on {s.api_calls_day or '-'} (UTC), of 10,000",
		f"Contacts:      {contact_numbers_line(contact_numbers())}",
		"",
	]
	rows = [("stream", "every", "last run", "status", "watermark", "queued")]
	for stream, job in SCHEDULE.items():
		minutes = (s.get(job.interval) or 0) * job.minutes_per_unit
		every = "off" if not minutes else f"{minutes // 60} h" if minutes % 60 == 0 else f"{minutes} min"
		rows.append(
			(
				stream,
				every,
				when(s.get(job.last_run)),
				s.get(job.last_status) or "-",
				when(s.get(WATERMARK_FIELD.get(stream))),
				"yes" if is_job_enqueued(f"{JOB_PREFIX}{stream}") else "",
			)
		)
	widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
	lines += [
		"  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
	]
	failed = frappe.db.count(SYNC_LOG, {"status": ["in", [LogStatus.FAILED, LogStatus.PARTIAL]]})
	lines += ["", f"Last log:      {s.last_sync_log or '-'}; failed or partial logs kept: {failed}"]
	return lines


@cc_sync_group.command("sync")
@click.option("--stream", type=click.Choice(STREAM_CHOICES), default=JOB_ALL, show_default=True)
@click.option("--dry-run", is_flag=True, help="Fetch and plan, write nothing on the site or in CC")
@click.option("--queue", "use_queue", is_flag=True, help="Enqueue on the long queue instead of running here")
@pass_context
def sync(context, stream: str, dry_run: bool, use_queue: bool) -> None:
	"""Run a sync now, in this shell (or on a worker with --queue), and print its logs."""
	import frappe

	from cc_sync.cc_sync.constants import SYNC_LOG, TRIGGER_SHELL
	from cc_sync.cc_sync.jobs import enqueue_stream
	from cc_sync.cc_sync.runner import run_job

	site = get_site(context)
	frappe.init(site=site)
	frappe.connect()
	try:
		if use_queue:
			queued = enqueue_stream(stream, TRIGGER_SHELL, dry_run=dry_run)
			frappe.db.commit()
			click.echo("queued" if queued else "already queued or running")
			return
		result = run_job(stream, TRIGGER_SHELL, dry_run=dry_run)
		log = frappe.get_doc(SYNC_LOG, result.logs[0])
		click.echo(format_log(log))
		if stream_failed(log):
			raise SystemExit(1)
	finally:
		frappe.destroy()


def format_log(log) -> str:
	"""A run's log as the shell shows it: the title, a row per stream, errors, the log's name."""
	lines = [f"{log.title}: {log.status}  ({log.api_calls or 0} API calls)  {log.name}"]
	if log.dry_run:
		lines.append("Dry run: nothing was written on the site or in Constant Contact.")
	width = max([len(row.stream or "") for row in log.streams] + [6])
	lines.append(f"  {'stream':<{width}}  {'status':<8} {'calls':>5}  what changed")
	for row in log.streams:
		lines.append(f"  {row.stream:<{width}}  {row.status:<8} {row.api_calls or 0:>5}  {row.summary or ''}")
	if log.error:
		lines += [f"  ! {line}" for line in log.error.splitlines()]
	if log.dry_run and log.plan_rows:
		total = log.plan_total or len(log.plan_rows)
		lines.append(f"  {total:,} planned changes: see the log's table (or download it as CSV)")
	return "\n".join(lines)


def stream_failed(log) -> bool:
	"""The shell's exit status: non-zero when the run or any of its streams failed."""
	return log.status == LogStatus.FAILED or any(row.status == LogStatus.FAILED for row in log.streams)


commands = [cc_sync_group]
