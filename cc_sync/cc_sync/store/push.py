"""What the push reads (the push DocType's records, changed since the watermark) and what it records
on each (status, error, pushed-at, never `modified`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import frappe

from cc_sync.cc_sync.constants import (
	LEAD,
	LEAD_CC_ID,
	LEAD_PUSH_ERROR,
	LEAD_PUSH_STATUS,
	LEAD_PUSHED_AT,
)
from cc_sync.cc_sync.sitetime import from_site, to_site
from cc_sync.cc_sync.store import addresses
from cc_sync.cc_sync.store.leads import CONTACT_TO_LEAD, split_lead_name
from cc_sync.cc_sync.store.sql import (
	doctype_exists,
	execute_in,
)
from cc_sync.cc_sync.targets import lead as lead_target
from cc_sync.sync.records import SENT_STATUSES, PushCandidate, PushOutcome

PUSH_PAGE = 2000


class PushMixin:
	"""Part of `FrappeStore` (see `store/__init__.py`)."""

	def push_candidates(self, since: datetime | None, email: str | None = None) -> Iterable[PushCandidate]:
		doctype = self.push_doctype
		if not doctype_exists(doctype):
			return
		columns = set(frappe.db.get_table_columns(doctype))
		source = {f: CONTACT_TO_LEAD.get(f, f) for f in self.site_fields}
		source = {site: col for site, col in source.items() if col in columns}
		extra = [c for c in ("lead_name", "first_name", "last_name") if c in columns]
		fields = list(
			dict.fromkeys(
				[
					"name",
					"modified",
					self.email_field,
					LEAD_CC_ID,
					LEAD_PUSHED_AT,
					*source.values(),
					*extra,
				]
			)
		)
		filters = list(self.push_filters or [])
		if doctype == lead_target.DOCTYPE and lead_target.STATUS_FIELD in columns:
			# Never pushed, whether or not the settings make the status an opt-out too.
			filters.append([doctype, lead_target.STATUS_FIELD, "!=", lead_target.DO_NOT_CONTACT])
		if since is not None:
			filters.append([doctype, "modified", ">", to_site(since)])
		if email is not None:
			# This address's records exactly (the column's collation would add rené's to rene's).
			names = addresses.names_by_address(doctype, self.email_field, [email])
			if not names:
				return
			filters.append([doctype, "name", "in", names])
		after: tuple[Any, str] | None = None
		while True:
			rows = _candidate_page(doctype, filters, fields, after)
			for row in rows:
				values = {site: row.get(col) for site, col in source.items()}
				split_lead_name(values, row.get("lead_name"))
				yield PushCandidate(
					key=row.name,
					email=row.get(self.email_field),
					fields={k: v for k, v in values.items() if v not in (None, "")},
					modified=from_site(row.modified),
					cc_contact_id=row.get(LEAD_CC_ID) or None,
					pushed_at=from_site(row.get(LEAD_PUSHED_AT)),
				)
			if len(rows) < PUSH_PAGE:
				return
			after = (rows[-1].modified, rows[-1].name)

	def record_push(self, outcomes: Sequence[PushOutcome]) -> None:
		"""Status, error and pushed-at on each record, without bumping `modified`, so a push never makes a
		lead look changed (which would push it again)."""
		if not outcomes or not doctype_exists(self.push_doctype):
			return
		groups: dict[tuple, list[str]] = {}
		cc_ids: dict[str, str] = {}
		for outcome in outcomes:
			pushed_at = to_site(outcome.at) if outcome.status in SENT_STATUSES else None
			groups.setdefault((outcome.status, outcome.reason, pushed_at), []).append(outcome.key)
			if outcome.cc_contact_id:
				cc_ids[outcome.key] = outcome.cc_contact_id
		for (status, reason, pushed_at), keys in groups.items():
			execute_in(
				f"""update `tab{self.push_doctype}` set `{LEAD_PUSH_STATUS}` = %(status)s,
				`{LEAD_PUSH_ERROR}` = %(reason)s, `{LEAD_PUSHED_AT}` = %(at)s where name in %(values)s""",
				keys,
				status=status,
				reason=reason,
				at=pushed_at,
			)
		if self.push_doctype == LEAD:
			self._set_lead_cc_ids(cc_ids)
		self.writes += len(outcomes)


def _candidate_page(doctype: str, filters: list, fields: list[str], after: tuple[Any, str] | None) -> list:
	"""The next page of candidates in (modified, name) order, read from where the last page ended.

	Not by offset: an offset re-reads every row before it (a million leads cost half a billion index
	reads), and skips rows whenever the push itself takes earlier ones out of the filters."""

	def read(extra: list, limit: int) -> list:
		return frappe.get_all(
			doctype,
			filters=[*filters, *extra],
			fields=fields,
			order_by="modified asc, name asc",
			limit_page_length=limit,
		)

	if after is None:
		return read([], PUSH_PAGE)
	modified, name = after
	rows = read([[doctype, "modified", "=", modified], [doctype, "name", ">", name]], PUSH_PAGE)
	if len(rows) < PUSH_PAGE:
		rows += read([[doctype, "modified", ">", modified]], PUSH_PAGE - len(rows))
	return rows
