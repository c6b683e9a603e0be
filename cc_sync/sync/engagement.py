"""The engagement stream: who opened, clicked, bounced and opted out of which campaign, on the site.

CC's facts it rests on are in `docs/cc-engagement-api.md`. In short: campaigns come from `GET /emails`
(bounded on `updated_at`, which is never before a campaign's send), each activity's counts and
`last_refresh_time` from the stats endpoint (ten activities a call), and the people from the tracking
reports, which have no date filter and list the newest row first.

**Watermarks per campaign activity and report.** Each report of each activity keeps the newest
`created_time` applied; a read stops at the first page holding an older row, so a steady run reads about
one page per report that moved, and none for an activity whose `last_refresh_time` did not move. Rows of
the watermark's own millisecond are read again and recognised by the store. A read that stops part way
(quota, a 429 CC kept sending, a worker killed) leaves where it was: the next run reads what arrived on
top since, then carries on from the saved page down to the old watermark, and only then moves it.

**Cost.** Per activity the stream reads `unique_opens` (not every open: a 100,000-contact campaign with
25 % opens is 50 pages, where all opens would be half as many again), `clicks`, `bounces` and `optouts`,
never `sends` (one page per 500 recipients) beyond one row giving the send time. The day's engagement
calls never pass `engagement_share` of the day's quota, and the stream stops while fewer than
`CONSENT_RESERVE` of the day's calls are left, so the consent streams always have them.

**Bounces.** B (non-existent) and S (suspended) are hard: the address is never pushed again until it
changes. D, F, X, Z are counted only; V was delivered.

**Opt-outs** in a report are the contact's own opt-outs. They go through the opt-out stream's path: the
addresses the site does not know as opted out are read from `GET /contacts?status=all&optout_after=` and
applied by the same page applier (and consent rules) as the opt-out stream, so nothing is applied twice
or differently; while the opt-out stream's self-check has found `optout_after` unreliable they are left to
that stream's scan.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from cc_sync.constant_contact.errors import PermissionDenied, ValidationError
from cc_sync.constant_contact.report_models import ActivityStats, TrackingPage, TrackingRow
from cc_sync.constant_contact.values import parse_datetime
from cc_sync.sync import optouts
from cc_sync.sync.context import RunContext
from cc_sync.sync.matching import normalise_email
from cc_sync.sync.pages import note_problems
from cc_sync.sync.records import CampaignRecord, EngagementEvent
from cc_sync.sync.report import StreamReport, StreamStatus
from cc_sync.sync.streams import STREAM_ENGAGEMENT

STATE = "engagement"
# The reports read for each activity, and the event kind each row becomes.
REPORTS = (("unique_opens", "open"), ("clicks", "click"), ("bounces", "bounce"), ("optouts", "optout"))
HARD_BOUNCE_CODES = frozenset({"B", "S"})
SENT_STATUSES = frozenset({"Done", "Executing"})
# Of the day's quota, what the engagement stream always leaves to the consent streams.
CONSENT_RESERVE = 0.10
STATS_BATCH = 10
NO_SCOPE = (
	"the Constant Contact connection was not granted campaign_data (reports on sent campaigns); "
	"Reconnect on the settings page to grant it"
)


class OutOfBudget(Exception):
	"""The engagement stream's share of today's calls is spent: the rest waits for the next run."""


class _Budget:
	def __init__(self, ctx: RunContext, state: dict[str, Any]) -> None:
		self.ctx = ctx
		day = ctx.now().date().isoformat()
		spent = state.get("spent") or {}
		self.state = state
		self.before = spent.get("calls", 0) if spent.get("day") == day else 0
		self.day = day
		self.start = getattr(ctx.client, "calls", 0)
		self.allowed = int(ctx.config.engagement_share * ctx.config.daily_quota)
		self.reserve = int(CONSENT_RESERVE * ctx.config.daily_quota)

	@property
	def spent(self) -> int:
		return self.before + getattr(self.ctx.client, "calls", 0) - self.start

	def check(self) -> None:
		"""Called before each call: raise when the share is spent or the consent reserve is reached."""
		if self.spent >= self.allowed:
			raise OutOfBudget(
				f"today's engagement share of the API quota ({self.allowed} calls) is spent; "
				"the rest is read after 00:00 UTC"
			)
		budget = getattr(self.ctx.client, "budget", None)
		if budget is not None and budget.remaining <= self.reserve:
			raise OutOfBudget(
				f"fewer than {self.reserve} of today's API calls are left; they are kept for the consent streams"
			)

	def save(self) -> None:
		self.state["spent"] = {"day": self.day, "calls": self.spent}


def _ts(value: datetime | None) -> str | None:
	return value.isoformat() if value else None


def _paged(budget: _Budget, pages: Iterator[TrackingPage]) -> Iterator[TrackingPage]:
	while True:
		budget.check()
		page = next(pages, None)
		if page is None:
			return
		yield page


def run_engagement(ctx: RunContext) -> None:
	stream = ctx.report.stream(STREAM_ENGAGEMENT)
	if not ctx.config.campaign_data:
		stream.status = StreamStatus.SKIPPED
		stream.error = NO_SCOPE
		return
	state = ctx.store.get_state(STATE) or {}
	state.setdefault("activities", {})
	state.setdefault("campaigns", {})
	budget = _Budget(ctx, state)
	try:
		_discover(ctx, state, budget, stream)
		_read_active(ctx, state, budget, stream)
	except PermissionDenied:
		stream.status = StreamStatus.SKIPPED
		stream.error = NO_SCOPE
	except OutOfBudget as exc:
		stream.notice = str(exc)
	finally:
		budget.save()
		if not ctx.dry_run:
			ctx.store.set_state(STATE, state)
			ctx.store.commit()


def _in_window(ctx: RunContext, sent_at: datetime | None) -> bool:
	return sent_at is None or sent_at >= ctx.now() - ctx.config.engagement_window


def _discover(ctx: RunContext, state: dict[str, Any], budget: _Budget, stream: StreamReport) -> None:
	"""New campaigns sent in the window: their activities, subject and send time (once each)."""
	known = state["campaigns"]
	since = ctx.now() - ctx.config.engagement_window
	pages = ctx.client.iter_email_campaign_pages(after_date=since)
	while True:
		budget.check()
		page = next(pages, None)
		if page is None:
			return
		for summary in page.campaigns:
			cid = summary.campaign_id
			if not cid or summary.current_status not in SENT_STATUSES:
				continue
			seen = known.get(cid)
			if seen and seen.get("updated_at") == _ts(summary.updated_at):
				continue
			_add_campaign(ctx, state, budget, summary.name or cid, cid, summary.current_status)
			known[cid]["updated_at"] = _ts(summary.updated_at)


def _add_campaign(
	ctx: RunContext, state: dict[str, Any], budget: _Budget, name: str, cid: str, status: str | None
) -> None:
	budget.check()
	campaign = ctx.client.get_email_campaign(cid)
	entry = state["campaigns"].setdefault(cid, {})
	entry.update(name=campaign.name or name, status=campaign.current_status or status)
	activities = state["activities"]
	for ref in campaign.reported_activities():
		aid = ref.campaign_activity_id
		assert aid is not None
		if aid in activities:
			continue
		budget.check()
		activity = ctx.client.get_email_campaign_activity(aid)
		budget.check()
		# No campaign field holds the send time: the newest send's time is it (reports are newest first).
		first = next(ctx.client.iter_tracking_pages(aid, "sends", limit=1), None)
		sent_at = first.rows[0].created_time if first and first.rows else None
		activities[aid] = {"campaign_id": cid, "role": ref.role, "sent_at": _ts(sent_at), "marks": {}}
		if ref.role == "primary_email":
			entry.update(subject=activity.subject, sent_at=_ts(sent_at))
	if not ctx.dry_run:
		ctx.store.save_campaigns([_record(cid, entry)])


def _record(cid: str, entry: dict[str, Any]) -> CampaignRecord:
	return CampaignRecord(
		campaign_id=cid,
		name=entry.get("name") or cid,
		subject=entry.get("subject"),
		status=entry.get("status"),
		sent_at=parse_datetime(entry.get("sent_at")),
		counts=dict(entry.get("counts") or {}),
	)


def _read_active(ctx: RunContext, state: dict[str, Any], budget: _Budget, stream: StreamReport) -> None:
	"""Stats for every activity in the window (ten a call); the reports of those that moved."""
	activities = state["activities"]
	active = [aid for aid, a in activities.items() if _in_window(ctx, parse_datetime(a.get("sent_at")))]
	for aid in [aid for aid in activities if aid not in active]:
		# Past its window: no longer polled, and its watermarks are no longer needed.
		state.setdefault("retired", []).append(aid)
		del activities[aid]
	for i in range(0, len(active), STATS_BATCH):
		batch = active[i : i + STATS_BATCH]
		budget.check()
		result = ctx.client.get_activity_stats(batch)
		by_id = {r.campaign_activity_id: r for r in result.results}
		_count(ctx, state, by_id)
		for aid in batch:
			stats = by_id.get(aid)
			entry = activities[aid]
			refresh = _ts(stats.last_refresh_time) if stats else None
			if stats is not None and refresh is not None and refresh == entry.get("refresh"):
				continue
			for report, kind in REPORTS:
				_read_report(ctx, budget, stream, aid, entry, report, kind)
			entry["refresh"] = refresh
			if not ctx.dry_run:
				ctx.store.set_state(STATE, state)
				ctx.store.commit()


def _count(ctx: RunContext, state: dict[str, Any], by_id: dict[str | None, ActivityStats]) -> None:
	"""Each campaign's counts: the sum over its activities (the email and its resends)."""
	touched: dict[str, dict[str, Any]] = {}
	for aid, stats in by_id.items():
		act = state["activities"].get(aid or "")
		if act is None:
			continue
		act["stats"] = {
			"sends": stats.count("em_sends") or 0,
			"opens": stats.count("em_opens") or 0,
			"opens_all": stats.count("em_opens_all") or 0,
			"clicks": stats.count("em_clicks") or 0,
			"bounces": stats.count("em_bounces") or 0,
			"hard_bounces": (stats.count("em_bounces_nonexistent_address") or 0)
			+ (stats.count("em_bounces_suspended") or 0),
			"optouts": stats.count("em_optouts") or 0,
		}
		touched[act["campaign_id"]] = state["campaigns"].get(act["campaign_id"], {})
	for cid, entry in touched.items():
		totals: dict[str, int] = {}
		for act in state["activities"].values():
			if act["campaign_id"] == cid:
				for key, value in (act.get("stats") or {}).items():
					totals[key] = totals.get(key, 0) + value
		entry["counts"] = totals
	if touched and not ctx.dry_run:
		ctx.store.save_campaigns([_record(cid, entry) for cid, entry in touched.items()])


