"""The pull streams: each a CC query with its own watermark.

- opt-outs: `status=all&optout_after=W`: `updated_after` never sees an unsubscribe, because an
  unsubscribe moves only `email_address.updated_at`, not the contact's `updated_at`;
- changes: `status=all&updated_after=W` with the subresources the mappings need;
- deletes: `status=deleted`, which has no date filter. The first page carries `contacts_count`; when
  it equals the count the last complete run saw, no contact was deleted since (a revived contact moves
  its `updated_at`, so the changes stream sees it) and the stream stops after one call. Otherwise the
  whole list is read and the applier writes only what changed;
- reconcile: a complete `status=all` scan that corrects whatever the streams missed (list edits in CC's
  own screens, drift) and counts what it corrected.

The watermark is read before fetching, queried minus the overlap window, and moved (to the time read
before fetching) only after every page has been applied and committed. A failed stream leaves it alone.
A record CC sends that cannot be read is skipped (or applied without the unreadable part) and logged with
the reason and a raw snippet; the rest of its page is applied.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

from cc_sync.sync.context import RunContext
from cc_sync.sync.matching import normalise_email
from cc_sync.sync.records import STREAM_CHANGES, STREAM_DELETES, STREAM_OPTOUTS, STREAM_RECONCILE

# The first opt-out pull asks for every opt-out since before CC's V3 API existed.
OPTOUT_EPOCH = datetime(2000, 1, 1, tzinfo=timezone.utc)


def _query(ctx: RunContext, stream: str, since: datetime | None) -> dict[str, Any]:
	include = list(ctx.config.include)
	limit = ctx.config.page_limit
	if stream == STREAM_OPTOUTS:
		# CC's support: `status=all`, or contacts both deleted and unsubscribed are missed.
		return {
			"status": "all",
			"optout_after": since or OPTOUT_EPOCH,
			"include": include,
			"limit": limit,
		}
	if stream == STREAM_CHANGES:
		query: dict[str, Any] = {"status": "all", "include": include, "limit": limit}
		if since is not None:
			query["updated_after"] = since
		return query
	if stream == STREAM_DELETES:
		return {"status": "deleted", "include_count": True, "limit": limit}
	if stream == STREAM_RECONCILE:
		return {"status": "all", "include": include, "limit": limit}
	raise ValueError(f"not a pull stream: {stream}")


def run_pull(ctx: RunContext, stream: str) -> None:
	report = ctx.report.stream(stream)
	store = ctx.store
	watermark = store.get_watermark(stream)
	report.watermark_before = watermark
	started = ctx.now()
	since = watermark - ctx.config.overlap if watermark is not None else None
	applier = ctx.applier(report)
	deleted_count = None
	for number, page in enumerate(ctx.client.iter_contact_pages(**_query(ctx, stream, since))):
		if stream == STREAM_DELETES and number == 0:
			deleted_count = page.contacts_count
			if deleted_count is not None and deleted_count == store.get_deleted_count():
				report.fetched = 0
				break
		note_problems(report, page.problems)
		applier.apply(page.contacts)
		if not ctx.dry_run:
			store.commit()
	if stream == STREAM_RECONCILE:
		report.corrected = report.created + report.updated
	if ctx.dry_run:
		report.watermark_after = watermark
		return
	store.set_watermark(stream, started)
	if deleted_count is not None:
		store.set_deleted_count(deleted_count)
	store.commit()
	report.watermark_after = started


def note_problems(report: Any, problems: Iterable[Any]) -> None:
	"""Log the records of a page that were skipped or read in part, each with its reason and raw start."""
	for problem in problems:
		email = normalise_email(problem.email) if isinstance(problem.email, str) else None
		who = "" if email else f" (CC contact {problem.contact_id})" if problem.contact_id else ""
		if problem.skipped:
			report.fetched += 1
			report.skip(
				email,
				f"CC sent a record that cannot be read{who}, skipped: {problem.reason}. Raw: {problem.snippet}",
			)
		else:
			report.warn(email, f"applied; {problem.reason}{who}. Raw: {problem.snippet}")
