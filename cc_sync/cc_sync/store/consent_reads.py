"""Reading consent on a Frappe site: every opt-out channel of each address as one answer.

Channels of an address's opt-out: Contact.unsubscribed, Lead.unsubscribed (or its status Do Not Contact),
Email Unsubscribe (global, or for one document other than an Email Group), and the app's own opt-out
rows (pending or done, kept too when the record that held an opt-out is deleted). An Email Group Member
row that is unsubscribed, or an Email Unsubscribe for one Email Group, is a leave of that group only.
No rule lives here: the engine's consent module settles what was read.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cc_sync.cc_sync.constants import (
	CONTACT_CC_DELETED,
	CONTACT_CC_PERMISSION,
	CONTACT_OPTED_OUT_AT,
	CONTACT_OPTOUT_CC_CLOCK,
	EMAIL_GROUP,
	LEAD,
	OPT_OUT,
	OptOutStatus,
)
from cc_sync.cc_sync.indexes import member_table
from cc_sync.cc_sync.sitetime import from_site, site_tz
from cc_sync.cc_sync.store.opt_out_lists import split_lists
from cc_sync.cc_sync.store.sql import doctype_exists, joined_sql, select_in, unjoined
from cc_sync.cc_sync.targets import lead as lead_target
from cc_sync.constant_contact.models import Permission
from cc_sync.sync import consent
from cc_sync.sync.consent import AddressConsent, MemberRow
from cc_sync.sync.matching import normalise_email

# What a Contact row says of its address's consent, as `contact_consent_columns` reads it.
ContactConsent = tuple[Any, Any, Any, Any, Any]


class ConsentReads:
	"""The consent part's reads; an address's Leads are read by `lead_email_field`."""

	def __init__(self, lead_email_field: str = "email_id") -> None:
		self.lead_email_field = lead_email_field

	def state(
		self,
		emails: Collection[str],
		contact_rows: Iterable[tuple[str, ContactConsent]] | None = None,
		other_rows: Iterable[tuple] | None = None,
	) -> dict[str, AddressConsent]:
		return consent_state(emails, self.lead_email_field, contact_rows, other_rows)

	def other_channels_sql(self) -> str:
		return other_channels_sql(self.lead_email_field)

	def opted_out(self, emails: Collection[str]) -> set[str]:
		"""The addresses never to be pushed: opted out on either side, or deleted in CC."""
		return {email for email, state in self.state(emails).items() if state.never_push}


def consent_state(
	emails: Collection[str],
	lead_email_field: str = "email_id",
	contact_rows: Iterable[tuple[str, ContactConsent]] | None = None,
	other_rows: Iterable[tuple] | None = None,
) -> dict[str, AddressConsent]:
	"""Every channel of each address together, in two batched statements (one when the caller has read
	the Contacts of these addresses already and passes them as `contact_rows`: (address, row) for every
	Contact Email row of the addresses, as `contact_consent_columns` reads them; none when it has also
	read `other_channels_sql` for exactly these addresses and passes its rows as `other_rows`)."""
	wanted = {e for e in (normalise_email(e) for e in emails) if e}
	if not wanted:
		return {}
	seen = _Evidence(wanted)
	if contact_rows is None:
		_read_contacts(seen)
	else:
		for email, row in contact_rows:
			if email in seen.states:
				_contact_evidence(seen, email, row)
	values = sorted(seen.wanted)
	if other_rows is None:
		other_rows = select_in(other_channels_sql(lead_email_field), values, as_dict=False)
	rows = unjoined(other_rows)
	if rows is None:
		# Longer than the server would join into one answer: read row by row.
		plain = select_in(_channels_sql(lead_email_field), values, as_dict=False)
		rows = [json.loads(packed) for (packed,) in plain]
	_other_channels(seen, rows)
	return seen.settled()


def contact_consent_columns(alias: str) -> str:
	"""The Contact columns `consent_state` takes as `contact_rows`, in their order."""
	return (
		f"{alias}.unsubscribed, cast({alias}.`{CONTACT_OPTED_OUT_AT}` as char), {alias}.`{CONTACT_OPTOUT_CC_CLOCK}`, "
		f"{alias}.`{CONTACT_CC_DELETED}`, {alias}.`{CONTACT_CC_PERMISSION}`"
	)


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
		f"""select ce.email_id, {contact_consent_columns("c")}
		from `tabContact Email` ce join `tabContact` c on c.name = ce.parent
		where ce.parenttype = 'Contact' and ce.email_id in %(values)s""",
		seen.wanted,
		as_dict=False,
	):
		email = seen.address(r[0])
		if email is not None:
			_contact_evidence(seen, email, r[1:])


def _contact_evidence(seen: _Evidence, email: str, row: ContactConsent) -> None:
	unsubscribed, at, cc_clock, deleted, permission = row
	if unsubscribed:
		seen.opted_out(email, "contact", from_site(at), bool(cc_clock))
	if deleted:
		seen.states[email].cc_deleted = True
	if permission == Permission.UNSUBSCRIBED:
		seen.channels[email].append("cc")


def other_channels_sql(lead_email_field: str) -> str:
	"""Leads, Email Unsubscribes, the app's opt-out rows and the member rows of the addresses in
	`%(values)s`, in one statement (each part reads its table's address index), each row (kind, address,
	date, three more values) one JSON array, joined in one answer (see `sql.joined_sql`)."""
	return joined_sql(_channels_sql(lead_email_field))


def _channels_sql(lead_email_field: str) -> str:
	"""The rows `other_channels_sql` joins, one per row (as `p`)."""
	parts = []
	if doctype_exists(LEAD):
		parts.append(
			f"""select {_packed("'lead'", f"`{lead_email_field}`", "cast(modified as char)", "null", "null", "null")}
			from `tab{LEAD}` where {lead_target.opted_out_sql()} and `{lead_email_field}` in %(values)s"""
		)
	unsubscribe = _packed(
		"'unsubscribe'",
		"email",
		"cast(creation as char)",
		"global_unsubscribe",
		"reference_doctype",
		"reference_name",
	)
	parts.append(f"select {unsubscribe} from `tabEmail Unsubscribe` where email in %(values)s")
	optout = _packed("'optout'", "email", "cast(opted_out_at as char)", "status", "email_group", "cc_lists")
	parts.append(f"select {optout} from `tab{OPT_OUT}` where email in %(values)s")
	member = _packed("'member'", "email", "cast(modified as char)", "unsubscribed", "email_group", "null")
	parts.append(f"select {member} from {member_table()} where email in %(values)s")
	return " union all ".join(parts)


def _other_channels(seen: _Evidence, rows: Iterable[list[Any]]) -> None:
	readers = {
		"lead": _lead_row,
		"unsubscribe": _unsubscribe_row,
		"optout": _optout_row,
		"member": _member_row,
	}
	tz = site_tz()
	for kind, raw, at, a, b, c in rows:
		email = seen.address(raw)
		if email is not None:
			readers[kind](seen, email, from_site(at, tz), a, b, c)


def _packed(*columns: str) -> str:
	"""The columns as one JSON array (named `p`), in one character set and collation whatever its
	table's."""
	return f"convert(json_array({', '.join(columns)}) using utf8mb4) as p"


