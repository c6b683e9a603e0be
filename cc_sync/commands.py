"""`bench --site SITE cc-sync status` and `bench --site SITE cc-sync sync [--stream NAME] [--dry-run]`."""

from __future__ import annotations

import click

from frappe.commands import get_site, pass_context

STREAM_CHOICES = ("all", "optouts", "changes", "deletes", "reconcile", "optout_scan", "push", "optout_push")


@click.group("cc-sync")
def cc_sync_group() -> None:
	"""Constant Contact sync."""


@cc_sync_group.command("status")
@pass_context
def status(context) -> None:
	"""Show the connection, each stream's last run and watermark, and today's API calls."""
	import frappe

	from cc_sync.cc_sync.constants import JOB_PREFIX, SYNC_LOG
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
		for stream, (field, unit) in SCHEDULE.items():
			minutes = (s.get(field) or 0) * unit
			every = f"{minutes} min" if minutes else "off"
			queued = "yes" if is_job_enqueued(f"{JOB_PREFIX}{stream}") else ""
			click.echo(
				f"{stream:<11} {every:>9}  {s.get(f'last_{stream}_run') or '-'!s:<20} "
				f"{s.get(f'last_{stream}_status') or '-':<9} {s.get(f'{stream}_watermark') or '-'!s:<20} {queued}"
			)
		failed = frappe.db.count(SYNC_LOG, {"status": ["in", ["Failed", "Partial"]]})
		click.echo("")
		click.echo(f"Last log:      {s.last_sync_log or '-'}; failed or partial logs kept: {failed}")
	finally:
		frappe.destroy()


@cc_sync_group.command("sync")
@click.option("--stream", type=click.Choice(STREAM_CHOICES), default="all", show_default=True)
@click.option("--dry-run", is_flag=True, help="Fetch and plan, write nothing on the site or in CC")
@click.option("--queue", "use_queue", is_flag=True, help="Enqueue on the long queue instead of running here")
@pass_context
def sync(context, stream: str, dry_run: bool, use_queue: bool) -> None:
	"""Run a sync now, in this shell (or on a worker with --queue), and print its logs."""
	import frappe

	from cc_sync.cc_sync.constants import SYNC_LOG, TRIGGER_SHELL
	from cc_sync.cc_sync.runner import run_job
	from cc_sync.tasks import enqueue_stream

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
		for name in result.logs:
			log = frappe.get_doc(SYNC_LOG, name)
			counts = ", ".join(log.moved_counts())
			click.echo(
				f"{name}  {log.stream or '-':<11} {log.status:<8} {log.api_calls or 0:>4} calls  {counts}"
			)
			if log.error:
				click.echo(f"    {log.error}")
		click.echo(f"Run status: {result.status}")
		if result.status == "Failed":
			raise SystemExit(1)
	finally:
		frappe.destroy()


commands = [cc_sync_group]