def _read_report(
	ctx: RunContext,
	budget: _Budget,
	stream: StreamReport,
	aid: str,
	entry: dict[str, Any],
	report: str,
	kind: str,
) -> None:
	"""Read one report down to its watermark (resuming a read that stopped), then move the watermark."""
	mark = entry["marks"].setdefault(report, {})
	newest = parse_datetime(mark.get("newest"))
	resume = mark.get("resume")
	if resume:
		# What arrived on top since the stopped read began, then the rest of that read.
		top = _read_down(ctx, budget, stream, aid, entry, kind, None, parse_datetime(resume["top"]), None)
		try:
			rest = ctx.client.continue_tracking_pages(resume["href"])
			_read_down(ctx, budget, stream, aid, entry, kind, rest, newest, mark, top_at=resume["top"])
		except ValidationError:
			# CC no longer takes the saved cursor: read from the top down to the old watermark instead.
			_read_down(ctx, budget, stream, aid, entry, kind, None, newest, mark)
		top = max((t for t in (top, parse_datetime(resume["top"])) if t), default=None)
	else:
		top = _read_down(ctx, budget, stream, aid, entry, kind, None, newest, mark)
	mark.pop("resume", None)
	if top is not None and (newest is None or top > newest):
		mark["newest"] = _ts(top)


