"""The pull streams: each a CC query with its own watermark.

- opt-outs: `status=all&optout_after=W` (see `optouts`): `updated_after` never sees an unsubscribe,
  because an unsubscribe moves only `email_address.updated_at`, not the contact's `updated_at`;
- changes: `status=all&updated_after=W` with the subresources the mappings need;
- deletes: see `run_deletes`;
- reconcile: a complete `status=all` scan that corrects whatever the streams missed (list edits in CC's
  own screens, drift) and reports what it corrected, per kind.

The reconcile and the first changes pull (the backfill) read the whole account: through CC's export when
CC reports more contacts than the export threshold, paging below it (see `exports`).

The watermark is read before fetching, queried minus the overlap window, and moved (to the time the read
started, on CC's clock: see `watermarks.cc_start`) only after every page has been applied and committed.
A failed stream leaves it alone; an incremental changes read that failed part way carries on from its last applied page (see `resume`).
A record CC sends that cannot be read is skipped (or applied without the unreadable part) and logged with
the reason and a raw snippet; the rest of its page is applied.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cc_sync.sync import exports, fill, optouts, resume, watermarks
from cc_sync.sync.apply import PageApplier
from cc_sync.sync.context import RunContext
from cc_sync.sync.deletes import run_deletes
from cc_sync.sync.records import ContactWrite
from cc_sync.sync.streams import (
	STREAM_CHANGES,
	STREAM_DELETES,
	STREAM_OPTOUT_SCAN,
	STREAM_OPTOUTS,
	STREAM_RECONCILE,
)


def _query(ctx: RunContext, stream: str, since: datetime | None) -> dict[str, Any]:
	include = list(ctx.config.include)
	limit = ctx.config.page_limit
	if stream == STREAM_CHANGES:
		# include_count: the same call also says how many changed, so the desk can show "X of N".
		query: dict[str, Any] = {"status": "all", "include": include, "limit": limit, "include_count": True}
		if since is not None:
			query["updated_after"] = since
		return query
	if stream == STREAM_RECONCILE:
		return {"status": "all", "include": include, "limit": limit}
	raise ValueError(f"not a pull stream: {stream}")


def run_pull(ctx: RunContext, stream: str) -> None:
	if stream == STREAM_DELETES:
		run_deletes(ctx)
		return
	if stream == STREAM_OPTOUTS:
		optouts.run_optouts(ctx)
		return
	if stream == STREAM_OPTOUT_SCAN:
		optouts.run_optout_scan(ctx)
		return
	report = ctx.report.stream(stream)
	mark = watermarks.read(ctx, stream)
	query = _query(ctx, stream, mark.since)
	applier = ctx.applier(report)
	started: datetime | None
	if stream == STREAM_RECONCILE or mark.since is None:
		# A whole-account read (the reconcile, or the first sync's backfill): CC's export when large.
		corrections, newest = _read_whole(ctx, query, applier)
		if stream == STREAM_RECONCILE:
			report.corrected = corrections.total
			report.notice = corrections.summary()
			# Never queried from: the time of the site's last complete read.
			started = mark.started
		else:
			started = watermarks.cc_start(ctx, mark, newest)
		# Every member of every mapped list was read: each mapped group is filled.
		fill.mark_all_filled(ctx)
		watermarks.advance(ctx, mark, started)
		return
	# An incremental read: it carries on where an unfinished one stopped (see `resume`).
	started = resume.read_pages(ctx, stream, query, applier, mark)
	resume.clear(ctx, stream)
	watermarks.advance(ctx, mark, started)
	# Then the groups of lists mapped since (or turned to pull) are filled from their members.
	fill.run_fills(ctx, applier)


def _read_whole(
	ctx: RunContext, query: dict[str, Any], applier: PageApplier
) -> tuple[Corrections, datetime | None]:
	"""Apply every contact of a whole-account query, paged or exported; returns what the writes corrected
	and the newest `updated_at` read.

	Each page's writes are counted and let go: nothing of a million-contact read outlives its page.
	"""
	corrections = Corrections()
	newest: datetime | None = None
	_exported, batches = exports.contacts(ctx, applier.report, query)
	for batch, upcoming in _with_next(batches):
		newest = watermarks.newest_update(batch, newest)
		corrections.add(applier.apply(batch, upcoming))
		if not ctx.dry_run:
			ctx.store.commit()
	return corrections, newest


def _with_next(batches: Iterable[list[Any]]) -> Iterator[tuple[list[Any], list[Any] | None]]:
	"""Each batch with the one after it (None for the last), so the store can read the next page while
	this one is decided: two pages held at a time. Should reading the next one fail, this one is still
	applied before the failure is raised."""
	pages = iter(batches)
	current = next(pages, None)
	while current is not None:
		try:
			upcoming = next(pages, None)
		except Exception:
			yield current, None
			raise
		yield current, upcoming
		current = upcoming


# What a reconcile can correct, in the order its summary names them.
CORRECTION_KINDS = (
	("created", "contacts created"),
	("linked", "linked to their CC contact"),
	("fields", "field values"),
	("unsubscribed", "opt-outs"),
	("resubscribed", "re-subscriptions"),
	("deleted", "marked deleted in CC"),
	("undeleted", "no longer deleted in CC"),
	("groups", "list memberships"),
)


def correction_kinds(write: ContactWrite) -> list[str]:
	"""The kinds of correction one write makes."""
	if write.key is None:
		return ["created"]
	kinds = []
	if write.cc_contact_id:
		kinds.append("linked")
	if write.fields:
		kinds.append("fields")
	if write.consent_change == "out":
		kinds.append("unsubscribed")
	elif write.consent_change == "in":
		kinds.append("resubscribed")
	if write.cc_deleted is True:
		kinds.append("deleted")
	elif write.cc_deleted is False:
		kinds.append("undeleted")
	if write.rows:
		kinds.append("groups")
	return kinds


# How many corrected records a reconcile's summary names per kind; the rest are counted.
NAMED_PER_KIND = 5


@dataclass
class Corrections:
	"""What a whole-account read's writes corrected, counted per kind as the pages are applied, with
	the first few records of each kind named."""

	total: int = 0
	kinds: dict[str, int] = field(default_factory=dict)
	named: dict[str, list[str]] = field(default_factory=dict)

	def add(self, writes: Iterable[ContactWrite]) -> None:
		for write in writes:
			self.total += 1
			for kind in correction_kinds(write):
				self.kinds[kind] = self.kinds.get(kind, 0) + 1
				names = self.named.setdefault(kind, [])
				if len(names) < NAMED_PER_KIND:
					fields = f": {', '.join(sorted(write.fields))}" if kind == "fields" else ""
					names.append(f"{write.email}{fields}")

	def summary(self) -> str:
		"""What a reconcile corrected, per kind, naming the records: "Corrected 2 contact(s): 1 contacts
		created (ann@example.com), 1 field values (kai@example.com: first_name, last_name)"."""
		if not self.total:
			return "Nothing to correct: the site matched CC."
		parts = []
		for kind, label in CORRECTION_KINDS:
			count = self.kinds.get(kind)
			if not count:
				continue
			more = count - len(self.named[kind])
			shown = "; ".join(self.named[kind]) + (f"; and {more} more" if more > 0 else "")
			parts.append(f"{count} {label} ({shown})")
		return f"Corrected {self.total} contact(s): {', '.join(parts) or 'CC state only'}."
