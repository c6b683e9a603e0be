"""The push targets part: what the push reads (each push target's records, changed since the watermark,
as its adapter in `cc_sync/cc_sync/targets/` describes them) and what it records on each (status, error,
pushed-at, CC id, never `modified`), including the Leads and CRM Leads an address's consent takes out of
the push or puts back in."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
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
from cc_sync.cc_sync.store.sql import WriteCount, doctype_exists, execute_in
from cc_sync.cc_sync.targets import TARGETS
from cc_sync.cc_sync.targets.base import PushTarget
from cc_sync.sync.records import SENT_STATUSES, ContactWrite, PushCandidate, PushOutcome, PushStatus

PUSH_PAGE = 2000

# (DocType, its own filters, the one Email Group whose CC lists it goes to, or None for every list
# mapped for push): one pushed DocType as the settings name it.
TargetSetting = tuple[str, list | None, str | None]


class PushTargets:
	"""The push targets part of `FrappeStore`: the targets the settings name (only those of `TARGETS`),
	the Contact fields the field map pushes (`site_fields`), and the Lead's address field."""

	def __init__(
		self,
		targets: Sequence[TargetSetting],
		site_fields: Collection[str],
		lead_email_field: str,
		count: WriteCount,
	) -> None:
		self.targets = [t for t in targets if t[0] in TARGETS]
		self.site_fields = list(site_fields)
		self.lead_email_field = lead_email_field
		self.count = count

	def push_candidates(self, since: datetime | None, email: str | None = None) -> Iterable[PushCandidate]:
		for doctype, filters, group in self.targets:
			if doctype_exists(doctype):
				yield from self._target_candidates(TARGETS[doctype], filters, group, since, email)

	def _target_candidates(
		self,
		target: PushTarget,
		own_filters: list | None,
		group: str | None,
		since: datetime | None,
		email: str | None,
	) -> Iterable[PushCandidate]:
		"""A target's records, each going to the lists of its own group (a sign-up), of the target's
		group (when the settings name one), or else to every list mapped for push."""
		doctype = target.doctype
		columns = set(frappe.db.get_table_columns(doctype))
		source = {f: target.contact_fields.get(f, f) for f in self.site_fields}
		source = {site: col for site, col in source.items() if col in columns}
		extra = [c for c in (target.full_name_field, "first_name", "last_name", target.group_field) if c]
		extra = [c for c in extra if c in columns]
		bookkeeping = [LEAD_CC_ID, LEAD_PUSHED_AT] if target.installs_push_fields else []
		fields = list(
			dict.fromkeys(["name", "modified", target.email_field, *bookkeeping, *source.values(), *extra])
		)
		filters = list(own_filters or [])
		# Never pushed, whatever the filters say (a Lead's Do Not Contact, a member row that left).
		filters += [[doctype, f, op, value] for f, op, value in target.never_pushed if f in columns]
		if since is not None:
			filters.append([doctype, "modified", ">", to_site(since)])
		if email is not None:
			# This address's records exactly (the column's collation would add rené's to rene's).
			names = addresses.names_by_address(doctype, target.email_field, [email])
			if not names:
				return
			filters.append([doctype, "name", "in", names])
		after: tuple[Any, str] | None = None
		while True:
			rows = _candidate_page(doctype, filters, fields, after)
			for row in rows:
				values = {site: row.get(col) for site, col in source.items()}
				if target.full_name_field:
					split_lead_name(values, row.get(target.full_name_field))
				# A sign-up goes only to its own group's lists (a row without a group: to none).
				groups = (row.get(target.group_field) or "",) if target.group_field else None
				if group is not None:
					groups = (group,) if groups is None or group in groups else ()
				yield PushCandidate(
					key=record_key(doctype, row.name),
					email=row.get(target.email_field),
					fields={k: v for k, v in values.items() if v not in (None, "")},
					modified=from_site(row.modified),
					cc_contact_id=row.get(LEAD_CC_ID) or None,
					pushed_at=from_site(row.get(LEAD_PUSHED_AT)),
					groups=groups,
				)
			if len(rows) < PUSH_PAGE:
				return
			after = (rows[-1].modified, rows[-1].name)

	def record_push(self, outcomes: Sequence[PushOutcome]) -> None:
		"""Status, error and pushed-at on each record, without bumping `modified`, so a push never makes a
		record look changed (which would push it again)."""
		if not outcomes:
			return
		groups: dict[tuple, list[str]] = {}
		cc_ids: dict[tuple[str, str], str] = {}
		for outcome in outcomes:
			doctype, name = split_key(outcome.key)
			target = TARGETS.get(doctype)
			if target is None or not target.installs_push_fields or not doctype_exists(doctype):
				continue
			pushed_at = to_site(outcome.at) if outcome.status in SENT_STATUSES else None
			groups.setdefault((doctype, outcome.status, outcome.reason, pushed_at), []).append(name)
			if outcome.cc_contact_id:
				cc_ids[(doctype, name)] = outcome.cc_contact_id
		for (doctype, status, reason, pushed_at), names in groups.items():
			execute_in(
				f"""update `tab{doctype}` set `{LEAD_PUSH_STATUS}` = %(status)s,
				`{LEAD_PUSH_ERROR}` = %(reason)s, `{LEAD_PUSHED_AT}` = %(at)s where name in %(values)s""",
				names,
				status=status,
				reason=reason,
				at=pushed_at,
			)
		for doctype in {d for d, _ in cc_ids}:
			set_cc_ids(doctype, {n: i for (d, n), i in cc_ids.items() if d == doctype})
		self.count.add(len(outcomes))

	def stop_pushes(self, writes: Sequence[ContactWrite]) -> None:
		"""Pushed records (Leads, CRM Leads) of an address never to be pushed again say why, and those of
		an address opted in again are candidates again (push bookkeeping: `modified` untouched). A few
		UPDATEs a page, one per target, outcome and reason, each address ending as it would were the
		writes applied one by one. Newsletter sign-ups are left out: a member row follows its group's
		own consent (its Unsubscribed), which the sync writes."""
		pushed = [
			TARGETS[doctype]
			for doctype in dict.fromkeys(target[0] for target in self.targets)
			if TARGETS[doctype].installs_push_fields
			and not TARGETS[doctype].group_field
			and doctype_exists(doctype)
		]
		if not pushed:
			return
		outcomes: dict[str, tuple[str, str | None]] = {}
		for w in writes:
			held = outcomes.get(w.email)
			if w.push_again:
				# Only skipped records come back, unless this page just skipped them all.
				all_now = held is not None and held[0] in (SKIPPED_ALL, PENDING_ALL)
				held = (PENDING_ALL, None) if all_now else (PENDING_SKIPPED, None)
			if w.push_stop:
				held = (SKIPPED_ALL, w.push_stop)
			if held is not None:
				outcomes[w.email] = held
		for target in pushed if outcomes else ():
			email_field = self.lead_email_field if target.doctype == LEAD else target.email_field
			_stop_target_pushes(target.doctype, email_field, outcomes)


