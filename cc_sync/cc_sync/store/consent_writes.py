"""Consent on a Frappe site: writing what the engine decided (reading it is `consent_reads`). No consent
rule lives here: the engine's consent module decides, this module writes.

Writes are plain SQL (no document saves, so no doc_event echoes them back to CC).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import frappe
from frappe.utils import get_datetime, now_datetime

from cc_sync.cc_sync.constants import (
	CONTACT_OPTED_OUT_AT,
	CONTACT_OPTOUT_CC_CLOCK,
	EMAIL_GROUP,
	EMAIL_GROUP_MEMBER,
	EMAIL_UNSUBSCRIBE,
	LEAD,
	OPT_OUT,
	OptOutStatus,
)
from cc_sync.cc_sync.sitetime import to_site
from cc_sync.cc_sync.store import addresses
from cc_sync.cc_sync.store.opt_out_lists import join_lists, lists_mapped_to, split_lists
from cc_sync.cc_sync.store.sql import base_columns, execute_in, insert_named, select_in, slices
from cc_sync.sync.consent import MemberRow
from cc_sync.sync.matching import normalise_email
from cc_sync.sync.records import ContactWrite

OPTOUT_PENDING = OptOutStatus.PENDING
OPTOUT_DONE = OptOutStatus.DONE


def _has_lead() -> bool:
	return bool(frappe.db.table_exists(LEAD))


# -- writing -------------------------------------------------------------------------------------
def contacts_of(emails: Iterable[str]) -> dict[str, list[str]]:
	"""The Contacts holding each address exactly (see addresses.py)."""
	return addresses.contacts_by_address(emails)


def opt_out_everywhere(
	email: str, at: datetime | None, cc_clock: bool, now: datetime, lead_email_field: str = "email_id"
) -> None:
	"""Every record of the address says opted out: its Contacts (the latest date stands) and Leads."""
	opt_out_all([(email, at, cc_clock)], now, lead_email_field)


def opt_out_all(
	items: Sequence[tuple[str, datetime | None, bool]], now: datetime, lead_email_field: str = "email_id"
) -> None:
	"""`opt_out_everywhere` for a page of addresses at once: a few statements, not three per address.

	Per Contact the latest date stands (an earlier one given later changes nothing), as it would were
	the addresses applied one after another."""
	latest: dict[str, tuple[datetime, bool]] = {}
	for email, at, cc_clock in items:
		when = to_site(at) if at else now
		held = latest.get(normalise_email(email))
		if held is None or when > held[0]:
			latest[normalise_email(email)] = (when, cc_clock)
	if not latest:
		return
	user = frappe.session.user
	per_contact: dict[str, tuple[datetime, bool]] = {}
	for email, names in contacts_of(latest).items():
		stated = latest[email]
		for name in names:
			held = per_contact.get(name)
			if held is None or stated[0] > held[0]:
				per_contact[name] = stated
	for chunk in slices(per_contact, 500):
		dated = " union all ".join(
			["select %s as name, cast(%s as datetime(6)) as at, %s as clock"] * len(chunk)
		)
		values = [v for name in chunk for v in (name, per_contact[name][0], 1 if per_contact[name][1] else 0)]
		frappe.db.sql(
			f"""update `tabContact` c join ({dated}) v on v.name = c.name
			set c.unsubscribed = 1, c.`{CONTACT_OPTED_OUT_AT}` = v.at, c.`{CONTACT_OPTOUT_CC_CLOCK}` = v.clock,
			c.modified = %s, c.modified_by = %s
			where c.unsubscribed = 0""",
			[*values, now, user],
		)
		frappe.db.sql(
			f"""update `tabContact` c join ({dated}) v on v.name = c.name
			set c.`{CONTACT_OPTED_OUT_AT}` = v.at, c.`{CONTACT_OPTOUT_CC_CLOCK}` = v.clock
			where c.`{CONTACT_OPTED_OUT_AT}` is not null and c.`{CONTACT_OPTED_OUT_AT}` < v.at""",
			values,
		)
	if _has_lead():
		execute_in(
			f"""update `tab{LEAD}` set unsubscribed = 1, modified = %(now)s, modified_by = %(user)s
			where name in %(values)s and unsubscribed = 0""",
			addresses.names_by_address(LEAD, lead_email_field, latest, "unsubscribed = 0"),
			now=now,
			user=user,
		)


def lift(email: str, now: datetime, lead_email_field: str = "email_id") -> None:
	"""The engine decided CC's newer explicit opt-in by the person lifts the opt-out: every address-level
	record of it goes. Member rows are the engine's `rows`, written separately."""
	user = frappe.session.user
	params = {"now": now, "user": user}
	execute_in(
		f"""update `tabContact` set unsubscribed = 0, `{CONTACT_OPTED_OUT_AT}` = null,
		`{CONTACT_OPTOUT_CC_CLOCK}` = 0, modified = %(now)s, modified_by = %(user)s
		where name in %(values)s and unsubscribed = 1""",
		contacts_of([email]).get(normalise_email(email) or "", []),
		**params,
	)
	execute_in(
		f"delete from `tab{OPT_OUT}` where name in %(values)s",
		addresses.names_by_address(OPT_OUT, "email", [email], "coalesce(email_group, '') = ''"),
	)
	execute_in(
		f"delete from `tab{EMAIL_UNSUBSCRIBE}` where name in %(values)s",
		addresses.names_by_address(
			EMAIL_UNSUBSCRIBE,
			"email",
			[email],
			"global_unsubscribe = 1 or coalesce(reference_doctype, '') != %(group)s",
			group=EMAIL_GROUP,
		),
	)
	if _has_lead():
		execute_in(
			f"""update `tab{LEAD}` set unsubscribed = 0, modified = %(now)s, modified_by = %(user)s
			where name in %(values)s and unsubscribed = 1""",
			addresses.names_by_address(LEAD, lead_email_field, [email], "unsubscribed = 1"),
			**params,
		)


