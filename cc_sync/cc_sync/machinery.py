"""Is the machinery that runs scheduled syncs alive: the site's scheduler, cc_sync's job in it, a worker.

Health asks these before it judges any stream, because a stream cannot run on time without them; the
cron gate and the sync job note here that they ran, which is the proof a check reads back.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import frappe
from frappe import _
from frappe.utils import get_datetime, now_datetime

from cc_sync.cc_sync.constants import QUEUE

# The cron gate notes each tick here; a scheduler that is on but silent this long is reported.
GATE_TICK_KEY = "cc_sync:gate_tick"
GATE_SILENT_MINUTES = 15
# A sync job that started this recently proves a worker serves the queue; one waiting this long, that none does.
JOB_STARTED_KEY = "cc_sync:job_started"
WORKER_SILENT_MINUTES = 30
WORKER_WAIT_SECONDS = 120
# The scheduler's job that runs the gate (hooks.py), and how often it runs.
GATE_METHOD = "cc_sync.tasks.enqueue_due_streams"
GATE_MINUTES = 5


def note_gate_tick() -> None:
	"""Called by the cron gate on every tick, whatever it then decides."""
	frappe.cache.set_value(GATE_TICK_KEY, now_datetime().isoformat(), expires_in_sec=7 * 24 * 3600)


def scheduler_problem() -> str | None:
	"""Why scheduled syncs would not start on this site, or None."""
	from frappe.utils.scheduler import is_scheduler_inactive

	if is_scheduler_inactive(verbose=False):
		return _(
			"The site's scheduler is off, so no scheduled sync runs. A System Manager can turn it on with "
			"'bench --site {0} scheduler enable' (or Enable Scheduler in System Settings)."
		).format(frappe.local.site)
	gate = gate_job_problem()
	if gate:
		return gate
	tick = frappe.cache.get_value(GATE_TICK_KEY, expires=True)
	if tick and (now_datetime() - get_datetime(tick)).total_seconds() > GATE_SILENT_MINUTES * 60:
		return _(
			"The site's scheduler has not run for {0} minutes: check that 'bench schedule' is running."
		).format(int((now_datetime() - get_datetime(tick)).total_seconds() // 60))
	return None


def gate_job() -> Any:
	"""Frappe's Scheduled Job Type that runs cc_sync's gate, or None before the first migrate."""
	name = frappe.db.get_value("Scheduled Job Type", {"method": GATE_METHOD})
	return frappe.get_doc("Scheduled Job Type", name) if name else None


def gate_job_problem() -> str | None:
	"""Why Frappe's scheduler would not start cc_sync's gate soon, though the scheduler itself is on.

	Frappe runs a job once the time after its last run (or, never run, after its creation) has come:
	a job written with a time ahead of the site's clock (the site's time zone moved west after install)
	waits that long, however often the scheduler ticks."""
	job = gate_job()
	if job is None:
		return None
	if job.stopped:
		return _("cc_sync's scheduled job is stopped in the site's scheduler, so no scheduled sync runs.")
	due = job.get_next_execution()
	if due - now_datetime() > timedelta(minutes=2 * GATE_MINUTES):
		return _(
			"The site's scheduler will not start the Constant Contact sync until {0}: its scheduled job "
			"carries a time ahead of the site's clock (the site's time zone was changed after install)."
		).format(frappe.utils.format_datetime(due))
	return None


def note_job_started() -> None:
	"""Called when a sync job starts on a worker: proof that the queue is served."""
	frappe.cache.set_value(JOB_STARTED_KEY, now_datetime().isoformat(), expires_in_sec=7 * 24 * 3600)


def worker_problem() -> str | None:
	"""None when a background worker serves the queue the sync runs on.

	A worker registered for the queue settles it. Without one, a sync job that started lately does too
	(RQ forgets a live worker's registration when Redis restarts under it); a job left waiting, or no
	job started for a long time, means nobody serves the queue.
	"""
	from redis.exceptions import RedisError

	from frappe.utils.background_jobs import get_queue, get_workers

	try:
		queue = get_queue(QUEUE)
		if get_workers(queue):
			return None
		waiting = _oldest_waiting_seconds(queue)
	except (RedisError, OSError):
		return _("The background job queue (Redis) cannot be reached, so no sync can run.")
	started = frappe.cache.get_value(JOB_STARTED_KEY, expires=True)
	recent = started and (now_datetime() - get_datetime(started)).total_seconds() < WORKER_SILENT_MINUTES * 60
	if recent and waiting < WORKER_WAIT_SECONDS:
		return None
	return _(
		"No background worker is running for the '{0}' queue, so queued syncs never start. "
		"Start one with 'bench worker --queue {0}' (bench start does this for you)."
	).format(QUEUE)


def _oldest_waiting_seconds(queue: Any) -> float:
	"""How long the oldest job of the queue has been waiting (0 when none waits)."""
	from datetime import timezone

	jobs = queue.get_jobs(0, 1)
	if not jobs or not jobs[0].enqueued_at:
		return 0.0
	enqueued = jobs[0].enqueued_at
	if enqueued.tzinfo is None:
		enqueued = enqueued.replace(tzinfo=timezone.utc)
	from datetime import datetime

	return (datetime.now(timezone.utc) - enqueued).total_seconds()
