"""Runs the sync engine on this site: wiring, one Sync Log per run, and the settings' status.

Everything the engine needs is built here from the settings (client, token provider, budget, store,
config). API and auth hosts come from site config only (`CONF_API_BASE`, `CONF_AUTH_BASE`), so nobody can
point a production site at another host from the form. Every run leaves logs, including a run that
could not start, and a broken connection is shown on the settings page.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from redis.exceptions import LockError

import frappe
from frappe import _
from frappe.utils import cint, getdate

from cc_sync.cc_sync.alerts import note_run
from cc_sync.cc_sync.constants import (
	CONF_API_BASE,
	CONNECTION_CONNECTED,
	CONNECTION_ERROR,
	JOB_TIMEOUT,
	PROGRESS_EVENT,
	SETTINGS,
	SETTINGS_OPTOUT_CHECK,
	TRIGGER_SCHEDULER,
)
from cc_sync.cc_sync.oauth import token_provider
from cc_sync.cc_sync.settings import (
	JOB_STREAMS,
	SCHEDULE,
	field_rules,
	get_settings,
	mark_connection_broken,
	needs_attention,
	push_filters,
	require_connection,
	stored_values,
	sync_config,
	update_settings,
)
from cc_sync.cc_sync.sync_log import STATUS_LABELS, finish_log, job_label, new_log, write_report
from cc_sync.constant_contact.client import DEFAULT_BASE_URL, ConstantContactClient
from cc_sync.constant_contact.errors import AuthError
from cc_sync.constant_contact.ratelimit import DailyBudget
from cc_sync.sync.engine import SyncEngine
from cc_sync.sync.records import STREAM_OPTOUT_SCAN, STREAM_OPTOUTS
from cc_sync.sync.report import RunReport, StreamStatus

# The log functions are used from here by the desk API too.
__all__ = ["finish_log", "new_log", "write_report"]

RUN_LOCK_KEY = "cc_sync:run"
# How long a job waits for another run of this site to finish before it gives its turn away.
RUN_LOCK_WAIT_SECONDS = 120
PROGRESS_EVERY_SECONDS = 1.0


class WatchedClient:
	"""The CC client as the engine sees it, plus two things the site wants: progress and auth state.

	It notes an `AuthError` by type (also one raised while a page iterator is consumed), so the
	settings page can say the connection needs attention without parsing messages, and it counts the
	contacts read so a running sync can say how far it has got: "X of N" while a read whose size CC
	gave (`include_count` on its first page, which an export that replaces the paging keeps) is under
	way. A one-contact count probe (`limit=1`) is not such a read.
	"""

	def __init__(
		self, client: ConstantContactClient, on_progress: Callable[[WatchedClient], None] | None = None
	) -> None:
		self._client = client
		self._on_progress = on_progress
		self.auth_error: AuthError | None = None
		self.contacts_read = 0
		# The current sized read: CC's count of what it selects, and how many of those were read.
		self.total: int | None = None
		self.done = 0

	def __getattr__(self, name: str) -> Any:
		attr = getattr(self._client, name)
		if name.startswith("_") or not callable(attr):
			return attr

		def call(*args: Any, **kwargs: Any) -> Any:
			try:
				result = attr(*args, **kwargs)
			except AuthError as exc:
				self.auth_error = exc
				raise
			self._progress()
			if isinstance(result, Iterator):
				return self._watch(result, self._scope(name, kwargs))
			return result

		return call

	def _progress(self) -> None:
		if self._on_progress:
			self._on_progress(self)

	def _scope(self, name: str, kwargs: dict[str, Any]) -> str | None:
		"""Which read this is: "pages" for one CC sizes, "export" for an export's rows (the same contacts)."""
		if name == "iter_contact_pages" and kwargs.get("include_count") and kwargs.get("limit") != 1:
			self.total, self.done = None, 0
			return "pages"
		if name == "read_contact_export":
			self.done = 0
			return "export"
		if name == "iter_contact_pages" and kwargs.get("limit") != 1:
			self.total, self.done = None, 0
		return None

	def _watch(self, items: Iterator[Any], scope: str | None = None) -> Iterator[Any]:
		try:
			for number, item in enumerate(items):
				contacts = getattr(item, "contacts", None)
				read = len(contacts) if contacts is not None else int(hasattr(item, "contact_id"))
				self.contacts_read += read
				if scope == "pages" and number == 0:
					self.total = getattr(item, "contacts_count", None)
				if scope:
					self.done += read
				self._progress()
				yield item
		except AuthError as exc:
			self.auth_error = exc
			raise


