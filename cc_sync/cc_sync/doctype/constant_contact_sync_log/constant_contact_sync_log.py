"""One stream of one sync run: what it fetched, changed, skipped and why, and what it cost."""

import frappe
from frappe.model.document import Document
from frappe.query_builder import Interval
from frappe.query_builder.functions import Now

from cc_sync.cc_sync.constants import SYNC_LOG, SYNC_LOG_ITEM

HEADLINE_COUNTS = ("fetched", "created", "updated", "unsubscribed", "deleted", "pushed", "skipped", "failed")


class ConstantContactSyncLog(Document):
	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		from cc_sync.cc_sync.doctype.constant_contact_sync_log_item.constant_contact_sync_log_item import (
			ConstantContactSyncLogItem,
		)

		activity_ids: DF.SmallText | None
		api_calls: DF.Int
		corrected: DF.Int
		created: DF.Int
		deleted: DF.Int
		dry_run: DF.Check
		ended: DF.Datetime | None
		error: DF.SmallText | None
		failed: DF.Int
		fetched: DF.Int
		items: DF.Table[ConstantContactSyncLogItem]
		plan: DF.Code | None
		pushed: DF.Int
		reference: DF.Data | None
		resubscribed: DF.Int
		run_id: DF.Data | None
		skipped: DF.Int
		started: DF.Datetime | None
		status: DF.Literal["Queued", "Running", "Success", "Partial", "Failed", "Skipped"]
		stream: DF.Literal[
			"", "changes", "optouts", "deletes", "reconcile", "optout_push", "push", "activities"
		]
		title: DF.Data | None
		traceback: DF.Code | None
		trigger: DF.Literal["Scheduler", "Settings button", "Contact button", "Lead button", "Shell"]
		unchanged: DF.Int
		unsubscribed: DF.Int
		updated: DF.Int
		watermark_after: DF.Datetime | None
		watermark_before: DF.Datetime | None
	# end: auto-generated types

	def moved_counts(self) -> list[str]:
		"""The counts worth a glance ("280 created", "4 skipped"), in a fixed order; zeros left out."""
		return [f"{self.get(f)} {f}" for f in HEADLINE_COUNTS if self.get(f)]

	def validate(self) -> None:
		"""A list-view title that says what happened: stream, status and the counts that moved."""
		moved = self.moved_counts()
		head = f"{self.stream or 'sync'}{' (dry run)' if self.dry_run else ''}: {self.status}"
		self.title = (f"{head} · {', '.join(moved[:4])}" if moved else head)[:140]

	@staticmethod
	def clear_old_logs(days: int = 30) -> None:
		"""Log Settings calls this daily. Failed and partial runs are kept three times longer."""
		table = frappe.qb.DocType(SYNC_LOG)
		frappe.db.delete(
			table,
			filters=(table.creation < (Now() - Interval(days=days)))
			& (table.status.isin(["Success", "Skipped"])),
		)
		frappe.db.delete(table, filters=(table.creation < (Now() - Interval(days=days * 3))))
		# Their record rows go with them.
		frappe.db.sql(
			f"""delete item from `tab{SYNC_LOG_ITEM}` item
			left join `tab{SYNC_LOG}` log on log.name = item.parent
			where log.name is null"""
		)
