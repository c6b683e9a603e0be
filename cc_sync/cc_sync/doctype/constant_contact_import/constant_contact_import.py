# Copyright (c) 2026, cc_sync contributors
# For license information, please see license.txt

from frappe.model.document import Document


class ConstantContactImport(Document):
	"""One chunk of a bulk JSON import, recorded before its POST so a crashed push is never sent twice."""

	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		activity_id: DF.Data | None
		chunk_id: DF.Data
		emails: DF.LongText | None
		finished: DF.Check
		keys: DF.LongText | None
		kind: DF.Data | None
		list_ids: DF.SmallText | None
		result: DF.Code | None
		state: DF.Data | None
		submitted_at: DF.Datetime | None
	# end: auto-generated types
