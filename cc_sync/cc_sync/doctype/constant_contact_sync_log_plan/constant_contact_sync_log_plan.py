"""One thing a dry run would have done, as a row a person can read (and download as CSV)."""

from frappe.model.document import Document


class ConstantContactSyncLogPlan(Document):
	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		action: DF.Data | None
		details: DF.SmallText | None
		email: DF.Data | None
		parent: DF.Data
		parentfield: DF.Data
		parenttype: DF.Data
		record: DF.Data | None
		stream: DF.Literal[
			"Opt-outs", "Changes", "Deletes", "Full reconcile", "Opt-outs to CC", "Imports", "Push"
		]
	# end: auto-generated types
	pass
