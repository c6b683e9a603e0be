# Copyright (c) 2026, cc_sync contributors
# For license information, please see license.txt

from frappe.model.document import Document


class ConstantContactEngagement(Document):
	"""One campaign event of one person (sent, opened, clicked, bounced, unsubscribed), named by the event
	itself so a report read twice writes it once; written in bulk by the engagement stream."""

	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		at: DF.Datetime | None
		bounce_code: DF.Data | None
		bounce_reason: DF.Data | None
		campaign: DF.Link | None
		campaign_activity_id: DF.Data | None
		cc_contact_id: DF.Data | None
		email: DF.Data
		hard_bounce: DF.Check
		kind: DF.Literal["Sent", "Opened", "Clicked", "Bounced", "Unsubscribed"]
		link_url: DF.SmallText | None
		opt_out_reason: DF.SmallText | None
	# end: auto-generated types
