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
	"""Show the connection, each stream's last run and watermark, and today's API calls."""
	import frappe

	from cc_sync.cc_sync.constants import JOB_PREFIX, SYNC_LOG, WATERMARK_FIELD
	from cc_sync.cc_sync.settings import SCHEDULE, get_settings

	site = get_site(context)
	frappe.init(site=site)
	frappe.connect()
	try:
		from frappe.utils.background_jobs import is_job_enqueued

		s = get_settings()
		click.echo(f"Site:          {site}")
		click.echo(f"Enabled:       {'yes' if s.enabled else 'no'}")
		click.echo(
			f"Connection:    {s.connection_status}"
			+ (f" ({s.connected_account})" if s.connected_account else "")
		)
		if s.last_error:
			click.echo(f"Last error:    {s.last_error}")
		click.echo(f"Token expires: {s.token_expires_at or '-'}")
		click.echo(f"API calls:     {s.api_calls_today or 0} on {s.api_calls_day or '-'} (UTC), of 10,000")
		click.echo("")
		click.echo(f"{'stream':<11} {'every':>9}  {'last run':<20} {'status':<9} {'watermark':<20} queued")
		for stream, job in SCHEDULE.items():
			minutes = (s.get(job.interval) or 0) * job.minutes_per_unit
			every = f"{minutes} min" if minutes else "off"
			queued = "yes" if is_job_enqueued(f"{JOB_PREFIX}{stream}") else ""
			click.echo(
				f"{stream:<11} {every:>9}  {s.get(job.last_run) or '-'!s:<20} "
				f"{s.get(job.last_status) or '-':<9} {s.get(WATERMARK_FIELD[stream]) or '-'!s:<20} {queued}"
			)
		failed = frappe.db.count(SYNC_LOG, {"status": ["in", [LogStatus.FAILED, LogStatus.PARTIAL]]})
		click.echo("")
		click.echo(f"Last log:      {s.last_sync_log or '-'}; failed or partial logs kept: {failed}")
	finally:
		frappe.destroy()


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
		lines.append(f"  {len(log.plan_rows)} planned changes: see the log's table (or download it as CSV)")
	return "\n".join(lines)


def stream_failed(log) -> bool:
	"""The shell's exit status: non-zero when the run or any of its streams failed."""
	return log.status == LogStatus.FAILED or any(row.status == LogStatus.FAILED for row in log.streams)


commands = [cc_sync_group]
