"""Reading consent on a Frappe site: every opt-out channel of each address as one answer.

Channels of an address's opt-out: Contact.unsubscribed, Lead.unsubscribed (or its status Do Not Contact),
Email Unsubscribe (global, or for one document other than an Email Group), and the app's own opt-out
rows (pending or done, kept too when the record that held an opt-out is deleted). An Email Group Member
row that is unsubscribed, or an Email Unsubscribe for one Email Group, is a leave of that group only.
No rule lives here: the engine's consent module settles what was read.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime

from cc_sync.cc_sync.constants import (
	CONTACT_CC_DELETED,
	CONTACT_CC_PERMISSION,
	CONTACT_OPTED_OUT_AT,
	CONTACT_OPTOUT_CC_CLOCK,
	EMAIL_GROUP,
	EMAIL_GROUP_MEMBER,
	LEAD,
	OPT_OUT,
	OptOutStatus,
)
from cc_sync.cc_sync.sitetime import from_site
from cc_sync.cc_sync.store.opt_out_lists import split_lists
from cc_sync.cc_sync.store.sql import doctype_exists, select_in
from cc_sync.cc_sync.targets import lead as lead_target
from cc_sync.constant_contact.models import Permission
from cc_sync.sync import consent
from cc_sync.sync.consent import AddressConsent, MemberRow
from cc_sync.sync.matching import normalise_email


class ConsentReads:
	"""The consent part's reads; an address's Leads are read by `lead_email_field`."""

	def __init__(self, lead_email_field: str = "email_id") -> None:
		self.lead_email_field = lead_email_field

	def state(self, emails: Collection[str]) -> dict[str, AddressConsent]:
		return consent_state(emails, self.lead_email_field)

	def opted_out(self, emails: Collection[str]) -> set[str]:
		"""The addresses never to be pushed: opted out on either side, or deleted in CC."""
		return {email for email, state in self.state(emails).items() if state.never_push}


def consent_state(emails: Collection[str], lead_email_field: str = "email_id") -> dict[str, AddressConsent]:
	"""Every channel of each address together, in a handful of batched queries."""
	wanted = {e for e in (normalise_email(e) for e in emails) if e}
	if not wanted:
		return {}
	seen = _Evidence(wanted)
	_read_contacts(seen)
	if doctype_exists(LEAD):
		_read_leads(seen, lead_email_field)
	_read_unsubscribes(seen)
	_read_optouts(seen)
	_read_group_leaves(seen)
	_read_member_rows(seen)
	return seen.settled()


@dataclass
class _Evidence:
	"""What the channels said of each address, before the engine's consent rules settle it."""

	wanted: set[str]
	states: dict[str, AddressConsent] = field(default_factory=dict)
	channels: dict[str, list[str]] = field(default_factory=dict)
	dates: dict[str, list[tuple[datetime | None, bool]]] = field(default_factory=dict)
	lead_dates: dict[str, list[datetime | None]] = field(default_factory=dict)
	group_leaves: dict[str, dict[str, datetime | None]] = field(default_factory=dict)

	def __post_init__(self) -> None:
		for email in self.wanted:
			self.states[email] = AddressConsent(email=email)
			self.channels[email] = []
			self.dates[email] = []

	def address(self, raw: str | None) -> str | None:
		"""The address as asked for, or None for a row that matched only by the database's collation."""
		email = normalise_email(raw)
		return email if email in self.states else None

	def opted_out(self, email: str, channel: str, at: datetime | None, cc_clock: bool = False) -> None:
		self.channels[email].append(channel)
		self.dates[email].append((at, cc_clock))

	def settled(self) -> dict[str, AddressConsent]:
		for email, state in self.states.items():
			for group, at in self.group_leaves.get(email, {}).items():
				# An Email Unsubscribe for one group is a leave of it, as an unsubscribed member row is.
				row = state.rows.get(group)
				if row is None or not row.unsubscribed:
					state.rows[group] = MemberRow(True, at)
			consent.settle_state(
				state, self.channels[email], self.dates[email], self.lead_dates.get(email, [])
			)
		return self.states


