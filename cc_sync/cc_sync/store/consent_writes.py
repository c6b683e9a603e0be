"""Consent on a Frappe site, written: what the engine decided, on every record of an address (reading it
is `consent_reads`; queueing an opt-out for CC is `optouts`). No consent rule lives here: the engine's
consent module decides, this module writes.

Writes are plain SQL (no document saves, so no doc_event echoes them back to CC).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import frappe

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
from cc_sync.cc_sync.indexes import member_table
from cc_sync.cc_sync.sitetime import to_site
from cc_sync.cc_sync.store import addresses
from cc_sync.cc_sync.store.sql import base_columns, execute_in, insert_named, select_in, slices
from cc_sync.sync.consent import MemberRow
from cc_sync.sync.matching import normalise_email
from cc_sync.sync.records import ContactWrite

# The Contacts holding each address exactly, the one the sync takes first (the site contacts' lookup).
Holders = Callable[[Iterable[str]], dict[str, list[str]]]


class ConsentWrites:
	"""The consent part's writes: `holders` finds an address's Contacts; an address's Leads (where the
	site has them) are found by `lead_email_field`."""

	def __init__(self, holders: Holders, has_lead: bool, lead_email_field: str = "email_id") -> None:
		self.holders = holders
		self.has_lead = has_lead
		self.lead_email_field = lead_email_field

	def apply(self, writes: Sequence[ContactWrite], now: datetime) -> None:
		"""The consent part of applied writes: address opt-outs, lifts, and member rows (each group's
		count of subscribers kept with them)."""
		opted = [w for w in writes if w.opted_out]
		lifted = list(dict.fromkeys(w.email for w in writes if w.lift_optout and not w.opted_out))
		if lifted and self._lifts_meet_optouts(lifted, [w.email for w in opted]):
			# A lift and an opt-out reach one record: the page's order decides, one address at a time.
			for w in writes:
				if w.opted_out:
					self.opt_out_everywhere(w.email, w.opted_out_at, w.cc_clock, now)
				elif w.lift_optout:
					self.lift(w.email, now)
		else:
			self.opt_out_all([(w.email, w.opted_out_at, w.cc_clock) for w in opted], now)
			for email in lifted:
				self.lift(email, now)
		items = [(w.email, w.rows) for w in writes if w.rows]
		items += [(w.former_email, w.former_rows) for w in writes if w.former_email and w.former_rows]
		count_subscribers(write_rows(items, now))

	def _lifts_meet_optouts(self, lifted: Sequence[str], opted: Sequence[str]) -> bool:
		"""Whether a lift and an opt-out of one page reach one record: the same address (a Lead), or two
		addresses of one Contact."""
		if set(lifted) & set(opted):
			return True
		if not opted:
			return False
		lifted_contacts = {name for names in self.holders(lifted).values() for name in names}
		return any(name in lifted_contacts for names in self.holders(opted).values() for name in names)

	def opt_out_everywhere(self, email: str, at: datetime | None, cc_clock: bool, now: datetime) -> None:
		"""Every record of the address says opted out: its Contacts (the latest date stands) and Leads."""
		self.opt_out_all([(email, at, cc_clock)], now)

	def opt_out_all(self, items: Sequence[tuple[str, datetime | None, bool]], now: datetime) -> None:
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
		for email, names in self.holders(latest).items():
			stated = latest[email]
			for name in names:
				held = per_contact.get(name)
				if held is None or stated[0] > held[0]:
					per_contact[name] = stated
		for chunk in slices(per_contact, 500):
			dated = " union all ".join(
				["select %s as name, cast(%s as datetime(6)) as at, %s as clock"] * len(chunk)
			)
			values = [
				v for name in chunk for v in (name, per_contact[name][0], 1 if per_contact[name][1] else 0)
			]
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
		if self.has_lead:
			execute_in(
				f"""update `tab{LEAD}` set unsubscribed = 1, modified = %(now)s, modified_by = %(user)s
				where name in %(values)s and unsubscribed = 0""",
				addresses.names_by_address(LEAD, self.lead_email_field, latest, "unsubscribed = 0"),
				now=now,
				user=user,
			)

	def lift(self, email: str, now: datetime) -> None:
		"""The engine decided CC's newer explicit opt-in by the person lifts the opt-out: every address-level
		record of it goes. Member rows are the engine's `rows`, written separately."""
		user = frappe.session.user
		params = {"now": now, "user": user}
		execute_in(
			f"""update `tabContact` set unsubscribed = 0, `{CONTACT_OPTED_OUT_AT}` = null,
			`{CONTACT_OPTOUT_CC_CLOCK}` = 0, modified = %(now)s, modified_by = %(user)s
			where name in %(values)s and unsubscribed = 1""",
			self.holders([email]).get(normalise_email(email) or "", []),
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
		if self.has_lead:
			execute_in(
				f"""update `tab{LEAD}` set unsubscribed = 0, modified = %(now)s, modified_by = %(user)s
				where name in %(values)s and unsubscribed = 1""",
				addresses.names_by_address(LEAD, self.lead_email_field, [email], "unsubscribed = 1"),
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
			f"""select name, email, email_group, unsubscribed from {member_table()}
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
				pending=OptOutStatus.PENDING,
			):
				if (normalise_email(row.email), row.email_group) in self.rejoined:
					frappe.db.sql(f"delete from `tab{OPT_OUT}` where name = %s", row.name)
		insert_named(EMAIL_GROUP_MEMBER, list(self.inserts.values()))


def count_subscribers(delta: dict[str, int]) -> None:
	"""Keep Email Group.total_subscribers as Email Group Member's own hooks would, by the rows added and
	removed (recounting every group on every page would cost more than the page)."""
	for group, change in delta.items():
		if change:
			frappe.db.sql(
				f"""update `tab{EMAIL_GROUP}` set total_subscribers = greatest(0, total_subscribers + %s)
				where name = %s""",
				(change, group),
			)
