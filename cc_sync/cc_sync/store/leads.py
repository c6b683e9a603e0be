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
		if self.has_lead:
			self._set_cc_ids(LEAD, cc_ids)

	def _set_cc_ids(self, doctype: str, cc_ids: dict[str, str]) -> None:
		"""CC ids on a push target's records, by name, `modified` untouched."""
		if not cc_ids:
			return
		items = list(cc_ids.items())
		for start in range(0, len(items), 500):
			chunk = items[start : start + 500]
			cases = " ".join("when %s then %s" for _ in chunk)
			params: list[Any] = [v for pair in chunk for v in pair]
			params += [name for name, _ in chunk]
			frappe.db.sql(
				f"""update `tab{doctype}` set `{LEAD_CC_ID}` = case name {cases} end
				where name in ({", ".join(["%s"] * len(chunk))})""",
				params,
			)

	def _stop_pushes(self, writes: Sequence[ContactWrite]) -> None:
		"""Leads of an address never to be pushed again say why, and those of an address opted in again
		are candidates again (push bookkeeping: `modified` untouched). A few UPDATEs a page, one per
		outcome and reason, each address ending as it would were the writes applied one by one."""
		if not self.has_lead or LEAD not in {target[0] for target in self.push_targets}:
			return
		outcomes: dict[str, tuple[str, str | None]] = {}
		for w in writes:
			held = outcomes.get(w.email)
			if w.push_again:
				# Only skipped Leads come back, unless this page just skipped them all.
				all_now = held is not None and held[0] in (SKIPPED_ALL, PENDING_ALL)
				held = (PENDING_ALL, None) if all_now else (PENDING_SKIPPED, None)
			if w.push_stop:
				held = (SKIPPED_ALL, w.push_stop)
			if held is not None:
				outcomes[w.email] = held
		if not outcomes:
			return
		leads = addresses.rows_by_address(LEAD, self.email_field, outcomes)
		by_outcome: dict[tuple[str, str | None], list[str]] = {}
		for email, outcome in outcomes.items():
			by_outcome.setdefault(outcome, []).extend(r.name for r in leads.get(email, []))
		for (outcome, reason), names in by_outcome.items():
			status, error = (
				(PushStatus.SKIPPED, reason)
				if outcome == SKIPPED_ALL
				else (PushStatus.PENDING, OPTED_IN_AGAIN)
			)
			only_skipped = f" and `{LEAD_PUSH_STATUS}` = %(skipped)s" if outcome == PENDING_SKIPPED else ""
			execute_in(
				f"""update `tab{LEAD}` set `{LEAD_PUSH_STATUS}` = %(status)s, `{LEAD_PUSH_ERROR}` = %(error)s,
				`{LEAD_PUSHED_AT}` = null where name in %(values)s{only_skipped}""",
				names,
				status=status,
				error=error,
				skipped=PushStatus.SKIPPED,
			)


# What a page's writes leave an address's Leads: all skipped (with the reason), the skipped ones pending
# again, or all pending again (skipped, then opted in again, in one page).
SKIPPED_ALL = "skipped"
PENDING_SKIPPED = "pending-skipped"
PENDING_ALL = "pending-all"
OPTED_IN_AGAIN = "opted in again in CC: pushed on the next push"


def split_lead_name(values: dict[str, Any], lead_name: str | None) -> None:
	"""A lead known only by `lead_name` still gets a first and last name in CC."""
	if values.get("first_name") or not lead_name or "first_name" not in values:
		return
	first, _, last = lead_name.strip().partition(" ")
	values["first_name"] = first
	if "last_name" in values and not values.get("last_name") and last.strip():
		values["last_name"] = last.strip()
