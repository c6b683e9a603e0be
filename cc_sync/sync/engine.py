"""One sync run: the streams in a safe order, each failing on its own, and a report of everything.

Order: opt-outs, changes, deletes, reconcile (pulls; deletes after changes, so the site's count of
deleted contacts already reflects revivals); then the site's opt-outs to CC; then bulk activities left
open; then the lead push, which runs only when this run's opt-out, changes and deletes pulls succeeded
(CC's own sync guide: pull before push, so an import never re-adds someone who just left; a CC delete
moves no `updated_at`, so without the deletes pull an edited lead would revive a deleted contact; and
the site knows which addresses CC already holds, whose CC-owned fields a push must not overwrite); then
the new imports are followed. A quota or authorisation failure stops the run cleanly; any other failure fails
its stream, rolls back its uncommitted writes, and the run goes on.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterable
from typing import Any

from cc_sync.constant_contact.clock import Clock, SystemClock
from cc_sync.constant_contact.errors import AuthError, QuotaExceeded, TransportError
from cc_sync.constant_contact.models import Contact, Permission
from cc_sync.sync import activities, engagement, engagement_person, optout_push, pull, push, streams
from cc_sync.sync.config import SyncConfig
from cc_sync.sync.context import RunContext
from cc_sync.sync.matching import normalise_email
from cc_sync.sync.pages import note_problems
from cc_sync.sync.report import RunReport, StreamStatus
from cc_sync.sync.store import SyncStore
from cc_sync.sync.streams import (
	ALL_STREAMS,
	RUN_ORDER,
	STREAM_ACTIVITIES,
	STREAM_CHANGES,
	STREAM_ENGAGEMENT,
	STREAM_OPTOUT_PUSH,
	STREAM_PUSH,
)

PULL_STREAMS = streams.names(phase=streams.Phase.PULL)
# What must succeed in the same run before anything is pushed.
PUSH_NEEDS = streams.BY_NAME[STREAM_PUSH].needs
# What a scheduled run does when not told otherwise; reconcile has its own, slower cadence.
# What a person reads when CC cannot be reached (the wire's own words go to the technical details).
UNREACHABLE = "Constant Contact could not be reached; nothing was changed; the next run will retry"
LOST_MID_REQUEST = (
	"Constant Contact stopped answering during a request; the next run checks what reached it and retries"
)

DEFAULT_STREAMS = streams.names(default=True)


def _step(name: str) -> Callable[[RunContext], None]:
	"""What runs a stream: each pull reads CC from its watermark, the others have a module each."""
	if streams.BY_NAME[name].phase == streams.Phase.PULL:
		return lambda c: pull.run_pull(c, name)
	return STEPS[name]


# The module that runs each stream that is not a pull (the order is the stream table's RUN_ORDER).
STEPS: dict[str, Callable[[RunContext], None]] = {
	STREAM_OPTOUT_PUSH: optout_push.run_optout_push,
	STREAM_ACTIVITIES: activities.run_activities,
	STREAM_PUSH: push.run_push,
	STREAM_ENGAGEMENT: engagement.run_engagement,
}


class SyncEngine:
	def __init__(
		self,
		client: Any,
		store: SyncStore,
		config: SyncConfig | None = None,
		clock: Clock | None = None,
		on_progress: Callable[[str, int, int], None] | None = None,
	) -> None:
		self.client = client
		self.store = store
		self.config = config or SyncConfig()
		self.clock = clock or SystemClock()
		# (stream, done, total) as a stream that knows its size goes: the push's leads sent of its N.
		self.on_progress = on_progress

	def run(self, streams: Iterable[str] | None = None, *, dry_run: bool = False) -> RunReport:
		wanted = set(streams or DEFAULT_STREAMS)
		unknown = wanted - set(ALL_STREAMS)
		if unknown:
			raise ValueError(f"unknown stream(s): {', '.join(sorted(unknown))}")
		if STREAM_PUSH in wanted:
			# Pull before push: the push needs this run's opt-out, changes and deletes pulls.
			wanted.update(PUSH_NEEDS)
		report = RunReport(started=self.clock.now(), dry_run=dry_run)
		ctx = RunContext(
			self.client,
			self.store,
			self.config,
			self.clock,
			report,
			dry_run=dry_run,
			on_progress=self.on_progress,
		)

		for name in RUN_ORDER:
			if name not in wanted:
				if name == STREAM_OPTOUT_PUSH and report.readded() and not dry_run and not report.stopped_by:
					# CC holds subscribed again someone the site holds opted out: their opt-out goes now,
					# not at the next opt-out run.
					self._run_step(
						ctx, name, lambda c: optout_push.run_optout_push(c, only=c.report.readded())
					)
				continue
			stream = report.stream(name)
			if report.stopped_by:
				stream.status = StreamStatus.SKIPPED
				stream.error = stream.error or report.stopped_by
				continue
			if name == STREAM_PUSH:
				failed = [s for s in PUSH_NEEDS if report.stream(s).status != StreamStatus.SUCCESS]
				if failed:
					stream.status = StreamStatus.SKIPPED
					stream.error = (
						f"the {' and '.join(failed)} pull did not succeed in this run, so nothing is pushed"
					)
					continue
			self._run_step(ctx, name, _step(name))
		report.finished = self.clock.now()
		return report

	def _run_step(self, ctx: RunContext, name: str, step: Any) -> None:
		stream = ctx.report.stream(name)
		calls_before = getattr(self.client, "calls", 0)
		retries_before = len(getattr(self.client, "retries", None) or ())
		try:
			step(ctx)
		except QuotaExceeded as exc:
			self.store.rollback()
			stream.status = StreamStatus.FAILED
			stream.error = (
				f"CC's daily API quota is used up; the sync resumes after {exc.resets_at:%Y-%m-%d %H:%M} UTC"
			)
			ctx.report.stopped_by = stream.error
		except AuthError as exc:
			self.store.rollback()
			stream.status = StreamStatus.FAILED
			stream.error = f"the Constant Contact connection needs attention: {exc}"
			ctx.report.stopped_by = stream.error
		except TransportError as exc:
			# CC is unreachable or stopped answering: the next stream would only wait out the same
			# retries. What was said on the wire stays in the technical details.
			self.store.rollback()
			stream.status = StreamStatus.FAILED
			stream.error = UNREACHABLE if not exc.may_have_succeeded else LOST_MID_REQUEST
			stream.traceback = f"{type(exc).__name__}: {exc}"
			ctx.report.stopped_by = stream.error
		except Exception as exc:
			self.store.rollback()
			stream.status = StreamStatus.FAILED
			stream.error = f"{type(exc).__name__}: {exc}"
			stream.traceback = traceback.format_exc()
		else:
			if stream.status in (StreamStatus.PENDING, StreamStatus.SUCCESS):
				stream.status = StreamStatus.PARTIAL if stream.failed else StreamStatus.SUCCESS
		finally:
			stream.api_calls += getattr(self.client, "calls", 0) - calls_before
			# The calls this stream sent again, named in its log row.
			stream.retries += list(getattr(self.client, "retries", None) or ())[retries_before:]

	def sync_email(self, email: str, *, dry_run: bool = False) -> dict[str, Any]:
		"""Sync one address both ways at once ("Sync now" on a Contact or Lead) and say where it stands."""
		address = normalise_email(email)
		if not address:
			raise ValueError("this record has no email address to sync")
		report = RunReport(started=self.clock.now(), dry_run=dry_run)
		ctx = RunContext(self.client, self.store, self.config, self.clock, report, dry_run=dry_run)
		found: list[Any] = []
		unreadable: list[Any] = []

		def pull_one(c: RunContext) -> None:
			stream = c.report.stream(STREAM_CHANGES)
			for page in self.client.iter_contact_pages(
				email=address, status="all", include=list(self.config.include), limit=1
			):
				note_problems(stream, page.problems)
				found.extend(page.contacts)
				# CC holds someone it sent unreadably: never import them as if CC did not.
				unreadable.extend(p for p in page.problems if p.skipped)
			c.applier(stream).apply(found)
			if not dry_run:
				self.store.commit()

		def push_optout(c: RunContext) -> None:
			for optout in self.store.pending_optouts():
				if optout.email == address:
					# Asked for now: tried whatever its retry time says.
					optout_push.attempt(c, optout, c.now())

		self._run_step(ctx, STREAM_CHANGES, pull_one)
		self._run_step(ctx, STREAM_OPTOUT_PUSH, push_optout)
		if not found and not unreadable and report.stream(STREAM_CHANGES).status == StreamStatus.SUCCESS:
			self._run_step(ctx, STREAM_PUSH, lambda c: push.push_email(c, address))
			self._run_step(ctx, STREAM_ACTIVITIES, activities.run_activities)
		view = self.cc_view(address)
		if view.get("contact_id") and not report.stopped_by:
			# Their campaign history too: a few calls of activity_details (contact_data is enough).
			cc_id = view["contact_id"]
			self._run_step(ctx, STREAM_ENGAGEMENT, lambda c: engagement_person.sync_person(c, cc_id, address))
		report.finished = self.clock.now()
		return {"email": address, "cc": view, "report": report}

	def cc_view(self, email: str) -> dict[str, Any]:
		"""CC's view of one person, for the form: where they stand, as `cc_state` says."""
		unreadable = None
		for page in self.client.iter_contact_pages(email=email, status="all", limit=1):
			for contact in page.contacts:
				email_address = contact.email_address
				permission = email_address.permission_to_send if email_address else None
				state = cc_state(contact)
				return {
					"state": state,
					"sendable": state == STATE_SUBSCRIBED,
					"permission_to_send": permission,
					"contact_id": contact.contact_id,
					"opt_out_date": email_address.opt_out_date if email_address else None,
					"updated_at": contact.updated_at,
				}
			unreadable = unreadable or next((p for p in page.problems if p.skipped), None)
		if unreadable is not None:
			# CC holds someone under this address but sent them in a shape that cannot be read.
			return {
				"state": "unreadable",
				"sendable": False,
				"contact_id": unreadable.contact_id,
				"reason": unreadable.reason,
			}
		return {"state": STATE_NOT_IN_CC, "sendable": False}


