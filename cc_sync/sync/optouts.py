"""The opt-out stream, which checks itself, and the opt-out safety net.

**The stream** reads `GET /contacts?status=all&optout_after=W` (CC support: `status=all`, or contacts
both deleted and unsubscribed are missed; `updated_after` never sees an unsubscribe). Its watermark is
on CC's clock: the newest `opt_out_date` CC has reported, and each query starts at least a second before
it. CC stamps whole seconds and `optout_after` is strict, so a query from the watermark itself would miss
an opt-out stamped in the same second; a watermark from the site's clock would miss what CC stamps
earlier, which is everything when CC's clock lags the site's by more than the overlap.

**The self-check.** CC support has said, in 2022 and 2024, that the API "is not able to directly retrieve
opt outs from after a certain date", while the reference documents `optout_after`. So the stream does not
take it on trust: every opt-out the app pushes to CC is an opt-out with a CC timestamp that the next pull
must return. If one is not returned (and a lookup shows CC still holds it), or the query returns contacts
that did not opt out after the bound (the filter is ignored), or the first run returns fewer unsubscribed
contacts than CC counts (`status=unsubscribed&include_count=true`, checked once), the stream concludes that `optout_after`
is not reliable on this account, says so in the log and on the settings page, and from then on reads
opt-outs with a full scan of `status=unsubscribed` plus `status=deleted` (a contact both deleted and
unsubscribed reports as deleted), filtered on this side, as CC's support advises; on an account above
the export threshold the scan is one `status=unsubscribed` export instead, so it stays within CC's daily
budget at the opt-out cadence. The scan's cost is reported on every run.

**The safety net** (`optout_scan`, daily by default) independently reads every unsubscribed contact
(through CC's export on a large account) and reports what it found that the stream missed: expected,
nothing. Anything it finds is applied, and a miss the stream should have seen also marks `optout_after`
unreliable.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from cc_sync.constant_contact.errors import NotFound
from cc_sync.constant_contact.models import Contact
from cc_sync.constant_contact.values import parse_datetime
from cc_sync.sync import exports, optout_recheck, watermarks
from cc_sync.sync.context import RunContext
from cc_sync.sync.matching import normalise_email
from cc_sync.sync.pages import note_problems
from cc_sync.sync.streams import STREAM_OPTOUT_SCAN, STREAM_OPTOUTS

# The first opt-out pull asks for every opt-out since before CC's V3 API existed.
OPTOUT_EPOCH = datetime(2000, 1, 1, tzinfo=timezone.utc)
# CC stamps whole seconds and optout_after is strict: a query must start a second before the watermark.
MIN_WINDOW = timedelta(seconds=1)
STATE = "optouts"
EXPECTED_MAX = 5000
SKEW_MARGIN = timedelta(hours=1)


def query_start(watermark: datetime | None, overlap: timedelta) -> datetime:
	"""Where the next opt-out query starts: the watermark minus the overlap (at least one second)."""
	if watermark is None:
		return OPTOUT_EPOCH
	return watermark - max(overlap, MIN_WINDOW)


def _opted_out(contact: Contact) -> tuple[bool, datetime | None]:
	return contact.is_unsubscribed, contact.email_address.opt_out_date if contact.email_address else None


def latest_optout(contacts: Iterable[Contact], current: datetime | None) -> datetime | None:
	"""The newest CC `opt_out_date` among unsubscribed contacts, or `current` when none is newer."""
	latest = current
	for contact in contacts:
		out, when = _opted_out(contact)
		if out and when is not None and (latest is None or when > latest):
			latest = when
	return latest


def _ts(value: datetime | None) -> str | None:
	return value.isoformat() if value is not None else None


def load_state(ctx: RunContext) -> dict[str, Any]:
	state = ctx.store.get_state(STATE) or {}
	state.setdefault("reliable", True)
	state.setdefault("expected", [])
	return state


def expect(ctx: RunContext, contact: Contact) -> None:
	"""Note an opt-out the app just pushed: the next opt-out pull must return it."""
	out, when = _opted_out(contact)
	if ctx.dry_run or not out or when is None or not contact.contact_id:
		return
	state = load_state(ctx)
	entry = {"contact_id": contact.contact_id, "email": contact.email, "opt_out_date": _ts(when)}
	state["expected"] = [*state["expected"], entry][-EXPECTED_MAX:]
	ctx.store.set_state(STATE, state)


def _conclude_unreliable(
	ctx: RunContext, state: dict[str, Any], reason: str, stream: str = STREAM_OPTOUTS
) -> None:
	report = ctx.report.stream(stream)
	state.update(reliable=False, since=_ts(ctx.now()), reason=reason, recheck={})
	state.pop("trusted_since", None)
	report.warn(
		None,
		f"optout_after is not reliable on this account: {reason}. Opt-outs are read from now on by a full "
		"scan of unsubscribed and deleted contacts, filtered on this side.",
	)


def _notice(ctx: RunContext, state: dict[str, Any], cost: dict[str, int] | None = None) -> str:
	"""The sentence the settings page and the log show: which way opt-outs are read, since when, and how
	the filter is checked."""
	if state.get("reliable", True):
		since = (
			f" since {state['trusted_since'][:16].replace('T', ' ')} UTC"
			if state.get("trusted_since")
			else ""
		)
		checked = state.get("checked", 0)
		if not checked:
			return (
				f"CC's opt-out filter (optout_after) is trusted{since}; no opt-out this site sent has been "
				"checked yet."
			)
		which = "the 1 opt-out" if checked == 1 else f"all {checked:,} opt-outs"
		return f"CC's opt-out filter (optout_after) is trusted{since} and works: {which} this site sent to CC came back."
	text = (
		f"optout_after is NOT reliable on this account (concluded {state.get('since', '?')[:19].replace('T', ' ')} UTC: "
		f"{state.get('reason')}). Opt-outs are read by a full scan of unsubscribed and deleted contacts since "
		f"then."
	)
	check = state.get("recheck") or {}
	planned = optout_recheck.next_check(ctx, state)
	text += (
		f" Re-checked every {_hours(ctx.config.optout_recheck_every)}: {check.get('good', 0)} of "
		f"{ctx.config.optout_recover_after} good checks in a row needed to trust it again"
	)
	if check.get("at"):
		text += f" (last {check['at'][:16].replace('T', ' ')} UTC: {check.get('result')})"
	if planned is not None:
		text += f"; next after {planned:%Y-%m-%d %H:%M} UTC"
	text += "."
	if cost:
		text += f" Last run: {cost['calls']} API calls for {cost['contacts']} contacts read."
	return text


def _hours(every: timedelta) -> str:
	hours = every.total_seconds() / 3600
	return f"{hours:g} h" if hours >= 1 else f"{every.total_seconds() / 60:g} min"


def run_optouts(ctx: RunContext) -> None:
	"""Read the opt-outs since the watermark, through `optout_after` while it proves reliable and by a
	full scan once it has not, then keep what the self-check concluded and move the watermark."""
	report = ctx.report.stream(STREAM_OPTOUTS)
	state = load_state(ctx)
	mark = watermarks.read(ctx, STREAM_OPTOUTS)
	since = query_start(mark.before, ctx.config.overlap)
	latest = mark.before
	cost = None
	if state["reliable"]:
		# Only a first read (no watermark) asks for every opt-out ever, so only then can what it returns
		# be held against CC's count; a site that read opt-outs before this check existed is not first.
		latest = _read_and_check(ctx, state, since, latest, first_read=mark.before is None)
	if not state["reliable"]:
		cost, latest, scanned = _fallback_scan(ctx, since, latest)
		if optout_recheck.due(ctx, state):
			optout_recheck.recheck(ctx, state, scanned)
	report.notice = _notice(ctx, state, cost)
	if not ctx.dry_run:
		state["expected"] = []
		state["ran_at"] = _ts(mark.started)
		if state["reliable"]:
			state.setdefault("trusted_since", _ts(mark.started))
		ctx.store.set_state(STATE, state)
	# CC's newest opt-out date, only when it moved (the watermark is on CC's clock).
	watermarks.advance(ctx, mark, latest if latest != mark.before else None)


@dataclass
class _OptoutRead:
	"""What one `optout_after` read returned."""

	latest: datetime | None
	# Every contact id returned, and those returned unsubscribed.
	seen: set[str] = field(default_factory=set)
	held: set[str] = field(default_factory=set)
	# Records CC returned that could not be read (still returned, and logged by themselves).
	unreadable: int = 0


def _read_and_check(
	ctx: RunContext, state: dict[str, Any], since: datetime, latest: datetime | None, *, first_read: bool
) -> datetime | None:
	"""Apply what `optout_after` returns, then hold it against what it must have returned; any failed
	check marks the filter unreliable in `state`. Returns the newest opt-out date seen."""
	counted = None
	if not state.get("counted") and first_read:
		# Counted before the query: an opt-out made in between only adds to what the query returns.
		counted = _unsubscribed_count(ctx)
	read = _read_optout_after(ctx, state, since, latest)
	if state["reliable"] and not state.get("counted"):
		# The first run asks for every opt-out ever: it must return at least every contact CC counts
		# as unsubscribed. Checked once (one call), so a quiet account does not pay for it every run.
		state["counted"] = True
		if counted is not None and len(read.held) + read.unreadable < counted:
			_conclude_unreliable(
				ctx,
				state,
				f"optout_after since {since:%Y-%m-%d} returned {len(read.held)} unsubscribed contact(s) while "
				f"CC counts {counted}",
			)
	if state["reliable"]:
		_check_expected(ctx, state, since, read.seen)
	return read.latest


def _read_optout_after(
	ctx: RunContext, state: dict[str, Any], since: datetime, latest: datetime | None
) -> _OptoutRead:
	"""Apply every page of `optout_after=since`, committing each; stop at the first page showing that CC
	ignored the filter (with the filter ignored, the query would read the whole account)."""
	report = ctx.report.stream(STREAM_OPTOUTS)
	applier = ctx.applier(report)
	read = _OptoutRead(latest)
	query = {
		"status": "all",
		"optout_after": since,
		"include": list(ctx.config.include),
		"limit": ctx.config.page_limit,
	}
	for page in ctx.client.iter_contact_pages(**query):
		note_problems(report, page.problems)
		stray = [c for c in page.contacts if not _dated_after(c, since)]
		applier.apply([c for c in page.contacts if _dated_after(c, since)])
		read.seen.update(c.contact_id for c in page.contacts if c.contact_id)
		read.held.update(c.contact_id for c in page.contacts if _held_optout(c))
		read.unreadable += sum(1 for p in page.problems if p.skipped)
		read.latest = latest_optout(page.contacts, read.latest)
		if not ctx.dry_run:
			ctx.store.commit()
		if stray:
			_conclude_unreliable(
				ctx,
				state,
				f"optout_after returned {len(stray)} contact(s) that did not opt out after "
				f"{since:%Y-%m-%d %H:%M:%S} UTC (the filter is ignored)",
			)
			break
	return read


def _check_expected(ctx: RunContext, state: dict[str, Any], since: datetime, seen: set[str]) -> None:
	"""Every opt-out the app pushed to CC since the last run must have come back."""
	missing = _missing_expected(ctx, state["expected"], since, seen)
	if missing:
		_conclude_unreliable(
			ctx,
			state,
			f"optout_after did not return {len(missing)} opt-out(s) the app itself pushed to CC "
			f"({', '.join(missing[:5])})",
		)
	else:
		state["checked"] = state.get("checked", 0) + len(state["expected"])


def _held_optout(contact: Contact) -> bool:
	"""Unsubscribed (deleted or not, so a delete between the count and the query raises no alarm)."""
	return _opted_out(contact)[0] and bool(contact.contact_id)


def _unsubscribed_count(ctx: RunContext) -> int | None:
	page = next(iter(ctx.client.iter_contact_pages(status="unsubscribed", include_count=True, limit=1)), None)
	return page.contacts_count if page is not None else None


def _after(contact: Contact, since: datetime) -> bool:
	"""Unsubscribed, and not known to have opted out before `since`."""
	out, when = _opted_out(contact)
	return out and (when is None or when >= since)


def _dated_after(contact: Contact, since: datetime) -> bool:
	"""What a working `optout_after` may return: an opt-out dated after the bound (the person may have
	opted in again since), or an opt-out CC sent without a date."""
	out, when = _opted_out(contact)
	return when >= since if when is not None else out


def _missing_expected(
	ctx: RunContext, expected: list[dict[str, Any]], since: datetime, seen: set[str]
) -> list[str]:
	"""Pushed opt-outs the query should have returned but did not, confirmed by a lookup each."""
	missing = []
	for entry in expected:
		when = parse_datetime(entry.get("opt_out_date"))
		if entry["contact_id"] in seen or when is None or when <= since:
			continue
		try:
			contact = ctx.client.get_contact(entry["contact_id"])
		except NotFound:
			continue  # gone from CC altogether: nothing the query could have returned
		out, now_when = _opted_out(contact)
		if out and now_when is not None and now_when > since:
			missing.append(f"{entry.get('email')} opted out {now_when:%Y-%m-%d %H:%M:%S} UTC")
	return missing


def _fallback_scan(
	ctx: RunContext, since: datetime, latest: datetime | None
) -> tuple[dict[str, int], datetime | None, dict[str, datetime | None]]:
	"""Read every opt-out CC holds and apply those since `since`; returns the cost, the newest opt-out
	date, and every opt-out read (address -> date), which a re-check of the filter is held against."""
	report = ctx.report.stream(STREAM_OPTOUTS)
	applier = ctx.applier(report)
	calls_before = getattr(ctx.client, "calls", 0)
	read = 0
	fetched_before = report.fetched
	scanned: dict[str, datetime | None] = {}
	for contacts in exports.unsubscribed_batches(ctx, report):
		read += len(contacts)
		for contact in contacts:
			out, when = _opted_out(contact)
			email = normalise_email(contact.email) if out and isinstance(contact.email, str) else None
			if email:
				scanned[email] = when
		applier.apply([c for c in contacts if _after(c, since)])
		latest = latest_optout(contacts, latest)
		if not ctx.dry_run:
			ctx.store.commit()
	cost = {"calls": getattr(ctx.client, "calls", 0) - calls_before, "contacts": read}
	report.warn(
		None,
		f"full opt-out scan (optout_after not reliable): {cost['calls']} API calls, {read} contacts read, "
		f"{report.fetched - fetched_before} opted out since {since:%Y-%m-%d %H:%M:%S} UTC",
	)
	return cost, latest, scanned


def _seen_until(watermark: datetime | None, ran_at: str | None) -> datetime | None:
	"""Up to when the stream must have seen every opt-out: its watermark (CC's clock), or its last run
	(the site's clock) less an hour, so clocks that disagree by up to an hour raise no false alarm."""
	ran = parse_datetime(ran_at)
	bounds = [b for b in (watermark, ran - SKEW_MARGIN if ran else None) if b is not None]
	return max(bounds) if bounds else None


def run_optout_scan(ctx: RunContext) -> None:
	"""The safety net: every opt-out CC holds, applied; what the stream missed is reported one by one."""
	report = ctx.report.stream(STREAM_OPTOUT_SCAN)
	applier = ctx.applier(report)
	seen_until = _seen_until(ctx.store.get_watermark(STREAM_OPTOUTS), load_state(ctx).get("ran_at"))
	calls_before = getattr(ctx.client, "calls", 0)
	missed: list[str] = []
	for contacts in exports.unsubscribed_batches(ctx, report):
		unsubscribed = [c for c in contacts if _opted_out(c)[0]]
		writes = applier.apply(unsubscribed)
		dates = {c.email: _opted_out(c)[1] for c in unsubscribed}
		for write in writes:
			if write.consent_change != "out":
				continue
			when = dates.get(write.email)
			if seen_until is not None and when is not None and when <= seen_until:
				missed.append(write.email)
				report.warn(
					write.email,
					f"opt-out of {when:%Y-%m-%d %H:%M:%S} UTC found by the daily scan that the opt-out "
					"stream missed; applied now",
				)
			else:
				report.warn(write.email, "opt-out newer than the last opt-out run, applied by the daily scan")
		if not ctx.dry_run:
			ctx.store.commit()
	calls = getattr(ctx.client, "calls", 0) - calls_before
	if missed and not ctx.dry_run:
		state = load_state(ctx)
		if state["reliable"]:
			_conclude_unreliable(
				ctx,
				state,
				f"the daily opt-out scan found {len(missed)} opt-out(s) the stream missed",
				STREAM_OPTOUT_SCAN,
			)
			ctx.store.set_state(STATE, state)
			ctx.store.commit()
	report.notice = (
		f"Daily opt-out scan: {report.fetched} unsubscribed contacts read in {calls} API calls; "
		f"{len(missed)} opt-out(s) the stream had missed."
	)
	if not ctx.dry_run:
		watermarks.move(ctx, STREAM_OPTOUT_SCAN, ctx.now())