def write_rows(items: Sequence[tuple[str, dict[str, MemberRow | None]]], now: datetime) -> dict[str, int]:
	"""Write member rows as stated (None removes one), for a page of addresses at once: one lookup, one
	batched insert; returns the change in rows per group. An address stated twice is applied in order."""
	items = [(email, rows) for email, rows in items if rows]
	if not items:
		return {}
	existing = {
		(normalise_email(r.email), r.email_group): r
		for r in select_in(
			f"""select name, email, email_group, unsubscribed from `tab{EMAIL_GROUP_MEMBER}`
			where email in %(values)s""",
			{email for email, _ in items},
		)
	}
	plan = _MemberPlan(existing, now)
	for email, rows in items:
		for group, row in rows.items():
			if row is None:
				plan.remove((email, group))
			else:
				plan.state((email, group), row)
	plan.write()
	return plan.delta


@dataclass
class _MemberPlan:
	"""A page's member-row changes: new rows (inserted together), removals, changed states, rejoins."""

	existing: dict[tuple[str, str], Any]
	now: datetime
	delta: dict[str, int] = field(default_factory=dict)
	inserts: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
	deletes: list[str] = field(default_factory=list)
	# Existing rows whose state changes: name -> (unsubscribed, when), written together.
	updates: dict[str, tuple[int, datetime]] = field(default_factory=dict)
	rejoined: set[tuple[str, str]] = field(default_factory=set)

	def count(self, group: str, change: int) -> None:
		self.delta[group] = self.delta.get(group, 0) + change

	def remove(self, key: tuple[str, str]) -> None:
		if self.inserts.pop(key, None) is not None:
			self.count(key[1], -1)
		elif (current := self.existing.pop(key, None)) is not None:
			self.updates.pop(current.name, None)
			self.deletes.append(current.name)
			self.count(key[1], -1)

	def state(self, key: tuple[str, str], row: MemberRow) -> None:
		at = to_site(row.at) if row.at else self.now
		flag = 1 if row.unsubscribed else 0
		current = self.existing.get(key)
		if (pending := self.inserts.get(key)) is not None:
			pending.update(modified=at, unsubscribed=flag)
		elif current is None:
			email, group = key
			self.inserts[key] = {
				**base_columns(self.now),
				"modified": at,
				"email_group": group,
				"email": email,
				"unsubscribed": flag,
			}
			self.count(group, 1)
		elif bool(current.unsubscribed) != row.unsubscribed:
			self.updates[current.name] = (flag, at)
			current.unsubscribed = flag
		if not row.unsubscribed:
			self.rejoined.add(key)

	def write(self) -> None:
		user = frappe.session.user
		for chunk in slices(self.updates, 500):
			stated = " union all ".join(
				["select %s as name, %s as unsubscribed, cast(%s as datetime(6)) as at"] * len(chunk)
			)
			values = [v for name in chunk for v in (name, *self.updates[name])]
			frappe.db.sql(
				f"""update `tab{EMAIL_GROUP_MEMBER}` m join ({stated}) v on v.name = m.name
				set m.unsubscribed = v.unsubscribed, m.modified = v.at, m.modified_by = %s""",
				[*values, user],
			)
		for chunk in slices(self.deletes):
			frappe.db.sql(
				f"delete from `tab{EMAIL_GROUP_MEMBER}` where name in %(values)s", {"values": chunk}
			)
		if self.rejoined:
			# Rejoined: a pending leave of this group has nothing left to tell CC.
			for row in select_in(
				f"select name, email, email_group from `tab{OPT_OUT}` where status = %(pending)s and email in %(values)s",
				{email for email, _ in self.rejoined},
				pending=OPTOUT_PENDING,
			):
				if (normalise_email(row.email), row.email_group) in self.rejoined:
					frappe.db.sql(f"delete from `tab{OPT_OUT}` where name = %s", row.name)
		insert_named(EMAIL_GROUP_MEMBER, list(self.inserts.values()))