# Where a person stands in CC, as "Sync now" shows it. Only `subscribed` is mailed by CC.
STATE_SUBSCRIBED = "subscribed"
STATE_NOT_IN_CC = "not in CC"
_STATE_BY_PERMISSION = {
	Permission.EXPLICIT: STATE_SUBSCRIBED,
	Permission.IMPLICIT: STATE_SUBSCRIBED,
	Permission.UNSUBSCRIBED: "unsubscribed",
	# Waiting for the person to confirm (confirmed opt-in): not mailed yet.
	Permission.PENDING_CONFIRMATION: "pending confirmation",
	# No permission recorded: not mailed.
	Permission.NOT_SET: "not set",
	# Held by CC for now (bounces, review): not mailed while held.
	Permission.TEMP_HOLD: "on hold",
}


def cc_state(contact: Contact) -> str:
	"""deleted, unsubscribed, subscribed, pending confirmation, not set, on hold, SMS only, or unknown.

	Never "subscribed" for anything CC would not mail: an SMS-only contact has no email permission at
	all, and a value CC has not documented is shown as unknown rather than guessed.
	"""
	if contact.is_deleted:
		return "deleted"
	email_address = contact.email_address
	if email_address is None or not email_address.address:
		return "SMS only"
	return _STATE_BY_PERMISSION.get(email_address.permission_to_send or "", "unknown")


def stored_state(cc_contact_id: str | None, cc_permission: str | None, cc_deleted: bool) -> str:
	"""Where a site record stands in CC, from what the last sync stored (no API call).

	The same states as `cc_state`, so the form and "Sync now" speak alike: deleted wins, a record no
	sync has matched to a CC contact is "not in CC", and a permission CC has not documented is unknown.
	"""
	if cc_deleted:
		return "deleted"
	if not cc_contact_id:
		return STATE_NOT_IN_CC
	return _STATE_BY_PERMISSION.get(cc_permission or "", "unknown")
