"""The deletes stream: which contacts CC has deleted, for as few calls as what changed allows."""

from __future__ import annotations

from typing import Any

from cc_sync.sync import exports, watermarks
from cc_sync.sync.apply import PageApplier
from cc_sync.sync.context import RunContext
from cc_sync.sync.pages import apply_pages
from cc_sync.sync.streams import STREAM_DELETES


def run_deletes(ctx: RunContext) -> None:
	"""Deletes cost what changed: one call when nothing did, then only as much reading as it takes.

	CC offers no `deleted_after`, `deleted_at` is a bare date, and a delete may not move the contact's
	`updated_at` (unconfirmed; the emulator assumes it does not). So the stream first compares CC's
	deleted count (`status=deleted&include_count=true&limit=1`, one call) with the number of contacts
	the site holds as deleted (an index range, so a quiet run costs the same on a site of any size), plus the deleted contacts the site cannot hold (no email address) as
	counted at the last full read. Equal: nothing to read. Otherwise it reads
	`status=deleted&updated_after=W`, which costs calls in proportion to the new deletes wherever CC
	stamps a delete; and only if the counts still disagree, the whole deleted list, after which the
	counts agree again. That whole read pages (one call per 500) on a small list and goes through CC's
	contact export (`status=deleted`: a POST, a few polls, one download) once the list is larger than
	`SyncConfig.export_threshold`, so even then its cost does not grow with every delete ever. Comparing with what the site holds, rather than with CC's previous count, sees
	a delete that a revival cancelled out in the count: the changes pull (run before this one in every
	job that pushes) has already taken the revived contact off the site's deleted count.
	"""
	report = ctx.report.stream(STREAM_DELETES)
	store = ctx.store
	mark = watermarks.read(ctx, STREAM_DELETES)
	since = mark.since
	unheld = store.get_deleted_count() or 0
	query = {"status": "deleted", "include_count": True, "limit": ctx.config.page_limit}
	cc_deleted = _deleted_total(ctx, query)
	if cc_deleted - store.count_cc_deleted() != unheld:
		applier = ctx.applier(report)
		if since is not None:
			apply_pages(ctx, {**query, "updated_after": since}, applier)
		if since is None or cc_deleted - store.count_cc_deleted() != unheld:
			_read_all(ctx, query, applier, cc_deleted)
			unheld = cc_deleted - store.count_cc_deleted()
			if not ctx.dry_run:
				store.set_deleted_count(unheld)
	# On CC's clock, which stamps what `updated_after` compares.
	watermarks.advance(ctx, mark, watermarks.cc_start(ctx, mark))


def _deleted_total(ctx: RunContext, query: dict[str, Any]) -> int:
	"""How many contacts CC holds deleted, from one page of one contact."""
	for page in ctx.client.iter_contact_pages(**{**query, "limit": 1}):
		if page.contacts_count is None:
			raise ValueError("CC did not report contacts_count for status=deleted&include_count=true")
		return page.contacts_count
	return 0


def _read_all(ctx: RunContext, query: dict[str, Any], applier: PageApplier, count: int) -> None:
	"""The whole deleted list: paged when small, through CC's export when large."""
	threshold = ctx.config.export_threshold
	if not threshold or count <= threshold:
		apply_pages(ctx, query, applier)
		return
	report = applier.report
	report.warn(
		None,
		f"{count} deleted contacts: read through CC's export instead of "
		f"{exports.paging_calls(count, ctx.config.page_limit)} pages",
	)
	today = ctx.now().date()
	for batch in exports.export_batches(ctx, report, status="deleted"):
		# Export rows say nothing of the delete itself: every row of this export is deleted.
		applier.apply([c if c.deleted_at else c.model_copy(update={"deleted_at": today}) for c in batch])
		if not ctx.dry_run:
			ctx.store.commit()
