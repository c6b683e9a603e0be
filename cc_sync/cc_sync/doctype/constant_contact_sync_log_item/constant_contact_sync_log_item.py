# Copyright (c) 2026, cc_sync contributors and contributors
# For license information, please see license.txt

# import frappe
from frappe.model.document import Document


class ConstantContactSyncLogItem(Document):
	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		email: DF.Data | None
		kind: DF.Literal["Skip", "Error", "Warning"]
		parent: DF.Data
		parentfield: DF.Data
		parenttype: DF.Data
		reason: DF.SmallText | None
		record: DF.Data | None
	# end: auto-generated types
	pass
