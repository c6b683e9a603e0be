"""A paged changes read that stops part way carries on from its last applied page on the next run.

Each applied page is committed together with a resume point: the next page's cursor, the query it
belongs to, and the time read before the first page. The next run of the stream, finding one, follows
the cursor instead of asking CC for page one again, and once the last page is applied moves the
watermark to that first run's start, so whatever changed in CC meanwhile is read again by the run
after (the watermark rules are unchanged: it moves only when every page of the query has been applied).

A resume point is dropped, and the stream read afresh, when the query it belongs to is not this run's
(the watermark or the settings changed), when it is older than `SyncConfig.resume_max_age` (CC does not
document how long a cursor lives), or when CC refuses the cursor (400, 404 or 410). A dry run neither
uses nor leaves one. Whole-account reads above the export threshold go through CC's export, which
costs a handful of calls to start again, so they keep no resume point.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from cc_sync.constant_contact.errors import ConstantContactError, NotFound, ValidationError
from cc_sync.sync import watermarks
from cc_sync.sync.context import RunContext
from cc_sync.sync.pages import note_problems
from cc_sync.sync.watermarks import Watermark


@dataclass(frozen=True, slots=True)
class ResumePoint:
	next_href: str
	query: str
	started: datetime
	saved_at: datetime
	pages: int
	fetched: int = 0

	def as_state(self) -> dict[str, Any]:
		return {
			"next_href": self.next_href,
			"query": self.query,
			"started": self.started.isoformat(),
			"saved_at": self.saved_at.isoformat(),
			"pages": self.pages,
			"fetched": self.fetched,
		}

	@classmethod
	def from_state(cls, state: dict[str, Any] | None) -> ResumePoint | None:
		if not state:
			return None
		try:
			return cls(
				next_href=str(state["next_href"]),
				query=str(state["query"]),
				started=_aware(state["started"]),
				saved_at=_aware(state["saved_at"]),
				pages=int(state["pages"]),
				fetched=int(state.get("fetched") or 0),
			)
		except (KeyError, TypeError, ValueError):
			# Unreadable: the stream reads afresh, which is always safe.
			return None


def _aware(value: Any) -> datetime:
	parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
	if parsed.tzinfo is None:
		parsed = parsed.replace(tzinfo=timezone.utc)
	return parsed.astimezone(timezone.utc)


def state_name(stream: str) -> str:
	return f"resume:{stream}"


def fingerprint(query: dict[str, Any]) -> str:
	return json.dumps(query, default=str, sort_keys=True)


def get_point(ctx: RunContext, stream: str, name: str | None = None) -> ResumePoint | None:
	return ResumePoint.from_state(ctx.store.get_state(name or state_name(stream)))


def read_pages(
	ctx: RunContext,
	stream: str,
	query: dict[str, Any],
	applier: Any,
	mark: Watermark,
	*,
	name: str | None = None,
) -> datetime | None:
	"""Apply every page of `query`, carrying on from a usable resume point if there is one, and keeping
	one after every applied page. Returns the time the watermark moves to, on CC's clock: this read's
	start, or the start of the run whose read this one finished (None: CC told neither, see
	`watermarks.cc_start`). `name` keeps the resume point apart from the stream's own (a second read
	within the stream, such as a list's fill)."""
	report = ctx.report.stream(stream)
	name = name or state_name(stream)
	query_key = fingerprint(query)
	point = None if ctx.dry_run else _usable(ctx, stream, query_key, name)
	own = name == state_name(stream)
	pages = _resumed_pages(ctx, stream, point, moves_watermark=own) if point is not None else None
	number = fetched = 0
	started: datetime | None = None
	newest: datetime | None = None
	if point is not None and pages is not None:
		started, number, fetched = point.started, point.pages, point.fetched
	else:
		pages = iter(ctx.client.iter_contact_pages(**query))
	for page in pages:
		note_problems(report, page.problems)
		applier.apply(page.contacts)
		number += 1
		fetched += len(page.contacts)
		if point is None or started is None:
			newest = watermarks.newest_update(page.contacts, newest)
		if ctx.dry_run:
			continue
		start = started or watermarks.cc_start(ctx, mark, newest)
		if page.next_href and start is not None:
			ctx.store.set_state(
				name,
				ResumePoint(page.next_href, query_key, start, ctx.now(), number, fetched).as_state(),
			)
		ctx.store.commit()
	return started or watermarks.cc_start(ctx, mark, newest)


def clear(ctx: RunContext, stream: str, name: str | None = None) -> None:
	"""Forget the stream's resume point (uncommitted: it goes with the watermark's move)."""
	name = name or state_name(stream)
	if not ctx.dry_run and ctx.store.get_state(name):
		ctx.store.set_state(name, {})


def _usable(ctx: RunContext, stream: str, query_key: str, name: str) -> ResumePoint | None:
	point = get_point(ctx, stream, name)
	if point is None:
		return None
	if point.query != query_key:
		reason = "its query is not this run's (the watermark or the settings changed)"
	elif ctx.now() - point.saved_at > ctx.config.resume_max_age:
		reason = f"it is older than {ctx.config.resume_max_age}"
	else:
		return point
	ctx.report.stream(stream).warn(
		None, f"an unfinished run stopped after page {point.pages}; read afresh, as {reason}"
	)
	return None


def _resumed_pages(
	ctx: RunContext, stream: str, point: ResumePoint, *, moves_watermark: bool = True
) -> Iterator[Any] | None:
	"""The pages after the resume point, or None when CC refuses the saved cursor. `moves_watermark` is
	False for a read within the stream that moves no watermark (a list's fill)."""
	report = ctx.report.stream(stream)
	pages = iter(ctx.client.continue_contact_pages(point.next_href))
	try:
		first = next(pages, None)
	except ConstantContactError as exc:
		if not isinstance(exc, (ValidationError, NotFound)) and exc.status != 410:
			raise
		report.warn(
			None,
			f"an unfinished run stopped after page {point.pages}; CC refused its cursor ({exc}): read afresh",
		)
		return None
	carried = (
		f"carried on after page {point.pages} ({point.fetched:,} contacts), where an unfinished run stopped"
	)
	if moves_watermark:
		carried += f"; the watermark moves to that run's start, {point.started:%Y-%m-%d %H:%M:%S} UTC"
	report.warn(None, carried)
	return itertools.chain([first], pages) if first is not None else iter(())
