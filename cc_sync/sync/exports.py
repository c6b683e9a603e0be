"""Large reads through CC's contact export instead of paging.

Paging costs one call per 500 contacts; an export costs one POST, a few polls and one download whatever
the account's size. So a whole-account read (the first sync's backfill, the full reconcile, the daily
opt-out scan) uses the export when CC reports more contacts than `SyncConfig.export_threshold`, and pages
below it. The size comes from `include_count` on the first page, which the paging path then keeps using,
so choosing costs nothing extra when the account is small.

The export CSV is read by CC's real header format (`constant_contact.export_format`). It carries no
contact id, so its rows are matched on the site by email; list memberships come from list names, and a
row whose list names cannot all be resolved leaves its memberships alone (and says so in the log).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from cc_sync.constant_contact.export_format import OPTOUT_EXPORT_FIELDS, SYNC_EXPORT_FIELDS
from cc_sync.constant_contact.export_reader import ExportReader
from cc_sync.sync.context import RunContext
from cc_sync.sync.pages import note_problems
from cc_sync.sync.report import StreamReport

BATCH = 500


class ExportFailed(RuntimeError):
	"""CC did not finish the export (failed, cancelled, timed out, or still running after the polls)."""


def paging_calls(contacts: int, page_limit: int = 500) -> int:
	"""API calls a paged read of `contacts` costs (an empty read still costs one)."""
	return max(1, -(-contacts // page_limit))


def export_calls(polls: int) -> int:
	"""API calls an export costs: the POST, its polls, the list and custom-field lookups, the download."""
	return 1 + polls + 2 + 1


def contacts(
	ctx: RunContext,
	report: StreamReport,
	query: dict[str, Any],
	*,
	export_status: str | None = None,
	fields: Sequence[str] = SYNC_EXPORT_FIELDS,
) -> tuple[bool, Iterator[list[Any]]]:
	"""Every contact `query` selects, in batches: paged, or through an export on a large account.

	Returns (exported, batches). `export_status` is the export's `status` filter that selects the same
	contacts as `query`.
	"""
	pages = ctx.client.iter_contact_pages(**{**query, "include_count": True})
	first = next(pages, None)
	count = first.contacts_count if first is not None else None
	threshold = ctx.config.export_threshold
	if threshold and count is not None and count > threshold:
		report.warn(
			None, f"{count} contacts: read through CC's export instead of {paging_calls(count)} pages"
		)
		return True, export_batches(ctx, report, status=export_status, fields=fields)

	def paged() -> Iterator[list[Any]]:
		if first is None:
			return
		note_problems(report, first.problems)
		yield first.contacts
		for page in pages:
			note_problems(report, page.problems)
			yield page.contacts

	return False, paged()


def export_batches(
	ctx: RunContext,
	report: StreamReport,
	*,
	status: str | None = None,
	list_ids: Sequence[str] | None = None,
	fields: Sequence[str] = SYNC_EXPORT_FIELDS,
) -> Iterator[list[Any]]:
	"""Run one export (of every contact, or of the members of `list_ids`) and yield its rows as
	`Contact`s, 500 at a time."""
	client = ctx.client
	extra = {"list_ids": list(list_ids)} if list_ids else {}
	activity = client.create_contact_export(status=status, fields=list(fields), **extra)
	report.activity_ids.append(activity.activity_id)
	href = activity.results_href or activity.activity_id
	delay = ctx.config.export_poll_interval
	for _ in range(ctx.config.export_polls):
		if activity.is_finished:
			break
		ctx.clock.sleep(delay)
		delay = min(delay * 2, 30.0)
		activity = client.get_activity(activity.activity_id)
	if activity.state != "completed":
		raise ExportFailed(f"CC's export {activity.activity_id} ended {activity.state or 'unfinished'}")
	reader = ExportReader(
		list_ids_by_name={lst.name: lst.list_id for lst in client.get_contact_lists() if lst.name},
		field_ids_by_label={f.label: f.custom_field_id for f in client.get_custom_fields() if f.label},
	)
	batch: list[Any] = []
	for row in client.read_contact_export(activity.results_href or href, reader):
		for problem in row.problems:
			report.warn(row.contact.email, f"export row read in part: {problem}")
		batch.append(row.contact)
		if len(batch) >= BATCH:
			yield batch
			batch = []
	if batch:
		yield batch


def unsubscribed_batches(ctx: RunContext, report: StreamReport) -> Iterator[list[Any]]:
	"""Every contact CC holds as unsubscribed, deleted ones too: the opt-out safety net's read.

	Paged: `status=unsubscribed`, then `status=deleted` (a contact both deleted and unsubscribed reports
	as deleted). Exported: `status=unsubscribed`, which selects on permission, deleted or not.
	"""
	limit = ctx.config.page_limit
	exported, batches = contacts(
		ctx,
		report,
		{"status": "unsubscribed", "limit": limit},
		export_status="unsubscribed",
		fields=OPTOUT_EXPORT_FIELDS,
	)
	yield from batches
	if exported:
		return
	for page in ctx.client.iter_contact_pages(status="deleted", limit=limit):
		note_problems(report, page.problems)
		yield page.contacts