def _stop_target_pushes(doctype: str, email_field: str, outcomes: dict[str, tuple[str, str | None]]) -> None:
	records = addresses.rows_by_address(doctype, email_field, outcomes)
	by_outcome: dict[tuple[str, str | None], list[str]] = {}
	for email, outcome in outcomes.items():
		by_outcome.setdefault(outcome, []).extend(r.name for r in records.get(email, []))
	for (outcome, reason), names in by_outcome.items():
		status, error = (
			(PushStatus.SKIPPED, reason) if outcome == SKIPPED_ALL else (PushStatus.PENDING, OPTED_IN_AGAIN)
		)
		only_skipped = f" and `{LEAD_PUSH_STATUS}` = %(skipped)s" if outcome == PENDING_SKIPPED else ""
		execute_in(
			f"""update `tab{doctype}` set `{LEAD_PUSH_STATUS}` = %(status)s, `{LEAD_PUSH_ERROR}` = %(error)s,
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


def set_cc_ids(doctype: str, cc_ids: dict[str, str]) -> None:
	"""CC ids on a push target's records, by name, `modified` untouched: learning an id is no edit."""
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


def split_lead_name(values: dict[str, Any], lead_name: str | None) -> None:
	"""A lead known only by `lead_name` still gets a first and last name in CC."""
	if values.get("first_name") or not lead_name or "first_name" not in values:
		return
	first, _, last = lead_name.strip().partition(" ")
	values["first_name"] = first
	if "last_name" in values and not values.get("last_name") and last.strip():
		values["last_name"] = last.strip()


# A pushed record's key: a Lead's name as it is (as keys were before other targets), another target's
# record as "DocType::name".
KEY_SEPARATOR = "::"


def record_key(doctype: str, name: str) -> str:
	return name if doctype == LEAD else f"{doctype}{KEY_SEPARATOR}{name}"


def split_key(key: str) -> tuple[str, str]:
	doctype, sep, name = key.partition(KEY_SEPARATOR)
	return (doctype, name) if sep else (LEAD, key)


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