def _read_down(
	ctx: RunContext,
	budget: _Budget,
	stream: StreamReport,
	aid: str,
	entry: dict[str, Any],
	kind: str,
	pages: Iterator[TrackingPage] | None,
	stop: datetime | None,
	mark: dict[str, Any] | None,
	top_at: str | None = None,
) -> datetime | None:
	"""Apply pages newest first until a row older than `stop`; with `mark`, note where to resume after
	each committed page. Returns the newest time read."""
	if pages is None:
		report = next(r for r, k in REPORTS if k == kind)
		pages = ctx.client.iter_tracking_pages(aid, report)
	top: datetime | None = None
	for page in _paged(budget, pages):
		if page.skipped:
			stream.warn(None, f"{page.skipped} unreadable row(s) in a {kind} report of activity {aid}")
		rows = [r for r in page.rows if stop is None or r.created_time >= stop]
		if rows and top is None:
			top = max(r.created_time for r in rows)
		_apply(ctx, stream, entry, aid, kind, rows)
		done = len(rows) < len(page.rows) or not page.next_href
		if mark is not None and not done and not ctx.dry_run:
			mark["resume"] = {"href": page.next_href, "top": top_at or _ts(top or stop)}
		if not ctx.dry_run:
			# The page and where to carry on from commit together: a stop loses neither.
			budget.save()
			ctx.store.set_state(STATE, budget.state)
			ctx.store.commit()
		if done:
			break
	return top