def _read_contacts(seen: _Evidence) -> None:
	for r in select_in(
		f"""select ce.email_id as email, c.unsubscribed, cast(c.`{CONTACT_OPTED_OUT_AT}` as char) as at,
		c.`{CONTACT_OPTOUT_CC_CLOCK}` as cc_clock, c.`{CONTACT_CC_DELETED}` as deleted,
		c.`{CONTACT_CC_PERMISSION}` as permission
		from `tabContact Email` ce join `tabContact` c on c.name = ce.parent
		where ce.parenttype = 'Contact' and ce.email_id in %(values)s""",
		seen.wanted,
	):
		email = seen.address(r.email)
		if email is None:
			continue
		if r.unsubscribed:
			seen.opted_out(email, "contact", from_site(r.at), bool(r.cc_clock))
		if r.deleted:
			seen.states[email].cc_deleted = True
		if r.permission == Permission.UNSUBSCRIBED:
			seen.channels[email].append("cc")


def _read_leads(seen: _Evidence, lead_email_field: str) -> None:
	"""An unsubscribed Lead (or one marked Do Not Contact, as the settings say) opts its address out;
	its own date is kept apart (see settle_state)."""
	for r in select_in(
		f"""select `{lead_email_field}` as email, cast(modified as char) as at from `tab{LEAD}`
		where {lead_target.opted_out_sql()} and `{lead_email_field}` in %(values)s""",
		seen.wanted,
	):
		email = seen.address(r.email)
		if email is not None:
			seen.channels[email].append("lead")
			seen.lead_dates.setdefault(email, []).append(from_site(r.at))


def _read_unsubscribes(seen: _Evidence) -> None:
	"""Frappe's Email Unsubscribe: global or for one document opts out; for one Email Group leaves it."""
	for r in select_in(
		"""select email, cast(creation as char) as at, global_unsubscribe, reference_doctype, reference_name
		from `tabEmail Unsubscribe` where email in %(values)s""",
		seen.wanted,
	):
		email = seen.address(r.email)
		if email is None:
			continue
		if not r.global_unsubscribe and r.reference_doctype == EMAIL_GROUP:
			seen.group_leaves.setdefault(email, {})[r.reference_name] = from_site(r.at)
		else:
			seen.opted_out(email, "unsubscribe", from_site(r.at))


def _read_optouts(seen: _Evidence) -> None:
	"""The app's own address-level opt-out rows, pending (not yet in CC) or done."""
	for r in select_in(
		f"""select email, status, cast(opted_out_at as char) as at from `tab{OPT_OUT}`
		where email in %(values)s and coalesce(email_group, '') = ''""",
		seen.wanted,
	):
		email = seen.address(r.email)
		if email is not None:
			channel = "pending" if r.status == OptOutStatus.PENDING else "optout"
			seen.opted_out(email, channel, from_site(r.at))


def _read_group_leaves(seen: _Evidence) -> None:
	"""The CC lists each address left through a group leave, pending or in CC already (the latest leave
	of each list)."""
	for r in select_in(
		f"""select email, cc_lists, cast(opted_out_at as char) as at from `tab{OPT_OUT}`
		where email in %(values)s and coalesce(email_group, '') != '' and coalesce(cc_lists, '') != ''""",
		seen.wanted,
	):
		email = seen.address(r.email)
		if email is None:
			continue
		at = from_site(r.at)
		left = seen.states[email].left_lists
		for list_id in split_lists(r.cc_lists):
			held = left.get(list_id, at)
			left[list_id] = None if held is None or at is None else max(held, at)


def _read_member_rows(seen: _Evidence) -> None:
	for r in select_in(
		f"""select email, email_group, unsubscribed, cast(modified as char) as at from `tab{EMAIL_GROUP_MEMBER}`
		where email in %(values)s""",
		seen.wanted,
	):
		email = seen.address(r.email)
		if email is not None:
			seen.states[email].rows[r.email_group] = MemberRow(bool(r.unsubscribed), from_site(r.at))
