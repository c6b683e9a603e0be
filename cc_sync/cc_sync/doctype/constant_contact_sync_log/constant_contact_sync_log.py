"""One sync run: what each stream fetched, changed, skipped and why, and what the run cost.

Scheduled runs that changed nothing share one log (its `runs` counts them), so a quiet day leaves a
few lines rather than hundreds.
"""

import frappe
from frappe import _
from frappe.model.document import Document
from frappe.query_builder import Interval
from frappe.query_builder.functions import Now
from frappe.utils import get_datetime

from cc_sync.cc_sync.constants import SYNC_LOG, SYNC_LOG_ITEM, SYNC_LOG_PLAN, SYNC_LOG_STREAM, LogStatus
from cc_sync.sync.streams import COUNTS


def count_phrases(values: dict) -> list[str]:
	"""The counts worth a glance ("280 created", "4 skipped"), in the stream table's order; zeros left out."""
	return [_(c.phrase).format(f"{values.get(c.name):,}") for c in COUNTS if c.change and values.get(c.name)]


def summary_text(values: dict) -> str:
	"""One line for a list column: what moved, or that nothing did (with how much was read)."""
	moved = count_phrases(values)
	if moved:
		return ", ".join(moved)
	if values.get("fetched"):
		return _("No changes ({0} read)").format(f"{values.get('fetched'):,}")
	return _("No changes")


class ConstantContactSyncLog(Document):
	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		from cc_sync.cc_sync.doctype.constant_contact_sync_log_item.constant_contact_sync_log_item import (
			ConstantContactSyncLogItem,
		)
		from cc_sync.cc_sync.doctype.constant_contact_sync_log_plan.constant_contact_sync_log_plan import (
			ConstantContactSyncLogPlan,
		)
		from cc_sync.cc_sync.doctype.constant_contact_sync_log_stream.constant_contact_sync_log_stream import (
			ConstantContactSyncLogStream,
		)

		activity_ids: DF.SmallText | None
		api_calls: DF.Int
		corrected: DF.Int
		created: DF.Int
		deleted: DF.Int
		dry_run: DF.Check
		duration: DF.Duration | None
		ended: DF.Datetime | None
		error: DF.SmallText | None
		failed: DF.Int
		fetched: DF.Int
		items: DF.Table[ConstantContactSyncLogItem]
		plan_rows: DF.Table[ConstantContactSyncLogPlan]
		plan_total: DF.Int
		pushed: DF.Int
		quiet: DF.Check
		reference: DF.Data | None
		resubscribed: DF.Int
		run_id: DF.Data | None
		runs: DF.Int
		skipped: DF.Int
		started: DF.Datetime | None
		status: DF.Literal["Queued", "Running", "Success", "Partial", "Failed", "Skipped"]
		stream: DF.Literal[
			"All streams",
			"Opt-outs",
			"Changes",
			"Deletes",
			"Full reconcile",
			"Opt-outs to CC",
			"Imports",
			"Push",
			"One record",
		]
		streams: DF.Table[ConstantContactSyncLogStream]
		summary: DF.Data | None
		title: DF.Data | None
		traceback: DF.Code | None
		trigger: DF.Literal[
			"Scheduler", "Settings button", "Contact button", "Lead button", "Shell", "Opt-out saved"
		]
		unchanged: DF.Int
		unsubscribed: DF.Int
		updated: DF.Int
	# end: auto-generated types

	def validate(self) -> None:
		"""A title and a summary that say what happened, and how long it took."""
		self.summary = (
			summary_text(self.as_dict())[:140]
			if self.status not in (LogStatus.QUEUED, LogStatus.RUNNING)
			else None
		)
		self.title = self.make_title()[:140]
		if self.started and self.ended:
			self.duration = max(0.0, (get_datetime(self.ended) - get_datetime(self.started)).total_seconds())

	def make_title(self) -> str:
		what = _(self.stream or "All streams")
		if self.reference:
			what = _("Sync now: {0}").format(self.reference)
		if self.quiet and (self.runs or 0) > 1:
			what = _("{0} scheduled runs, no changes").format(self.runs)
		if self.dry_run:
			what = _("Dry run: {0}").format(what)
		return what

	@staticmethod
	def clear_old_logs(days: int = 30) -> None:
		"""Log Settings calls this daily. Failed and partial runs are kept three times longer."""
		table = frappe.qb.DocType(SYNC_LOG)
		frappe.db.delete(
			table,
			filters=(table.creation < (Now() - Interval(days=days)))
			& (table.status.isin([LogStatus.SUCCESS, LogStatus.SKIPPED])),
		)
		frappe.db.delete(table, filters=(table.creation < (Now() - Interval(days=days * 3))))
		# Their child rows go with them.
		for child in (SYNC_LOG_ITEM, SYNC_LOG_STREAM, SYNC_LOG_PLAN):
			frappe.db.sql(
				f"""delete item from `tab{child}` item
				left join `tab{SYNC_LOG}` log on log.name = item.parent
				where log.name is null"""
			)
		# And a dry run's plan kept beside it as CSV, file and all.
		for file in frappe.db.sql_list(
			f"""select f.name from `tabFile` f left join `tab{SYNC_LOG}` log on log.name = f.attached_to_name
			where f.attached_to_doctype = %s and log.name is null""",
			SYNC_LOG,
		):
			frappe.delete_doc("File", file, force=True, ignore_permissions=True)


def plan_file_name(log_name: str) -> str:
	return f"dry-run-{log_name}.csv"


def plan_header() -> list[str]:
	return [_("Stream"), _("Would"), _("Email"), _("Record"), _("Details")]


@frappe.whitelist(methods=["GET"])
def download_plan(name: str) -> None:
	"""The dry run's table as a CSV file, for anyone who may read the log."""
	from frappe.utils.csvutils import to_csv

	log = frappe.get_doc(SYNC_LOG, name)
	log.check_permission("read")
	# The whole plan, kept beside the log when it was written; a log from before keeps it in its table.
	saved = frappe.db.get_value(
		"File",
		{
			"attached_to_doctype": SYNC_LOG,
			"attached_to_name": log.name,
			"file_name": plan_file_name(log.name),
		},
		"name",
	)
	if saved:
		frappe.response["result"] = frappe.get_doc("File", saved).get_content()
	else:
		rows = [plan_header()]
		rows += [[_(r.stream or ""), r.action, r.email, r.record, r.details] for r in log.plan_rows]
		frappe.response["result"] = to_csv(rows)
	frappe.response["type"] = "csv"
	frappe.response["doctype"] = f"dry-run-{log.name}"
