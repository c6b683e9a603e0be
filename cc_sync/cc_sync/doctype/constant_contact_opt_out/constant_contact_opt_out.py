# Copyright (c) 2026, cc_sync contributors
# For license information, please see license.txt

from frappe.model.document import Document

from cc_sync.cc_sync.store.opt_out_lists import split_lists
from cc_sync.cc_sync.sync_log import list_names


class ConstantContactOptOut(Document):
	"""A site-side opt-out waiting to reach Constant Contact; rows are written by the sync, never by hand."""

	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		by_person: DF.Check
		cc_contact_id: DF.Data | None
		cc_list_names: DF.SmallText | None
		cc_lists: DF.SmallText | None
		email: DF.Data
		email_group: DF.Link | None
		opted_out_at: DF.Datetime | None
		reason: DF.SmallText | None
		resolved_at: DF.Datetime | None
		status: DF.Literal["Pending", "Done"]
	# end: auto-generated types

	@property
	def cc_list_names(self) -> str | None:
		"""The CC lists a group leave takes the person off, by name in name order, one a line (a list the
		site has not fetched by its id)."""
		return "\n".join(sorted(list_names(list(split_lists(self.cc_lists))), key=str.lower)) or None