def apply_consent(writes: Sequence[ContactWrite], now: datetime, lead_email_field: str) -> dict[str, int]:
	"""The consent part of applied writes: address opt-outs, lifts, and member rows."""
	opted = [w for w in writes if w.opted_out]
	lifted = list(dict.fromkeys(w.email for w in writes if w.lift_optout and not w.opted_out))
	if lifted and _lifts_meet_optouts(lifted, [w.email for w in opted]):
		# A lift and an opt-out reach one record: the page's order decides, one address at a time.
		for w in writes:
			if w.opted_out:
				opt_out_everywhere(w.email, w.opted_out_at, w.cc_clock, now, lead_email_field)
			elif w.lift_optout:
				lift(w.email, now, lead_email_field)
	else:
		opt_out_all([(w.email, w.opted_out_at, w.cc_clock) for w in opted], now, lead_email_field)
		for email in lifted:
			lift(email, now, lead_email_field)
	items = [(w.email, w.rows) for w in writes if w.rows]
	items += [(w.former_email, w.former_rows) for w in writes if w.former_email and w.former_rows]
	return write_rows(items, now)


def _lifts_meet_optouts(lifted: Sequence[str], opted: Sequence[str]) -> bool:
	"""Whether a lift and an opt-out of one page reach one record: the same address (a Lead), or two
	addresses of one Contact."""
	if set(lifted) & set(opted):
		return True
	if not opted:
		return False
	lifted_contacts = {name for names in contacts_of(lifted).values() for name in names}
	return any(name in lifted_contacts for names in contacts_of(opted).values() for name in names)


