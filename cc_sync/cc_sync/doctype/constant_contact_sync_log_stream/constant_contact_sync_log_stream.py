"""One stream of a sync run: its own counts, calls, watermarks and error, inside the run's log."""

from frappe.model.document import Document


class ConstantContactSyncLogStream(Document):
	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		activity_ids: DF.SmallText | None
		api_calls: DF.Int
		corrected: DF.Int
		created: DF.Int
		deleted: DF.Int
		error: DF.SmallText | None
		failed: DF.Int
		fetched: DF.Int
		parent: DF.Data
		parentfield: DF.Data
		parenttype: DF.Data
		pushed: DF.Int
		resubscribed: DF.Int
		retries: DF.SmallText | None
		skipped: DF.Int
		status: DF.Literal["Success", "Partial", "Failed", "Skipped"]
		stream: DF.Literal[
			"Opt-outs", "Changes", "Deletes", "Full reconcile", "Opt-outs to CC", "Imports", "Push"
		]
		summary: DF.Data | None
		unchanged: DF.Int
		unsubscribed: DF.Int
		updated: DF.Int
		watermark_after: DF.Datetime | None
		watermark_before: DF.Datetime | None
	# end: auto-generated types
	pass
