"""The in-memory store's records: the push targets it models, a pushed record, Email Group Member rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cc_sync.sync.records import PushStatus

# The push targets, as their adapters in cc_sync/cc_sync/targets/ state them (that package needs Frappe;
# tier 2 checks this table against it).
LEAD = "Lead"
CRM_LEAD = "CRM Lead"
EMAIL_GROUP_MEMBER = "Email Group Member"
DO_NOT_CONTACT = "Do Not Contact"


@dataclass(frozen=True)
class MemoryTarget:
	doctype: str
	# Where the record holds the address (the Frappe store reads that column; here every record has one).
	email_field: str
	# The record's own checks that opt its address out (a Lead's Unsubscribed).
	optout_checks: tuple[str, ...] = ()
	# The status that is never pushed and, unless the settings say otherwise, opts the address out.
	do_not_contact: bool = False
	# Inserting one makes a Contact with its address (ERPNext's Lead, `auto_creation_of_contact`).
	makes_contact: bool = False
	# A member row of an Email Group: pushed only to its own group's lists, never once it left.
	group_field: str | None = None


TARGETS: dict[str, MemoryTarget] = {
	LEAD: MemoryTarget(LEAD, "email_id", ("unsubscribed",), do_not_contact=True, makes_contact=True),
	# Frappe CRM's lead: no opt-out of its own (its Contact and Email Unsubscribe hold consent), and no
	# Contact until it is converted to a deal.
	CRM_LEAD: MemoryTarget(CRM_LEAD, "email"),
	EMAIL_GROUP_MEMBER: MemoryTarget(EMAIL_GROUP_MEMBER, "email", group_field="email_group"),
}


@dataclass(slots=True)
class MemoryLead:
	"""A pushed record of a Lead or a CRM Lead (sign-ups are member rows, with `sign_up_push`)."""

	key: str
	email: str | None
	fields: dict[str, Any] = field(default_factory=dict)
	unsubscribed: bool = False
	unsubscribed_at: datetime | None = None
	modified: datetime | None = None
	cc_contact_id: str | None = None
	push_status: PushStatus | None = None
	push_error: str | None = None
	pushed_at: datetime | None = None
	doctype: str = LEAD
	status: str | None = None


AGAIN = "opted in again in CC: pushed on the next push"
# Another target's record is keyed as the Frappe store keys it ("DocType::name"); a Lead by its name.
SIGN_UP = f"{EMAIL_GROUP_MEMBER}::"
CRM_KEY = f"{CRM_LEAD}::"


class MemberRows(dict):
	"""Email Group Member rows, (group, email) -> unsubscribed, indexed by email; `at` holds when each
	row took its state."""

	def __init__(self) -> None:
		super().__init__()
		self.by_email: dict[str, set[str]] = {}
		self.at: dict[tuple[str, str], datetime | None] = {}

	def __setitem__(self, key: tuple[str, str], value: bool) -> None:
		super().__setitem__(key, value)
		self.by_email.setdefault(key[1], set()).add(key[0])

	def pop(self, key: tuple[str, str], *default: Any) -> Any:
		self.by_email.get(key[1], set()).discard(key[0])
		return super().pop(key, *default)

	def groups_of(self, email: str) -> list[str]:
		return sorted(self.by_email.get(email, ()))
