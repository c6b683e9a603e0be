# Copyright (c) 2026, cc_sync contributors
# For license information, please see license.txt

from frappe.model.document import Document


class ConstantContactCampaign(Document):
	"""A campaign sent from CC and how it did; rows are written by the engagement stream, never by hand."""

	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		bounce_rate: DF.Percent
		bounces: DF.Int
		campaign_id: DF.Data
		campaign_name: DF.Data | None
		click_rate: DF.Percent
		clicks: DF.Int
		hard_bounces: DF.Int
		open_rate: DF.Percent
		opens: DF.Int
		opens_all: DF.Int
		optout_rate: DF.Percent
		optouts: DF.Int
		sends: DF.Int
		sent_at: DF.Datetime | None
		status: DF.Data | None
		subject: DF.Data | None
	# end: auto-generated types
