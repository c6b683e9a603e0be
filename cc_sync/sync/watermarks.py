"""A stream's watermark, kept one way by every stream (rule 2: nothing is missed).

It is read before fetching, the query starts the overlap window before it, and it moves only once the
whole stream has been applied and committed; a failed stream leaves it where it was, and a dry run never
moves it. The push can also be rewound, so that its next run looks at every record again.

A watermark a CC query starts from is on CC's clock (`cc_start`): CC filters `updated_after` by its own
stamps, so a watermark from a site clock ahead of CC's by more than the overlap would skip every CC edit
made just after a run, for good.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from cc_sync.sync.streams import STREAM_PUSH

if TYPE_CHECKING:
	from cc_sync.sync.context import RunContext
	from cc_sync.sync.store import SyncStore

# Watermark that makes the next push consider every record again (each is still skipped when it was
# pushed since its last change).
PUSH_REWIND = datetime(2000, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True, slots=True)
class Watermark:
	"""A stream's watermark as this run found it."""

	stream: str
	# What the store held before this run (None: the stream never completed).
	before: datetime | None
	# When it was read: where an incremental stream's watermark moves once the stream is done.
	started: datetime
	# Where the query starts: the watermark minus the overlap window (None: read everything).
	since: datetime | None
	# `started` on the site's monotonic clock, to place it on CC's clock once CC has answered.
	started_mono: float = 0.0


def read(ctx: RunContext, stream: str) -> Watermark:
	"""The stream's watermark, read before fetching, and noted on the stream's log row."""
	before = ctx.store.get_watermark(stream)
	ctx.report.stream(stream).watermark_before = before
	since = before - ctx.config.overlap if before is not None else None
	return Watermark(stream, before, ctx.now(), since, ctx.clock.monotonic())


def cc_start(ctx: RunContext, mark: Watermark, newest: datetime | None = None) -> datetime | None:
	"""When this stream's read started, on CC's clock: CC's `Date` (its last answer's, less the time
	since the read started), or else the newest `updated_at` the read returned; None when CC gave
	neither (the watermark then stays where it was, which only reads more next time)."""
	cc_now = getattr(ctx.client, "cc_now", None)
	now = cc_now() if callable(cc_now) else None
	if isinstance(now, datetime):
		return now - timedelta(seconds=max(0.0, ctx.clock.monotonic() - mark.started_mono))
	return newest


def newest_update(contacts: Iterable[Any], newest: datetime | None) -> datetime | None:
	"""The newest CC `updated_at` among `contacts`, or `newest` when none is newer (CC's clock)."""
	for contact in contacts:
		when = getattr(contact, "updated_at", None)
		if isinstance(when, datetime) and (newest is None or when > newest):
			newest = when
	return newest


def advance(ctx: RunContext, mark: Watermark, to: datetime | None) -> None:
	"""The whole stream is applied: move its watermark to `to` and commit (None keeps it where it was).

	A dry run changes nothing, so the watermark stays where it was.
	"""
	report = ctx.report.stream(mark.stream)
	if ctx.dry_run:
		report.watermark_after = mark.before
		return
	if to is None:
		ctx.store.commit()
		report.watermark_after = mark.before
		return
	move(ctx, mark.stream, to)


def move(ctx: RunContext, stream: str, to: datetime) -> None:
	"""Set the stream's watermark to `to`, commit, and note it on the stream's log row."""
	ctx.store.set_watermark(stream, to)
	ctx.store.commit()
	ctx.report.stream(stream).watermark_after = to


def rewind_push(store: SyncStore) -> None:
	"""Make the next push look at every record again (uncommitted: it goes with the caller's writes)."""
	store.set_watermark(STREAM_PUSH, PUSH_REWIND)