def _apply(
	ctx: RunContext, stream: StreamReport, entry: dict[str, Any], aid: str, kind: str, rows: list[TrackingRow]
) -> None:
	events = []
	for row in rows:
		email = normalise_email(row.email_address)
		if not email:
			stream.skip(None, f"a {kind} row of contact {row.contact_id} carries no email address")
			continue
		code = (row.bounce_code or "").upper() or None
		events.append(
			EngagementEvent(
				campaign_id=entry["campaign_id"],
				activity_id=aid,
				kind=kind,
				cc_contact_id=row.contact_id,
				email=email,
				at=row.created_time,
				link_url=row.link_url,
				bounce_code=code,
				hard_bounce=kind == "bounce" and code in HARD_BOUNCE_CODES,
				reason=row.opt_out_reason,
			)
		)
	stream.fetched += len(rows)
	if ctx.dry_run:
		stream.unchanged += len(events)
		return
	new = ctx.store.add_engagement(events) if events else 0
	stream.created += new
	stream.unchanged += len(events) - new
	if kind == "optout" and events:
		_apply_optouts(ctx, stream, events)


def _apply_optouts(ctx: RunContext, stream: StreamReport, events: list[EngagementEvent]) -> None:
	"""Opt-outs the site does not know yet, through the opt-out stream's own read and applier."""
	known = ctx.store.opted_out_emails({e.email for e in events})
	unknown = [e for e in events if e.email not in known]
	if not unknown:
		return
	if not optouts.load_state(ctx)["reliable"]:
		stream.warn(
			None, f"{len(unknown)} opt-out(s) left to the opt-out stream's scan (optout_after unreliable)"
		)
		return
	since = optouts.query_start(min(e.at for e in unknown), timedelta(0))
	applier = ctx.applier(stream)
	query = {"status": "all", "optout_after": since, "include": list(ctx.config.include)}
	for page in ctx.client.iter_contact_pages(**query, limit=ctx.config.page_limit):
		note_problems(stream, page.problems)
		applier.apply(page.contacts)
