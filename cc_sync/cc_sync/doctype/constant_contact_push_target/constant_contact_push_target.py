# Copyright (c) 2026, cc_sync contributors and contributors
# For license information, please see license.txt

from frappe.model.document import Document


class ConstantContactPushTarget(Document):
	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		email_group: DF.Link | None
		enabled: DF.Check
		parent: DF.Data
		parentfield: DF.Data
		parenttype: DF.Data
		push_doctype: DF.Link
		push_filters: DF.Code | None
	# end: auto-generated types
	pass