# -- the opt-out queue ---------------------------------------------------------------------------
def queue_optouts(requests: dict[tuple[str, str | None], dict[str, Any]], now: datetime) -> None:
	"""One opt-out row per address (and per group left): new rows inserted, resolved ones reopened,
	pending ones moved to the latest opt-out (which is what a CC opt-in must be newer than)."""

	emails = {email for email, _ in requests}
	existing = {
		(normalise_email(r.email), r.email_group or None): r
		for r in select_in(
			f"""select name, email, email_group, status, opted_out_at, cc_lists from `tab{OPT_OUT}`
			where email in %(values)s""",
			emails,
		)
	}
	rows = []
	for (email, group), values in requests.items():
		row = existing.get((email, group))
		request = {
			"at": values.get("opted_out_at") or now,
			"reason": values.get("reason"),
			"by_person": 1 if values.get("by_person") else 0,
			"cc_id": values.get("cc_contact_id"),
			"now": now,
			"lists": tuple(values.get("lists") or ()),
		}
		if row is None:
			rows.append(_new_optout(email, group, request))
		elif row.status == OPTOUT_PENDING:
			_move_pending(row, request)
		else:
			_reopen(row, request)
	insert_named(OPT_OUT, rows)


def _new_optout(email: str, group: str | None, request: dict[str, Any]) -> dict[str, Any]:
	return {
		**base_columns(request["now"]),
		"email": email,
		"email_group": group,
		"status": OPTOUT_PENDING,
		"opted_out_at": request["at"],
		"cc_contact_id": request["cc_id"],
		"reason": request["reason"],
		"by_person": request["by_person"],
		"cc_lists": join_lists(request["lists"]),
	}


def _move_pending(row: Any, request: dict[str, Any]) -> None:
	"""A pending opt-out takes a later date (what a CC opt-in must be newer than); an earlier one is kept.
	A pending group leave keeps the CC lists it named and adds the new one's: both leaves reach CC."""
	lists = set(split_lists(row.cc_lists)) | set(request["lists"])
	if lists != set(split_lists(row.cc_lists)):
		frappe.db.sql(
			f"update `tab{OPT_OUT}` set cc_lists = %s where name = %s", (join_lists(lists), row.name)
		)
	if row.opted_out_at is None or get_datetime(request["at"]) > get_datetime(row.opted_out_at):
		frappe.db.sql(
			f"""update `tab{OPT_OUT}` set opted_out_at = %(at)s, reason = coalesce(%(reason)s, reason),
			by_person = %(by_person)s, modified = %(now)s where name = %(name)s""",
			{**request, "name": row.name},
		)


def _reopen(row: Any, request: dict[str, Any]) -> None:
	"""A resolved opt-out is pending again, from its first attempt (a group leave with the lists mapped
	to the group now)."""
	frappe.db.sql(
		f"""update `tab{OPT_OUT}` set status = %(pending)s, opted_out_at = %(at)s, resolved_at = null,
		reason = %(reason)s, by_person = %(by_person)s, modified = %(now)s, attempts = 0,
		retry_at = null, last_error = null, cc_lists = %(cc_lists)s,
		cc_contact_id = coalesce(%(cc_id)s, cc_contact_id) where name = %(name)s""",
		{
			**request,
			"pending": OPTOUT_PENDING,
			"name": row.name,
			"cc_lists": join_lists(request["lists"]),
		},
	)


def record_group_leave(
	email: str | None, group: str, *, by_person: bool = False, at: datetime | None = None
) -> bool:
	"""The person left one Email Group on the site: that group's row is unsubscribed and the leave is
	queued for the CC lists mapped to it now, which it records: a remap or unmap of those lists before
	the leave reaches CC (or while the sync is off) still takes the person off them. Nothing else
	changes. Returns False when there is no address."""
	address = normalise_email(email)
	if not address or not group:
		return False
	now = now_datetime()
	when = to_site(at) if at else now
	execute_in(
		f"""update `tab{EMAIL_GROUP_MEMBER}` set unsubscribed = 1, modified = %(at)s, modified_by = %(user)s
		where name in %(values)s""",
		addresses.names_by_address(
			EMAIL_GROUP_MEMBER,
			"email",
			[address],
			"email_group = %(group)s and unsubscribed = 0",
			group=group,
		),
		at=when,
		user=frappe.session.user,
	)
	queue_optouts(
		{
			(address, group): {
				"opted_out_at": when,
				"reason": f"Left Email Group {group}",
				"by_person": by_person,
				"lists": lists_mapped_to(group),
			}
		},
		now,
	)
	return True
