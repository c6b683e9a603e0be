# Copyright (c) 2026, cc_sync contributors and contributors
# For license information, please see license.txt

# import frappe
from frappe.model.document import Document


class ConstantContactListMapping(Document):
	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		cc_list: DF.Link
		direction: DF.Literal["both", "pull", "push"]
		email_group: DF.Link
		enabled: DF.Check
		list_name: DF.Data | None
		parent: DF.Data
		parentfield: DF.Data
		parenttype: DF.Data
	# end: auto-generated types
	pass
