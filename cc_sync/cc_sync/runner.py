"""Runs the sync engine on this site: one Sync Log per run, the site's run lock, and the settings' status.

The engine is built from the settings by `wiring`. Every run leaves logs, including a run that could not
start, and every run ends in `end_run`, so a broken connection is shown on the settings page and the
day's API calls are saved whatever happened.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from redis.exceptions import LockError

import frappe
from frappe import _

from cc_sync.cc_sync.alerts import note_run
from cc_sync.cc_sync.constants import (
	CONNECTION_CONNECTED,
	CONNECTION_ERROR,
	JOB_TIMEOUT,
	SETTINGS_OPTOUT_CHECK,
	STATUS_LABELS,
	TRIGGER_SCHEDULER,
	WORKED,
	LogStatus,
)
from cc_sync.cc_sync.progress import Progress
from cc_sync.cc_sync.settings import (
	JOB_STREAMS,
	SCHEDULE,
	get_settings,
	mark_connection_broken,
	needs_attention,
	stored_values,
	update_settings,
)
from cc_sync.cc_sync.sync_log import finish_log, new_log, write_report
from cc_sync.cc_sync.wiring import WatchedClient, Wiring, build, save_budget
from cc_sync.constant_contact.errors import AuthError
from cc_sync.sync.report import RunReport, StreamStatus
from cc_sync.sync.streams import STREAM_OPTOUT_SCAN, STREAM_OPTOUTS

# The log functions are used from here by the desk API too; the wiring is named here for the tests
# that stand in for it.
__all__ = ["WatchedClient", "Wiring", "build", "finish_log", "new_log", "save_budget", "write_report"]

RUN_LOCK_KEY = "cc_sync:run"
# How long a job waits for another run of this site to finish before it gives its turn away.
RUN_LOCK_WAIT_SECONDS = 120


def save_optout_check(report: RunReport) -> None:
	"""Show on the settings page what the opt-out stream concluded about CC's optout_after (first line)
	and what the last safety scan found (second line)."""
	lines = (stored_values((SETTINGS_OPTOUT_CHECK,)).get(SETTINGS_OPTOUT_CHECK) or "").split("\n")
	lines = [*lines, "", ""][:2]
	for index, name in enumerate((STREAM_OPTOUTS, STREAM_OPTOUT_SCAN)):
		stream = report.streams.get(name)
		if stream is not None and stream.notice:
			lines[index] = stream.notice
	text = "\n".join(line for line in lines if line)
	if text:
		update_settings({SETTINGS_OPTOUT_CHECK: text})


# ---------------------------------------------------------------- runs


@dataclass
class RunResult:
	status: str
	logs: list[str] = field(default_factory=list)
	report: RunReport | None = None
	error: str | None = None

	def as_dict(self) -> dict[str, Any]:
		return {"status": self.status, "logs": self.logs, "error": self.error}


def run_job(
	stream: str,
	trigger: str = TRIGGER_SCHEDULER,
	dry_run: bool = False,
) -> RunResult:
	"""Run one job (a scheduled stream, the opt-out push, or "all") and leave its logs.

	Never raises for a sync failure: the logs and the settings page carry it. Two runs of one site
	never overlap; a run that cannot get its turn within a couple of minutes is logged as Skipped and
	the scheduler offers it again at the next tick.
	"""
	if stream not in JOB_STREAMS:
		frappe.throw(_("Unknown stream {0}").format(stream))
	run_id = frappe.generate_hash(length=10)
	log = new_log(stream, trigger, dry_run=dry_run, run_id=run_id)
	# A scheduled job's turn is noted on the settings (a dry run is nobody's turn).
	job = SCHEDULE.get(stream) if not dry_run else None
	scheduled = job is not None
	if job is not None:
		update_settings({job.last_run: log.started, job.last_status: LogStatus.RUNNING})
	frappe.db.commit()

	with site_run_lock(RUN_LOCK_WAIT_SECONDS) as held:
		if held:
			return _run_locked(log, stream, dry_run, scheduled)
	finish_log(log, status=LogStatus.SKIPPED, error=_("Another sync run of this site was still busy."))
	if job is not None:
		# Not run: the scheduler offers it again at its next tick.
		update_settings({job.last_run: None, job.last_status: LogStatus.SKIPPED})
	frappe.db.commit()
	return RunResult(LogStatus.SKIPPED, [log.name], error=log.error)


@contextmanager
def site_run_lock(wait_seconds: float) -> Iterator[bool]:
	"""Hold this site's sync run lock (shared by every worker and host) for the block; yields False
	when another run kept it for `wait_seconds`. Scheduled jobs and "Sync now" on a record take it."""
	lock = frappe.cache.lock(frappe.cache.make_key(RUN_LOCK_KEY), timeout=JOB_TIMEOUT + 60)
	held = lock.acquire(blocking_timeout=wait_seconds)
	try:
		yield held
	finally:
		if held:
			try:
				lock.release()
			except LockError:
				# It expired during a very long run; nothing else holds it by our token.
				pass


def _run_locked(log: Any, stream: str, dry_run: bool, scheduled: bool) -> RunResult:
	progress = Progress(stream, log.run_id, dry_run=dry_run)
	wiring: Wiring | None = None
	try:
		settings = get_settings()
		progress.push_doctype = settings.push_doctype or ""
		wiring = build(settings, progress.tick)
		wiring.engine.on_progress = progress.stream_progress
		progress.publish(_("Running"))
		report = wiring.engine.run(JOB_STREAMS[stream] or None, dry_run=dry_run)
	except Exception as exc:
		frappe.db.rollback()
		message = run_error(exc)
		finish_log(log, status=LogStatus.FAILED, error=message, tb=traceback.format_exc())
		auth_error = isinstance(exc, AuthError) or (wiring is not None and wiring.client.auth_error)
		_update_status(stream, LogStatus.FAILED, log.name, scheduled, auth_error=bool(auth_error))
		if not dry_run:
			note_run(LogStatus.FAILED, connection_broken=bool(auth_error), log_name=log.name, error=message)
		end_run(log, wiring, exc)
		progress.publish(_("Failed"), done=True, status=LogStatus.FAILED, log=log.name, error=message)
		return RunResult(LogStatus.FAILED, [log.name], error=message)

	# This run's own start: a quiet scheduled run is folded into the previous quiet log, which started
	# earlier, and a stream's last run taken from that log would make it due again at every tick.
	started = log.started
	log = write_report(log, report, stream)[0]
	status = STATUS_LABELS.get(report.status, LogStatus.FAILED)
	auth = wiring.client.auth_error
	_update_status(stream, status, log.name, scheduled, auth_error=bool(auth))
	if not dry_run:
		# Every scheduled stream that ran counts as that stream's turn, whoever started the run.
		ran = {
			name: STATUS_LABELS.get(s.status, LogStatus.FAILED)
			for name, s in report.streams.items()
			if name in SCHEDULE and s.status not in (StreamStatus.SKIPPED, StreamStatus.PENDING)
		}
		update_settings(
			{SCHEDULE[name].last_run: started for name in ran}
			| {SCHEDULE[name].last_status: v for name, v in ran.items()}
		)
	if not dry_run:
		save_optout_check(report)
		note_run(status, connection_broken=bool(auth), log_name=log.name, error=log.error)
	else:
		from cc_sync.cc_sync.onboarding import tick_steps

		tick_steps()
	end_run(log, wiring)
	progress.calls, progress.contacts = wiring.client.calls, wiring.client.contacts_read
	progress.publish(
		status,
		done=True,
		status=status,
		log=log.name,
		totals=report.totals(),
		error=log.error,
		push_message=progress.push_message(),
	)
	return RunResult(status, [log.name], report=report, error=report.stopped_by)


def run_error(exc: BaseException) -> str:
	"""What a log and the settings page say about an exception that ended a run."""
	if isinstance(exc, AuthError):
		return needs_attention(exc)
	return str(exc) if isinstance(exc, frappe.ValidationError) else f"{type(exc).__name__}: {exc}"


def end_run(log: Any, wiring: Wiring | None, exc: BaseException | None = None) -> None:
	"""The one way a run ends, whoever started it (the scheduler, a settings button, Sync now on a record,
	the shell), and whatever happened: an auth error marks the connection broken, the day's API calls
	are saved, a log still Running is closed as Failed, and all of it is committed."""
	auth = exc if isinstance(exc, AuthError) else (wiring.client.auth_error if wiring is not None else None)
	if auth:
		mark_connection_broken(auth)
	if wiring is not None:
		save_budget(wiring.client, wiring.budget)
	if log.status == LogStatus.RUNNING:
		error = run_error(exc) if exc is not None else _("The run ended without a result.")
		finish_log(
			log, status=LogStatus.FAILED, error=error, tb=traceback.format_exc() if exc is not None else None
		)
	frappe.db.commit()


def _update_status(
	stream: str,
	status: str,
	log_name: str,
	scheduled: bool,
	*,
	auth_error: bool,
) -> None:
	"""Which log the run left, the stream's last status, and the connection back to Connected when a run
	worked after it was marked broken."""
	values: dict[str, Any] = {"last_sync_log": log_name}
	if scheduled:
		values[SCHEDULE[stream].last_status] = status
	# A broken connection is marked by `end_run`; a run that worked clears an earlier mark.
	if not auth_error and status in WORKED:
		current = stored_values(("connection_status",)).get("connection_status")
		if current == CONNECTION_ERROR:
			values["connection_status"] = CONNECTION_CONNECTED
			values["last_error"] = None
	update_settings(values)
