# Copyright (c) 2026, cc_sync contributors
# For license information, please see license.txt

from frappe.model.document import Document


class ConstantContactOptOut(Document):
	"""A site-side opt-out waiting to reach Constant Contact; rows are written by the sync, never by hand."""

	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		by_person: DF.Check
		cc_contact_id: DF.Data | None
		cc_lists: DF.SmallText | None
		email: DF.Data
		email_group: DF.Link | None
		opted_out_at: DF.Datetime | None
		reason: DF.SmallText | None
		resolved_at: DF.Datetime | None
		status: DF.Literal["Pending", "Done"]
	# end: auto-generated types
