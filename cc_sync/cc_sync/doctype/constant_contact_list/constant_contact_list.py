# Copyright (c) 2026, cc_sync contributors and contributors
# For license information, please see license.txt

# import frappe
from frappe.model.document import Document


class ConstantContactList(Document):
	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		cc_updated_at: DF.Datetime | None
		deleted: DF.Check
		description: DF.SmallText | None
		list_id: DF.Data
		list_name: DF.Data | None
		membership_count: DF.Int
		refreshed_at: DF.Datetime | None
	# end: auto-generated types
	pass