@dataclass
class Wiring:
	"""An engine ready to run, and what the runner reads back afterwards."""

	engine: SyncEngine
	client: WatchedClient
	budget: DailyBudget


def build_client(settings: Any, budget: DailyBudget | None = None) -> ConstantContactClient:
	"""A CC client for the connected account; the API host comes from site config only."""
	return ConstantContactClient(
		token_provider(settings),
		base_url=frappe.conf.get(CONF_API_BASE) or DEFAULT_BASE_URL,
		budget=budget,
	)


def build_budget(settings: Any) -> DailyBudget:
	"""Today's call count as stored, so the settings page shows what all runs spent together."""
	day = getdate(settings.api_calls_day) if settings.api_calls_day else None
	return DailyBudget(used=cint(settings.api_calls_today), day=day)


def build_store(settings: Any) -> Any:
	"""The Frappe store; with no pushed DocType chosen the push finds nothing to send."""
	from cc_sync.cc_sync.store import FrappeStore

	return FrappeStore(
		push_doctype=settings.push_doctype or "",
		push_filters=push_filters(settings),
		site_fields=[rule.site_field for rule in field_rules(settings.field_map)],
	)


def build(settings: Any, on_progress: Callable[[WatchedClient], None] | None = None) -> Wiring:
	require_connection(settings)
	budget = build_budget(settings)
	client = WatchedClient(build_client(settings, budget), on_progress)
	engine = SyncEngine(client, build_store(settings), sync_config(settings))
	return Wiring(engine=engine, client=client, budget=budget)


