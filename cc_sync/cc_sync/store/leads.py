"""Leads beside contacts: found by address, linked to the contact that holds their CC id, told when
they will never be pushed again."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import frappe

from cc_sync.cc_sync.constants import (
	CONTACT,
	CONTACT_CC_ID,
	DYNAMIC_LINK,
	LEAD,
	LEAD_CC_ID,
	LEAD_PUSH_ERROR,
	LEAD_PUSH_STATUS,
	LEAD_PUSHED_AT,
)
from cc_sync.cc_sync.store import addresses
from cc_sync.cc_sync.store.sql import (
	base_columns,
	execute_in,
	select_in,
)
from cc_sync.sync.matching import normalise_email
from cc_sync.sync.records import ContactWrite, PushStatus

# Lead fields that hold what Contact calls otherwise (ERPNext v15 names).
CONTACT_TO_LEAD = {"designation": "job_title"}


class LeadsMixin:
	"""Part of `FrappeStore` (see `store/__init__.py`)."""

	def _leads_by_email(self, emails: Iterable[str]) -> dict[str, list[frappe._dict]]:
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

	def _link_leads(self, cc_ids_by_email: dict[str, str], now: datetime) -> None:
		"""Add the Lead link to contacts that just learned their CC id, unless already there."""
		contacts = select_in(
			f"select name, email_id from `tabContact` where `{CONTACT_CC_ID}` in %(values)s",
			cc_ids_by_email.values(),
		)
		if not contacts:
			return
		leads = self._leads_by_email(cc_ids_by_email)
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
		self._bulk_insert(DYNAMIC_LINK, rows)

	def _set_lead_cc_ids(self, cc_ids: dict[str, str]) -> None:
		"""Record CC ids on leads without bumping `modified`: learning an id is no edit of the lead."""
		if not cc_ids or not self.has_lead:
			return
		items = list(cc_ids.items())
		for start in range(0, len(items), 500):
			chunk = items[start : start + 500]
			cases = " ".join("when %s then %s" for _ in chunk)
			params: list[Any] = [v for pair in chunk for v in pair]
			params += [name for name, _ in chunk]
			frappe.db.sql(
				f"""update `tab{LEAD}` set `{LEAD_CC_ID}` = case name {cases} end
				where name in ({", ".join(["%s"] * len(chunk))})""",
				params,
			)

	def _stop_pushes(self, writes: Sequence[ContactWrite]) -> None:
		"""Leads of an address never to be pushed again say why (push bookkeeping: `modified` untouched)."""
		if not self.has_lead or self.push_doctype != LEAD:
			return
		touched = [w for w in writes if w.push_again or w.push_stop]
		if not touched:
			return
		leads = addresses.rows_by_address(LEAD, self.email_field, [w.email for w in touched])
		for w in touched:
			rows = leads.get(w.email, [])
			if w.push_again:
				execute_in(
					f"""update `tab{LEAD}` set `{LEAD_PUSH_STATUS}` = %(status)s, `{LEAD_PUSH_ERROR}` = %(error)s,
					`{LEAD_PUSHED_AT}` = null where name in %(values)s and `{LEAD_PUSH_STATUS}` = %(skipped)s""",
					[r.name for r in rows],
					status=PushStatus.PENDING,
					error="opted in again in CC: pushed on the next push",
					skipped=PushStatus.SKIPPED,
				)
			if w.push_stop:
				execute_in(
					f"""update `tab{LEAD}` set `{LEAD_PUSH_STATUS}` = %(status)s, `{LEAD_PUSH_ERROR}` = %(error)s,
					`{LEAD_PUSHED_AT}` = null where name in %(values)s""",
					[r.name for r in rows],
					status=PushStatus.SKIPPED,
					error=w.push_stop,
				)


def split_lead_name(values: dict[str, Any], lead_name: str | None) -> None:
	"""A lead known only by `lead_name` still gets a first and last name in CC."""
	if values.get("first_name") or not lead_name or "first_name" not in values:
		return
	first, _, last = lead_name.strip().partition(" ")
	values["first_name"] = first
	if "last_name" in values and not values.get("last_name") and last.strip():
		values["last_name"] = last.strip()
