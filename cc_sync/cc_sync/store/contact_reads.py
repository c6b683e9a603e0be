"""Contacts, read: the site's contacts by CC id or address, with where each address stands on consent,
and the one rule for which Contact holds an address.

Which Contacts hold an address: the Contact Email rows holding it exactly (see addresses.py), in the one
order the sync matches by (`holder_order`): the Contact linked to CC first, then the oldest, then by
name. The sync, the opt-outs, the Lead form and the record status all take the first.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime

import frappe

from cc_sync.cc_sync.column_fit import TEXT_TYPES
from cc_sync.cc_sync.constants import (
	CONTACT,
	CONTACT_CC_DELETED,
	CONTACT_CC_EMAIL_UPDATED_AT,
	CONTACT_CC_ID,
	CONTACT_CC_PERMISSION,
	CONTACT_CC_UPDATED_AT,
	CONTACT_EMAIL,
	CONTACT_LAST_SYNCED,
	CONTACT_OPTED_OUT_AT,
	CONTACT_OPTOUT_CC_CLOCK,
)
from cc_sync.cc_sync.sitetime import from_site, site_tz
from cc_sync.cc_sync.store import addresses
from cc_sync.cc_sync.store.consent_reads import ConsentReads, contact_consent_columns
from cc_sync.cc_sync.store.page_ahead import PageReadAhead
from cc_sync.cc_sync.store.prefetch import IndexReadAhead
from cc_sync.cc_sync.store.sql import joined_sql, select_in, unjoined
from cc_sync.sync.consent import AddressConsent
from cc_sync.sync.matching import holder_order, normalise_email
from cc_sync.sync.records import (
	SiteContact,
)
from cc_sync.sync.store import PageKeys

# Contact columns the store manages itself; a field map cannot write them.
RESERVED = frozenset(
	{
		"name",
		"owner",
		"creation",
		"modified",
		"modified_by",
		"docstatus",
		"idx",
		"email_id",
		"full_name",
		"unsubscribed",
		CONTACT_CC_ID,
		CONTACT_CC_PERMISSION,
		CONTACT_OPTED_OUT_AT,
		CONTACT_OPTOUT_CC_CLOCK,
		CONTACT_LAST_SYNCED,
		CONTACT_CC_DELETED,
		CONTACT_CC_UPDATED_AT,
		CONTACT_CC_EMAIL_UPDATED_AT,
	}
)

_DATETIME_STATE = frozenset({"creation", CONTACT_OPTED_OUT_AT})

NUMERIC = frozenset({"Check", "Int", "Float", "Currency", "Percent", "Rating", "Duration"})

# The consent columns each Contact row of `_find` starts with (`consent_reads.contact_consent_columns`).
CONSENT_WIDTH = 5

_BY_ADDRESS = """from `tabContact Email` ce join `tabContact` c on c.name = ce.parent
	where ce.parenttype = 'Contact' and ce.email_id in %(values)s"""

_STATE_COLUMNS = (
	"name",
	"email_id",
	"creation",
	"unsubscribed",
	CONTACT_CC_ID,
	CONTACT_CC_PERMISSION,
	CONTACT_OPTED_OUT_AT,
	CONTACT_CC_DELETED,
)


class ContactReads:
	"""The site contacts part's reads: `site_fields` are the Contact fields read beside the sync's own,
	`consent` reads each address's consent, `read_ahead` reads a page's index entries ahead on a large
	site, `page_ahead` the next page's rows while a page is decided."""

	def __init__(
		self,
		site_fields: Sequence[str],
		consent: ConsentReads,
		read_ahead: IndexReadAhead,
		page_ahead: PageReadAhead | None = None,
	) -> None:
		self.site_fields = list(site_fields)
		self.consent = consent
		self.read_ahead = read_ahead
		self.page_ahead = page_ahead
		self._text_fields: bool | None = None  # whether every site field is a text column
		self._next_reads: tuple[str, str] | None = None  # the statements the next page of a read reads by

	def holders(self, emails: Iterable[str | None]) -> dict[str, list[str]]:
		"""The Contacts holding each address, the one the sync takes first (see `contacts_by_address`)."""
		return contacts_by_address(emails)

	def holder(self, emails: Iterable[str | None] | str | None) -> str | None:
		"""The one Contact that holds this address (see `contact_for`)."""
		return contact_for(emails)

	def _column_names(self) -> tuple[str, ...]:
		return (*_STATE_COLUMNS, *self._own_fields())

	def _own_fields(self) -> list[str]:
		return [f for f in self.site_fields if f not in _STATE_COLUMNS]

	def _contact_columns(self) -> str:
		"""What `_find` selects of each Contact: its consent columns and the sync's own (`_STATE_COLUMNS`)
		packed in one JSON array, then the site fields as they are. A driver written in Python parses
		each column of each row on its own, so one column for fifteen costs a page a fraction; the
		sync's own datetimes travel as text, as the JSON array must carry them."""
		return ", ".join([f"json_array({self._state_values()})", *self._own_columns()])

	def _state_values(self) -> str:
		state = [
			f"cast(c.`{column}` as char)" if column in _DATETIME_STATE else f"c.`{column}`"
			for column in _STATE_COLUMNS
		]
		return ", ".join([contact_consent_columns("c"), *state])

	def _own_columns(self) -> list[str]:
		return [f"c.`{f}`" for f in self._own_fields()]

	def _by_address_sql(self) -> str:
		"""The Contacts of the addresses in `%(values)s`. Where every site field is text (JSON keeps a text
		as it is, a date or a number would come back in another type), each row is one JSON array
		(address, consent and state columns, site fields), joined in one answer (`joined_sql`);
		otherwise (address, packed columns, site fields) a row (`plain_by_address_sql`)."""
		if not self._fields_are_text():
			return self._plain_by_address_sql()
		values = ", ".join(["ce.email_id", self._state_values(), *self._own_columns()])
		return joined_sql(f"select json_array({values}) as p {_BY_ADDRESS}")

	def _plain_by_address_sql(self) -> str:
		return f"select ce.email_id, {self._contact_columns()} {_BY_ADDRESS}"

	def _fields_are_text(self) -> bool:
		if self._text_fields is None:
			types = dict(
				frappe.db.sql(
					"""select column_name, data_type from information_schema.columns
					where table_schema = database() and table_name = %s""",
					f"tab{CONTACT}",
				)
			)
			self._text_fields = all(str(types.get(f, "")).lower() in TEXT_TYPES for f in self._own_fields())
		return self._text_fields

	def _address_rows(self, sql: str, values: Collection[str]) -> list[Sequence]:
		"""The Contact rows of these addresses, each (address, consent and state columns, site fields)."""
		answers = self._rows(sql, values)
		if self._fields_are_text():  # `_by_address_sql` joined the answer
			rows = unjoined(answers)
			if rows is not None:
				return rows
			# Longer than the server would join into one answer: read row by row.
			answers = select_in(self._plain_by_address_sql(), sorted(values), as_dict=False)
		return [(r[0], *json.loads(r[1]), *r[2:]) for r in answers]

	def _rows(self, sql: str, values: Collection[str]) -> list[tuple]:
		"""A read by these addresses, as sent ahead (see page_ahead) or now."""
		ahead = self.page_ahead.take(sql, values) if self.page_ahead is not None else None
		return ahead if ahead is not None else select_in(sql, sorted(values), as_dict=False)

	def find_contacts(self, cc_ids: Collection[str], emails: Collection[str]) -> list[SiteContact]:
		return self._find(cc_ids, emails, with_page_consent=False)[0]

	def read_page(
		self,
		cc_ids: Collection[str],
		emails: Collection[str],
		upcoming: PageKeys | None = None,
	) -> tuple[list[SiteContact], dict[str, AddressConsent]]:
		# One consent read for the page's addresses and those of the contacts found; the page's two reads
		# by address made once, for this page and the next. The pages of one whole-account read share
		# them: the statements (and the Do Not Contact setting they hold) are made at its first page.
		reads = self._next_reads or (self._by_address_sql(), self.consent.other_channels_sql())
		self._next_reads = None
		found = self._find(cc_ids, emails, with_page_consent=True, reads=reads)
		if upcoming is not None:
			self._next_reads = reads
			# The next page's two reads, answered while this page is decided (see page_ahead).
			page = {e for e in (normalise_email(e) for e in upcoming[1]) if e}
			if page and self.page_ahead is not None:
				self.page_ahead.send([(sql, page) for sql in reads])
		return found

	def _find(
		self,
		cc_ids: Collection[str],
		emails: Collection[str],
		*,
		with_page_consent: bool,
		reads: tuple[str, str] | None = None,
	) -> tuple[list[SiteContact], dict[str, AddressConsent]]:
		ids = [i for i in cc_ids if i]
		wanted = [e for e in (normalise_email(e) for e in emails) if e]
		# The page's lookups and inserts reach these index entries: read them in parallel first.
		self.read_ahead.read(ids, wanted)
		asked = set(wanted)
		# Each Contact once, as a tuple: its consent columns, then `_column_names` (name first).
		select = self._contact_columns()
		at = {c: i + CONSENT_WIDTH for i, c in enumerate(self._column_names())}
		rows: dict[str, tuple] = {}
		matched: dict[str, list[str]] = {}
		# (address, the Contact's consent columns) for every Contact Email row of the page's addresses:
		# the Contact channel of their consent, read with the Contacts themselves.
		holders: list[tuple[str, tuple]] = []
		if asked:
			# Rows by address, kept only where they hold the address exactly (see addresses.py).
			for r in self._address_rows(reads[0] if reads else self._by_address_sql(), asked):
				address = normalise_email(r[0])
				if address not in asked:
					continue
				row = tuple(r[1:])
				name = row[at["name"]]
				rows[name] = row
				matched.setdefault(name, []).append(address)
				holders.append((address, row[:CONSENT_WIDTH]))
		if ids:
			for row in select_in(
				f"select {select} from `tabContact` c where c.`{CONTACT_CC_ID}` in %(values)s",
				ids,
				as_dict=False,
			):
				row = (*json.loads(row[0]), *row[1:])
				rows.setdefault(row[at["name"]], row)
		email_of: dict[str, str | None] = {}
		for name, row in rows.items():
			primary = normalise_email(row[at["email_id"]])
			hits = matched.get(name, [])
			email_of[name] = primary if (primary in hits or not hits) else hits[0]
		held = {e for e in email_of.values() if e}
		if with_page_consent:
			held.update(wanted)
		# The page's addresses take their Contact channel from the rows above; an address only a
		# Contact found by CC id holds (CC moved that contact to a new address) is read whole.
		page = held & asked
		other = self._rows(reads[1] if reads else self.consent.other_channels_sql(), page) if page else None
		states = self.consent.state(page, holders, other) if page else {}
		if held - asked:
			states.update(self.consent.state(held - asked))
		tz = site_tz()
		fields = [(f, at[f]) for f in self.site_fields]
		out = []
		for name in sorted(rows):
			row = rows[name]
			email = email_of[name]
			state = states.get(email or "")
			out.append(
				SiteContact(
					key=name,
					email=email,
					cc_contact_id=row[at[CONTACT_CC_ID]] or None,
					unsubscribed=bool(state and state.opted_out),
					opted_out_at=state.opted_out_at if state and state.opted_out else None,
					optout_cc_clock=bool(state and state.opted_out and state.cc_clock),
					cc_permission=row[at[CONTACT_CC_PERMISSION]] or None,
					cc_deleted=bool(row[at[CONTACT_CC_DELETED]]),
					fields={f: row[i] for f, i in fields},
					groups=frozenset(state.rows) if state else frozenset(),
					created=from_site(row[at["creation"]], tz),
				)
			)
		return out, states


