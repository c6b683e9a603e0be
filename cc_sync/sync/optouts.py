"""The opt-out stream: everyone who unsubscribed in CC since the last run, without missing one.

`GET /contacts?status=all&optout_after=W` (CC support: `status=all`, or contacts both deleted and
unsubscribed are missed; `updated_after` never sees an unsubscribe).

The watermark is on CC's clock, not the site's: it is the latest `opt_out_date` CC has reported, and the
next query starts at least one second before it. CC stamps opt-outs in whole seconds and `optout_after`
is strict, so an opt-out stamped in the same second as the watermark would be missed by a query from the
watermark itself; and a watermark taken from the site's clock misses every opt-out CC stamps earlier
than it, which is all of them when CC's clock lags the site's by more than the overlap. Opt-outs seen
again inside the window cost no write (the applier finds nothing to change).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import Any

from cc_sync.sync.context import RunContext
from cc_sync.sync.records import STREAM_OPTOUTS

# The first opt-out pull asks for every opt-out since before CC's V3 API existed.
OPTOUT_EPOCH = datetime(2000, 1, 1, tzinfo=timezone.utc)
# CC stamps whole seconds and optout_after is strict: a query must start a second before the watermark.
MIN_WINDOW = timedelta(seconds=1)


def query_start(watermark: datetime | None, overlap: timedelta) -> datetime:
	"""Where the next opt-out query starts: the watermark minus the overlap (at least one second)."""
	if watermark is None:
		return OPTOUT_EPOCH
	return watermark - max(overlap, MIN_WINDOW)


def latest_optout(contacts: Iterable[Any], current: datetime | None) -> datetime | None:
	"""The newest CC `opt_out_date` among unsubscribed contacts, or `current` when none is newer."""
	latest = current
	for contact in contacts:
		email = getattr(contact, "email_address", None)
		when = getattr(email, "opt_out_date", None)
		if when is None or getattr(email, "permission_to_send", None) != "unsubscribed":
			continue
		if latest is None or when > latest:
			latest = when
	return latest


def run_optouts(ctx: RunContext) -> None:
	from cc_sync.sync.pull import note_problems

	report = ctx.report.stream(STREAM_OPTOUTS)
	store = ctx.store
	watermark = store.get_watermark(STREAM_OPTOUTS)
	report.watermark_before = watermark
	since = query_start(watermark, ctx.config.overlap)
	applier = ctx.applier(report)
	latest = watermark
	query = {
		"status": "all",
		"optout_after": since,
		"include": list(ctx.config.include),
		"limit": ctx.config.page_limit,
	}
	for page in ctx.client.iter_contact_pages(**query):
		note_problems(report, page.problems)
		applier.apply(page.contacts)
		latest = latest_optout(page.contacts, latest)
		if not ctx.dry_run:
			store.commit()
	if ctx.dry_run:
		report.watermark_after = watermark
		return
	if latest is not None and latest != watermark:
		store.set_watermark(STREAM_OPTOUTS, latest)
		store.commit()
	report.watermark_after = latest
