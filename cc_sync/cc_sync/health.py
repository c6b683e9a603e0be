"""Sync health in one line, with the one action that fixes the first thing wrong.

The workspace's status block and the settings page both show this; the checks run in the order a
person has to fix them (set up, connect, scheduler, worker, enable, map a list, last run), and only
the first problem is shown, so the line always says what to do next.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import frappe
from frappe import _
from frappe.utils import cint, get_datetime, now_datetime

from cc_sync.cc_sync.constants import (
	CONNECTION_CONNECTED,
	CONNECTION_ERROR,
	CONNECTION_NOT_CONNECTED,
	LIST,
	QUEUE,
	SETTINGS,
	SETTINGS_ROUTE,
	SYNC_LOG,
	WORKED,
	LogStatus,
)
from cc_sync.cc_sync.settings import all_stored_values

# The cron gate notes each tick here; a scheduler that is on but silent this long is reported.
GATE_TICK_KEY = "cc_sync:gate_tick"
GATE_SILENT_MINUTES = 15
# A sync job that started this recently proves a worker serves the queue; one waiting this long, that none does.
JOB_STARTED_KEY = "cc_sync:job_started"
WORKER_SILENT_MINUTES = 30
WORKER_WAIT_SECONDS = 120
LOG_ROUTE = "/app/constant-contact-sync-log"


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
	tick = frappe.cache.get_value(GATE_TICK_KEY, expires=True)
	if tick and (now_datetime() - get_datetime(tick)).total_seconds() > GATE_SILENT_MINUTES * 60:
		return _(
			"The site's scheduler has not run for {0} minutes: check that 'bench schedule' is running."
		).format(int((now_datetime() - get_datetime(tick)).total_seconds() // 60))
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


def _values() -> dict[str, Any]:
	return all_stored_values()


def deleted_mapped_lists() -> list[str]:
	"""Names of mapped CC lists that CC has deleted (as of the last list refresh)."""
	rows = frappe.db.sql(
		f"""select distinct coalesce(l.list_name, m.cc_list)
		from `tabConstant Contact List Mapping` m join `tab{LIST}` l on l.name = m.cc_list
		where m.parent = %s and m.enabled = 1 and l.deleted = 1""",
		SETTINGS,
	)
	return [r[0] for r in rows]


class Line(NamedTuple):
	"""One health line: its colour, what it says, and the action that fixes it."""

	level: str
	message: str
	label: str | None = None
	route: str | None = None
	detail: str | None = None


def health() -> dict[str, Any]:
	"""{level: green|orange|red, message, action: {label, route} or None, manager_only}.

	The first problem found, in the order a person would fix them: setup and connection, the site's
	scheduler and workers, the list mapping, the last run; a green line when there is none."""
	v = _values()
	line = _connection_line(v) or _machinery_line(v) or _mapping_line() or _last_run_line(v)
	return {
		"level": line.level,
		"message": line.message,
		"detail": line.detail,
		"action": {"label": line.label, "route": line.route} if line.label else None,
		"can_act": "System Manager" in frappe.get_roles(),
	}


def _connection_line(v: dict[str, Any]) -> Line | None:
	status = v.get("connection_status") or CONNECTION_NOT_CONNECTED
	if not v.get("client_id"):
		return Line(
			"orange",
			_("Constant Contact is not set up yet: follow the setup steps."),
			_("Open setup"),
			SETTINGS_ROUTE,
		)
	if status == CONNECTION_ERROR:
		return Line(
			"red",
			_("The connection to Constant Contact stopped working: press Reconnect and sign in again."),
			_("Reconnect"),
			SETTINGS_ROUTE,
			detail=v.get("last_error"),
		)
	if status != CONNECTION_CONNECTED:
		return Line("orange", _("Not connected to Constant Contact yet."), _("Connect"), SETTINGS_ROUTE)
	return None


def _machinery_line(v: dict[str, Any]) -> Line | None:
	problem = scheduler_problem()
	if problem:
		return Line("red", problem, _("Open System Settings"), "/app/system-settings")
	problem = worker_problem()
	if problem:
		return Line("red", problem)
	if not cint(v.get("enabled")):
		return Line(
			"orange",
			_("Connected, but scheduled sync is off: tick Enabled in the settings."),
			_("Turn on"),
			SETTINGS_ROUTE,
		)
	return None


def _mapping_line() -> Line | None:
	mapped = frappe.db.count("Constant Contact List Mapping", {"parent": SETTINGS, "enabled": 1})
	if not mapped:
		return Line(
			"orange",
			_("No Constant Contact list is mapped to an Email Group yet."),
			_("Map a list"),
			SETTINGS_ROUTE,
		)
	gone = deleted_mapped_lists()
	if gone:
		return Line(
			"red",
			_("A mapped list was deleted in Constant Contact: {0}. Map another list.").format(
				", ".join(gone)
			),
			_("Fix mapping"),
			SETTINGS_ROUTE,
		)
	return None


def _last_run_line(v: dict[str, Any]) -> Line:
	last = frappe.get_all(
		SYNC_LOG,
		filters={"dry_run": 0, "status": ["in", [*WORKED, LogStatus.FAILED]]},
		fields=["name", "status", "ended", "error"],
		order_by="creation desc",
		limit=1,
	)
	if last and last[0].status == LogStatus.FAILED:
		return Line(
			"red",
			_("The last sync run failed: {0}").format(((last[0].error or "").splitlines() or [""])[0][:200]),
			_("Open log"),
			f"{LOG_ROUTE}/{last[0].name}",
		)
	who = v.get("connected_account")
	when = (
		_("last run {0}").format(frappe.utils.pretty_date(last[0].ended))
		if last and last[0].ended
		else _("no run yet")
	)
	message = (
		_("In sync with Constant Contact as {0}; {1}.").format(who, when)
		if who
		else _("In sync with Constant Contact; {0}.").format(when)
	)
	if last and last[0].status == LogStatus.PARTIAL:
		return Line(
			"orange",
			message + " " + _("Some records were skipped or failed."),
			_("Open log"),
			f"{LOG_ROUTE}/{last[0].name}",
		)
	return Line("green", message, _("View logs"), LOG_ROUTE)


@frappe.whitelist()
def get_health() -> dict[str, Any]:
	"""For the workspace and the settings page: anyone who may read the sync logs may see this."""
	if not frappe.has_permission(SYNC_LOG, "read"):
		frappe.throw(_("Not permitted"), frappe.PermissionError)
	return health()