def contact_emails(emails: Iterable[str | None]) -> dict[str, list[frappe._dict]]:
	"""The Contact Email rows (`parent`, `address`) holding each address exactly."""
	return addresses.rows_by_address(
		CONTACT_EMAIL, "email_id", emails, "parent", "parenttype = %(parenttype)s", parenttype=CONTACT
	)


def contacts_by_address(emails: Iterable[str | None]) -> dict[str, list[str]]:
	"""The Contacts holding each address, in the one order the sync matches by (see above)."""
	rows = contact_emails(emails)
	parents = {row.parent for found in rows.values() for row in found}
	if not parents:
		return {}
	held = {
		r.name: r
		for r in select_in(
			f"""select name, `{CONTACT_CC_ID}` as cc_id, cast(creation as char) as created
			from `tab{CONTACT}` where name in %(values)s""",
			parents,
		)
	}
	out: dict[str, list[str]] = {}
	for address, found in rows.items():
		names = [n for n in dict.fromkeys(row.parent for row in found) if n in held]
		names.sort(key=lambda n: holder_order(bool(held[n].cc_id), _created(held[n].created), n))
		if names:
			out[address] = names
	return out


def contact_for(emails: Iterable[str | None] | str | None) -> str | None:
	"""The one Contact that holds this address (or the first of these addresses that one holds)."""
	if emails is None or isinstance(emails, str):
		emails = [emails]
	keys = [k for k in dict.fromkeys(normalise_email(e) for e in emails) if k]
	held = contacts_by_address(keys)
	for key in keys:
		if held.get(key):
			return held[key][0]
	return None


def _created(value: str | None) -> datetime | None:
	return from_site(value) if value else None
