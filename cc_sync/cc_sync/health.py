"""Sync health in one line, with the one action that fixes the first thing wrong.

The workspace's status block and the settings page both show this; the checks run in the order a
person has to fix them (set up, connect, a client secret not proven yet, the scheduler and cc_sync's
job in it, the worker, enable, map a list, each scheduled stream against its interval, last run), and
only the first problem is shown, so the line always says what to do next.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any, NamedTuple

import frappe
from frappe import _
from frappe.utils import cint, get_datetime, now_datetime

from cc_sync.cc_sync.constants import (
	CONNECTION_CONNECTED,
	CONNECTION_ERROR,
	CONNECTION_NOT_CONNECTED,
	LIST,
	SETTINGS,
	SETTINGS_ROUTE,
	SETTINGS_SYNC_STATE,
	SYNC_LOG,
	WORKED,
	LogStatus,
)
from cc_sync.cc_sync.machinery import GATE_MINUTES, gate_job, scheduler_problem, worker_problem
from cc_sync.cc_sync.settings import all_stored_values
from cc_sync.sync.config import SyncConfig
from cc_sync.sync.optouts import STATE as OPTOUT_STATE
from cc_sync.sync.streams import SCHEDULED_JOBS

LOG_ROUTE = "/app/constant-contact-sync-log"
# A stream is overdue when this many of its intervals (and one gate tick) pass without a run.
OVERDUE_INTERVALS = 2


@frappe.whitelist(methods=["POST"])
def restart_schedule() -> dict[str, Any]:
	"""Start cc_sync's scheduled job again from now: unstopped, due at the next tick, and run once."""
	frappe.only_for("System Manager")
	job = gate_job()
	if job is None:
		frappe.throw(
			_("The scheduled job is missing: run 'bench --site {0} migrate'.").format(frappe.local.site)
		)
	job.db_set({"stopped": 0, "last_execution": now_datetime()}, update_modified=False)
	job.enqueue(force=True)
	return health()


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
	# A whitelisted POST method that fixes it at once, in place of a page to go to.
	method: str | None = None


def health() -> dict[str, Any]:
	"""{level: green|orange|red, message, action: {label, route} or None, manager_only}.

	The first problem found, in the order a person would fix them: setup and connection, the site's
	scheduler and workers, the list mapping, the last run; a green line when there is none."""
	v = _values()
	line = (
		_connection_line(v)
		or _machinery_line(v)
		or _mapping_line()
		or _streams_line(v)
		or _optout_filter_line(v)
		or _last_run_line(v)
	)
	return {
		"level": line.level,
		"message": line.message,
		"detail": line.detail,
		"action": {"label": line.label, "route": line.route, "method": line.method} if line.label else None,
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
	if cint(v.get("client_secret_unproven")):
		return Line(
			"orange",
			_(
				"Connection at risk: the client secret was changed and Constant Contact has not accepted "
				"the new one yet. The sync goes on with the previous one until it does."
			),
			_("Test connection"),
			method="cc_sync.cc_sync.api.test_connection",
			detail=_(
				"Test connection tries the new secret: if CC accepts it, it is used from then on; if not, "
				"the one that works is kept."
			),
		)
	return None


def _machinery_line(v: dict[str, Any]) -> Line | None:
	problem = scheduler_problem()
	if problem and frappe.utils.scheduler.is_scheduler_inactive(verbose=False):
		return Line("red", problem, _("Open System Settings"), "/app/system-settings")
	if problem:
		return Line(
			"red",
			problem,
			_("Start the schedule"),
			method="cc_sync.cc_sync.health.restart_schedule",
			detail=_("Starts cc_sync's scheduled job now; from then on it runs every {0} minutes.").format(
				GATE_MINUTES
			),
		)
	problem = worker_problem()
	if problem:
		return Line("red", problem, _("Open System Health Report"), "/app/system-health-report")
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


def _every(minutes: int) -> str:
	if minutes % 60 == 0:
		hours = minutes // 60
		return _("every hour") if hours == 1 else _("every {0} hours").format(hours)
	return _("every {0} minutes").format(minutes)


def overdue_jobs(v: dict[str, Any]) -> list[tuple[str, str]]:
	"""Each scheduled job that has not run for two of its intervals, or never since sync was turned
	on, with what the health line says of it: the scheduler and a worker may both look alive while a
	stream's runs never happen."""
	now = now_datetime()
	since = get_datetime(v.get("enabled_since")) if v.get("enabled_since") else None
	late_jobs = []
	for job in SCHEDULED_JOBS:
		minutes = cint(v.get(job.interval_field)) * job.minutes_per_unit
		if minutes <= 0:
			continue
		late = timedelta(minutes=OVERDUE_INTERVALS * minutes + GATE_MINUTES)
		last = get_datetime(v.get(job.last_run_field)) if v.get(job.last_run_field) else None
		if last is None and since and now - since > late:
			late_jobs.append(
				(
					job.name,
					_("{0} has never run since scheduled sync was turned on {1}; it should run {2}.").format(
						_(job.label), frappe.utils.pretty_date(since), _every(minutes)
					),
				)
			)
		elif last is not None and now - last > late:
			late_jobs.append(
				(
					job.name,
					_("{0} is overdue: it last ran {1} and should run {2}.").format(
						_(job.label), frappe.utils.pretty_date(last), _every(minutes)
					),
				)
			)
	return late_jobs


def _streams_line(v: dict[str, Any]) -> Line | None:
	late = overdue_jobs(v)
	if not late:
		return None
	return Line(
		"orange",
		late[0][1],
		_("Run it now"),
		method="cc_sync.cc_sync.api.run_overdue",
		detail=_(
			"The scheduler and a worker are running, so its runs are not starting or not finishing: "
			"the Scheduled Job Log and the Error Log say why."
		),
	)


def _optout_filter_line(v: dict[str, Any]) -> Line | None:
	"""CC's opt-out filter proved unreliable on this account: opt-outs still arrive (by a full scan), but
	the sync is not running as designed until the filter is trusted again, so the line is not green."""
	try:
		state = (json.loads(v.get(SETTINGS_SYNC_STATE) or "{}") or {}).get(OPTOUT_STATE) or {}
	except ValueError:
		return None
	if state.get("reliable", True):
		return None
	config = SyncConfig()
	since = get_datetime(str(state["since"])[:19].replace("T", " ")) if state.get("since") else None
	good = cint((state.get("recheck") or {}).get("good"))
	return Line(
		"orange",
		_(
			"CC's opt-out filter (optout_after) is not reliable on this account{0}: opt-outs are read by a "
			"full scan of unsubscribed and deleted contacts instead, which costs more API calls."
		).format(" " + _("since {0} UTC").format(f"{since:%Y-%m-%d %H:%M}") if since else ""),
		_("Re-check opt-out filter"),
		method="cc_sync.cc_sync.api.recheck_optout_filter",
		detail=_(
			"No opt-out is missed meanwhile. The filter is re-checked every {0} hours and trusted again "
			"after {1} good checks in a row ({2} so far)."
		).format(
			f"{config.optout_recheck_every.total_seconds() / 3600:g}", config.optout_recover_after, good
		),
	)


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
