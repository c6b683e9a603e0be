# Copyright (c) 2026, cc_sync contributors and contributors
# For license information, please see license.txt

# import frappe
from frappe.model.document import Document


class ConstantContactFieldMap(Document):
	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		cc_field: DF.Data
		field_owner: DF.Literal["cc", "site"]
		parent: DF.Data
		parentfield: DF.Data
		parenttype: DF.Data
		site_field: DF.Data
	# end: auto-generated types
	pass