def save_budget(client: Any, budget: DailyBudget) -> None:
	"""Add this run's calls to today's stored count (other runs may have added theirs meanwhile)."""
	spent = cint(getattr(client, "calls", 0))
	stored = stored_values(("api_calls_today", "api_calls_day"))
	today = budget.day
	total = spent
	if stored.get("api_calls_day") and getdate(stored["api_calls_day"]) == today:
		total += cint(stored.get("api_calls_today"))
	if budget.used >= budget.limit:
		# CC answered quota_exceeded: nothing is left until midnight UTC, whatever we counted.
		total = max(total, budget.limit)
	update_settings({"api_calls_today": total, "api_calls_day": today})


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
	scheduled = stream in SCHEDULE and not dry_run
	if scheduled:
		update_settings({f"last_{stream}_run": log.started, f"last_{stream}_status": "Running"})
	frappe.db.commit()

	with site_run_lock(RUN_LOCK_WAIT_SECONDS) as held:
		if held:
			return _run_locked(log, stream, dry_run, scheduled)
	finish_log(log, status="Skipped", error=_("Another sync run of this site was still busy."))
	if scheduled:
		# Not run: the scheduler offers it again at its next tick.
		update_settings({f"last_{stream}_run": None, f"last_{stream}_status": "Skipped"})
	frappe.db.commit()
	return RunResult("Skipped", [log.name], error=log.error)


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
		wiring = build(get_settings(), progress.tick)
		progress.publish(_("Running"))
		report = wiring.engine.run(JOB_STREAMS[stream] or None, dry_run=dry_run)
	except Exception as exc:
		frappe.db.rollback()
		message = run_error(exc)
		finish_log(log, status="Failed", error=message, tb=traceback.format_exc())
		auth_error = isinstance(exc, AuthError) or (wiring is not None and wiring.client.auth_error)
		_update_status(stream, "Failed", log.name, scheduled, auth_error=bool(auth_error))
		if not dry_run:
			note_run("Failed", connection_broken=bool(auth_error), log_name=log.name, error=message)
		end_run(log, wiring, exc)
		progress.publish(_("Failed"), done=True, status="Failed", log=log.name, error=message)
		return RunResult("Failed", [log.name], error=message)

	log = write_report(log, report, stream)[0]
	status = STATUS_LABELS.get(report.status, "Failed")
	auth = wiring.client.auth_error
	_update_status(stream, status, log.name, scheduled, auth_error=bool(auth))
	if not dry_run:
		# Every scheduled stream that ran counts as that stream's turn, whoever started the run.
		ran = {
			name: STATUS_LABELS.get(s.status, "Failed")
			for name, s in report.streams.items()
			if name in SCHEDULE and s.status not in (StreamStatus.SKIPPED, StreamStatus.PENDING)
		}
		update_settings(
			{f"last_{name}_run": log.started for name in ran}
			| {f"last_{n}_status": v for n, v in ran.items()}
		)
	if not dry_run:
		save_optout_check(report)
		note_run(status, connection_broken=bool(auth), log_name=log.name, error=log.error)
	else:
		from cc_sync.cc_sync.onboarding import tick_steps

		tick_steps()
	end_run(log, wiring)
	progress.calls, progress.contacts = wiring.client.calls, wiring.client.contacts_read
	progress.publish(status, done=True, status=status, log=log.name, totals=report.totals(), error=log.error)
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
	if log.status == "Running":
		error = run_error(exc) if exc is not None else _("The run ended without a result.")
		finish_log(log, status="Failed", error=error, tb=traceback.format_exc() if exc is not None else None)
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
		values[f"last_{stream}_status"] = status
	# A broken connection is marked by `end_run`; a run that worked clears an earlier mark.
	if not auth_error and status in ("Success", "Partial"):
		current = stored_values(("connection_status",)).get("connection_status")
		if current == CONNECTION_ERROR:
			values["connection_status"] = CONNECTION_CONNECTED
			values["last_error"] = None
	update_settings(values)


class Progress:
	"""Tells an open settings form how a running sync is doing (throttled to about once a second)."""

	def __init__(self, stream: str, run_id: str, *, dry_run: bool = False) -> None:
		self.stream = stream
		self.dry_run = dry_run
		self.run_id = run_id
		self.calls = 0
		self.contacts = 0
		self.done = 0
		self.total: int | None = None
		self._last = 0.0

	def tick(self, client: WatchedClient) -> None:
		self.calls = client.calls
		self.contacts = client.contacts_read
		self.total = client.total
		self.done = min(client.done, client.total) if client.total is not None else 0
		now = time.monotonic()
		if now - self._last >= PROGRESS_EVERY_SECONDS:
			self._last = now
			if self.total is not None:
				self.publish(_("{0} of {1} contacts read").format(f"{self.done:,}", f"{self.total:,}"))
			else:
				self.publish(_("{0} contacts read").format(f"{self.contacts:,}"))

	def publish(self, message: str, *, done: bool = False, **extra: Any) -> None:
		data = {
			"stream": self.stream,
			"label": _(job_label(self.stream)),
			"dry_run": self.dry_run,
			"run_id": self.run_id,
			"message": message,
			"api_calls": self.calls,
			"contacts": self.contacts,
			# "X of N" where CC gave N: the bar on the settings form; None while the size is unknown.
			"progress": {"read": self.done, "total": self.total} if self.total else None,
			"done": done,
			**extra,
		}
		frappe.publish_realtime(PROGRESS_EVENT, data, doctype=SETTINGS, docname=SETTINGS)
