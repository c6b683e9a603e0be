"""Leads beside contacts: found by address, linked to the Contact that holds their address, given the
CC id of the contact their address is linked to."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import frappe

from cc_sync.cc_sync.constants import (
	CONTACT,
	CONTACT_CC_ID,
	DYNAMIC_LINK,
	LEAD,
	LEAD_CC_ID,
)
from cc_sync.cc_sync.store.push import set_cc_ids
from cc_sync.cc_sync.store.sql import base_columns, insert_named, select_in
from cc_sync.sync.matching import normalise_email


class LeadLinks:
	"""The Leads the site contacts part links to its Contacts (none where the site has no Lead);
	`email_field` is the Lead's address field."""

	def __init__(self, has_lead: bool, email_field: str) -> None:
		self.has_lead = has_lead
		self.email_field = email_field

	def by_email(self, emails: Iterable[str]) -> dict[str, list[frappe._dict]]:
		"""Each address's Leads, oldest first."""
		if not self.has_lead:
			return {}
		title = ", lead_name" if frappe.db.has_column(LEAD, "lead_name") else ""
		found: dict[str, list[frappe._dict]] = {}
		for row in select_in(
			f"""select name, `{self.email_field}` as email_id, `{LEAD_CC_ID}`{title} from `tabLead`
			where `{self.email_field}` in %(values)s order by creation""",
			emails,
		):
			row[self.email_field] = row.email_id
			found.setdefault(normalise_email(row.email_id), []).append(row)
		return found

	def link(self, cc_ids_by_email: dict[str, str], now: datetime) -> None:
		"""Add the Lead link to contacts that just learned their CC id, unless already there."""
		contacts = select_in(
			f"select name, email_id from `tabContact` where `{CONTACT_CC_ID}` in %(values)s",
			cc_ids_by_email.values(),
		)
		if not contacts:
			return
		leads = self.by_email(cc_ids_by_email)
		existing = {
			(r.parent, r.link_name)
			for r in select_in(
				"""select parent, link_name from `tabDynamic Link` where parenttype = 'Contact'
				and link_doctype = 'Lead' and parent in %(values)s""",
				[c.name for c in contacts],
			)
		}
		rows = []
		for contact in contacts:
			for lead in leads.get(normalise_email(contact.email_id), ()):
				if (contact.name, lead.name) in existing:
					continue
				rows.append(
					{
						**base_columns(now),
						"parent": contact.name,
						"parenttype": CONTACT,
						"parentfield": "links",
						"idx": 1,
						"link_doctype": LEAD,
						"link_name": lead.name,
						"link_title": lead.get("lead_name") or lead.name,
					}
				)
		if rows:
			insert_named(DYNAMIC_LINK, rows, dict.fromkeys(c for row in rows for c in row))

	def link_to_cc(self, linked_emails: dict[str, str], now: datetime) -> None:
		"""The Leads of addresses now linked to a CC contact: linked to their Contact, and given the CC id."""
		lead_ids: dict[str, str] = {}
		if linked_emails and self.has_lead:
			for lead in self.by_email(linked_emails).values():
				for row in lead:
					if not row.get(LEAD_CC_ID):
						lead_ids[row.name] = linked_emails[normalise_email(row.get(self.email_field))]
			self.link(linked_emails, now)
		self.set_cc_ids(lead_ids)

	def set_cc_ids(self, cc_ids: dict[str, str]) -> None:
		"""Record CC ids on leads without bumping `modified`: learning an id is no edit of the lead."""
		if self.has_lead:
			set_cc_ids(LEAD, cc_ids)
