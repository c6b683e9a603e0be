"""A CC list newly mapped for pull (or a mapping turned to pull) fills its Email Group at the next run.

The changes stream reads only contacts CC changed since its watermark, and joining a list moves no
timestamp, so a newly mapped list's group would hold only the members who happened to change until the
weekly reconcile. So the changes stream, once its own read is applied, reads the members of every
pull-mapped list whose group it has not filled yet: at CC's pace, page by page from `GET
/contacts?lists=` (resumable, as the changes read itself), or through CC's export of the list above the
export threshold. Each member goes through the page applier, so the group's consent rules hold as for
any pull: someone opted out joins unsubscribed, someone who left the group stays out of it, someone who
left the list through a group leave (since remapped) joins unsubscribed, and nobody is re-subscribed.

Which mapping has been filled is kept as the stream's own state (list id -> group). A whole-account read
(the first sync, a reconcile) fills every mapped list at once. A mapping that stops pulling is forgotten,
so mapping the list again fills again. A dry run reads and shows the fill without recording it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cc_sync.constant_contact.errors import NotFound, ValidationError
from cc_sync.sync import exports, resume, watermarks
from cc_sync.sync.context import RunContext
from cc_sync.sync.records import ContactWrite
from cc_sync.sync.report import StreamReport
from cc_sync.sync.streams import STREAM_CHANGES

STATE = "list_fills"


def filled(ctx: RunContext) -> dict[str, str]:
	"""The pull mappings already filled: CC list id -> the Email Group it filled."""
	state = ctx.store.get_state(STATE) or {}
	return {str(k): str(v) for k, v in (state.get("filled") or {}).items()}


def due(ctx: RunContext) -> list[tuple[str, str]]:
	"""Pull mappings whose group has not been filled from their list yet: (list id, group)."""
	done = filled(ctx)
	return [
		(list_id, group)
		for list_id, group in sorted(ctx.config.group_by_list.items())
		if done.get(list_id) != group
	]


def mark_all_filled(ctx: RunContext) -> None:
	"""A whole-account read applied every member of every list: each mapped group is filled."""
	if not ctx.dry_run and filled(ctx) != ctx.config.group_by_list:
		ctx.store.set_state(STATE, {"filled": dict(ctx.config.group_by_list)})
		ctx.store.commit()


def _mark(ctx: RunContext, list_id: str | None = None, group: str | None = None) -> None:
	"""Record one fill, and forget mappings that no longer pull (mapping them again fills again)."""
	current = ctx.config.group_by_list
	done = {k: v for k, v in filled(ctx).items() if current.get(k) == v}
	if list_id is not None and group is not None:
		done[list_id] = group
	if done != filled(ctx):
		ctx.store.set_state(STATE, {"filled": done})
	ctx.store.commit()


class _Counted:
	"""The stream's applier, counting the member rows a fill writes into its group."""

	def __init__(self, applier: Any, group: str) -> None:
		self.applier = applier
		self.report: StreamReport = applier.report
		self.group = group
		self.read = 0
		self.joined = 0
		self.joined_unsubscribed = 0

	def apply(self, contacts: Sequence[Any]) -> list[ContactWrite]:
		self.read += len(contacts)
		writes = self.applier.apply(contacts)
		for write in writes:
			row = write.rows.get(self.group)
			if row is not None:
				if row.unsubscribed:
					self.joined_unsubscribed += 1
				else:
					self.joined += 1
		return writes


def run_fills(ctx: RunContext, applier: Any) -> None:
	"""Fill the group of every pull mapping not filled yet (after the changes read, in its stream)."""
	report = ctx.report.stream(STREAM_CHANGES)
	waiting = due(ctx)
	if not ctx.dry_run:
		_mark(ctx)
	if not waiting:
		return
	lists = {lst.list_id: lst for lst in ctx.client.get_contact_lists(include_membership_count="all")}
	notes = []
	for list_id, group in waiting:
		found = lists.get(list_id)
		if found is None:
			report.warn(
				None, f"CC list {list_id}, mapped to {group}, is not in CC (deleted?): nothing to fill"
			)
			if not ctx.dry_run:
				_mark(ctx, list_id, group)
			continue
		name = found.name or list_id
		counted = _Counted(applier, group)
		try:
			_read_members(ctx, counted, list_id, found.membership_count)
		except (exports.ExportFailed, NotFound, ValidationError) as exc:
			report.warn(None, f"could not fill {group} from CC list {name} ({exc}): tried again next run")
			continue
		if not ctx.dry_run:
			_mark(ctx, list_id, group)
			resume.clear(ctx, STREAM_CHANGES, _resume_name(list_id))
			ctx.store.commit()
		verb = "Would fill" if ctx.dry_run else "Filled"
		notes.append(
			f"{verb} Email Group {group} from CC list {name}: {counted.read:,} members read, "
			f"{counted.joined:,} joined, {counted.joined_unsubscribed:,} recorded unsubscribed "
			"(opted out, or left the group or the list)"
		)
	if notes:
		report.notice = " ".join(filter(None, [report.notice, *[f"{n}." for n in notes]]))


def _resume_name(list_id: str) -> str:
	return f"{resume.state_name(STREAM_CHANGES)}:fill:{list_id}"


def _read_members(ctx: RunContext, counted: _Counted, list_id: str, size: int | None) -> None:
	"""Every member of one list through the applier: paged and resumable, or exported when large."""
	threshold = ctx.config.export_threshold
	if threshold and size is not None and size > threshold:
		counted.report.warn(
			None,
			f"CC list {list_id}: {size:,} members read through CC's export instead of "
			f"{exports.paging_calls(size)} pages",
		)
		for batch in exports.export_batches(ctx, counted.report, list_ids=[list_id]):
			counted.apply(batch)
			if not ctx.dry_run:
				ctx.store.commit()
		return
	query = {
		"lists": [list_id],
		"status": "all",
		"include": list(ctx.config.include),
		"limit": ctx.config.page_limit,
	}
	# A fill moves no watermark: its read's start only dates its resume point.
	mark = watermarks.Watermark(STREAM_CHANGES, None, ctx.now(), None, ctx.clock.monotonic())
	resume.read_pages(ctx, STREAM_CHANGES, query, counted, mark, name=_resume_name(list_id))