def _lead_row(seen: _Evidence, email: str, at: datetime | None, *_: Any) -> None:
	"""An unsubscribed Lead (or one marked Do Not Contact, as the settings say) opts its address out;
	its own date is kept apart (see settle_state)."""
	seen.channels[email].append("lead")
	seen.lead_dates.setdefault(email, []).append(at)


def _unsubscribe_row(
	seen: _Evidence, email: str, at: datetime | None, global_unsubscribe: Any, doctype: Any, name: Any
) -> None:
	"""Frappe's Email Unsubscribe: global or for one document opts out; for one Email Group leaves it."""
	if str(global_unsubscribe or "0") in ("0", "") and doctype == EMAIL_GROUP:
		seen.group_leaves.setdefault(email, {})[name] = at
	else:
		seen.opted_out(email, "unsubscribe", at)


def _optout_row(
	seen: _Evidence, email: str, at: datetime | None, status: Any, group: Any, lists: Any
) -> None:
	"""The app's opt-out rows: of the address (pending, not yet in CC, or done), or a group leave, which
	records the CC lists the address left (pending or in CC already; the latest leave of each list)."""
	if not group:
		seen.opted_out(email, "pending" if status == OptOutStatus.PENDING else "optout", at)
		return
	if not lists:
		return
	left = seen.states[email].left_lists
	for list_id in split_lists(lists):
		held = left.get(list_id, at)
		left[list_id] = None if held is None or at is None else max(held, at)


def _member_row(
	seen: _Evidence, email: str, at: datetime | None, unsubscribed: Any, group: Any, _: Any
) -> None:
	seen.states[email].rows[group] = MemberRow(str(unsubscribed or "0") not in ("0", ""), at)
