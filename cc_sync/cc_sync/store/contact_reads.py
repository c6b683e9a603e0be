"""Contacts, read: the site's contacts by CC id or address, with where each address stands on consent."""

from __future__ import annotations

from collections.abc import Collection

from cc_sync.cc_sync.constants import (
	CONTACT_CC_DELETED,
	CONTACT_CC_EMAIL_UPDATED_AT,
	CONTACT_CC_ID,
	CONTACT_CC_PERMISSION,
	CONTACT_CC_UPDATED_AT,
	CONTACT_LAST_SYNCED,
	CONTACT_OPTED_OUT_AT,
	CONTACT_OPTOUT_CC_CLOCK,
)
from cc_sync.cc_sync.sitetime import from_site
from cc_sync.cc_sync.store import addresses
from cc_sync.cc_sync.store.sql import (
	select_in,
)
from cc_sync.sync.consent import AddressConsent
from cc_sync.sync.matching import normalise_email
from cc_sync.sync.records import (
	SiteContact,
)

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

_DATETIME_STATE = frozenset(
	{"creation", CONTACT_OPTED_OUT_AT, CONTACT_CC_UPDATED_AT, CONTACT_CC_EMAIL_UPDATED_AT}
)

NUMERIC = frozenset({"Check", "Int", "Float", "Currency", "Percent", "Rating", "Duration"})

_STATE_COLUMNS = (
	"name",
	"email_id",
	"creation",
	"unsubscribed",
	CONTACT_CC_ID,
	CONTACT_CC_PERMISSION,
	CONTACT_OPTED_OUT_AT,
	CONTACT_CC_UPDATED_AT,
	CONTACT_CC_EMAIL_UPDATED_AT,
	CONTACT_CC_DELETED,
)


class ContactReadsMixin:
	"""Part of `FrappeStore` (see `store/__init__.py`)."""

	def _contact_columns(self) -> str:
		"""The columns find_contacts reads; the sync's own datetimes come as text, parsed much faster here
		than by the driver's converter."""
		columns = []
		for column in (*_STATE_COLUMNS, *(f for f in self.site_fields if f not in _STATE_COLUMNS)):
			if column in _DATETIME_STATE:
				columns.append(f"cast(`{column}` as char) as `{column}`")
			else:
				columns.append(f"`{column}`")
		return ", ".join(columns)

	def find_contacts(self, cc_ids: Collection[str], emails: Collection[str]) -> list[SiteContact]:
		return self._find(cc_ids, emails, with_page_consent=False)[0]

	def read_page(
		self, cc_ids: Collection[str], emails: Collection[str]
	) -> tuple[list[SiteContact], dict[str, AddressConsent]]:
		# One consent read for the page's addresses and those of the contacts found: an unchanged page
		# costs its lookups once, not twice.
		return self._find(cc_ids, emails, with_page_consent=True)

	def _find(
		self, cc_ids: Collection[str], emails: Collection[str], *, with_page_consent: bool
	) -> tuple[list[SiteContact], dict[str, AddressConsent]]:
		names: set[str] = set()
		matched: dict[str, list[str]] = {}
		ids = [i for i in cc_ids if i]
		wanted = [e for e in (normalise_email(e) for e in emails) if e]
		# The page's lookups and inserts reach these index entries: read them in parallel first.
		self.read_ahead.read(ids, wanted)
		if ids:
			names.update(
				r.name
				for r in select_in(
					f"select name from `tabContact` where `{CONTACT_CC_ID}` in %(values)s", ids
				)
			)
		for address, rows in addresses.contact_emails(wanted).items():
			for r in rows:
				names.add(r.parent)
				matched.setdefault(r.parent, []).append(address)
		rows = (
			{
				r.name: r
				for r in select_in(
					f"select {self._contact_columns()} from `tabContact` where name in %(values)s", names
				)
			}
			if names
			else {}
		)
		email_of: dict[str, str | None] = {}
		for name, row in rows.items():
			primary = normalise_email(row.email_id)
			hits = matched.get(name, [])
			email_of[name] = primary if (primary in hits or not hits) else hits[0]
		held = {e for e in email_of.values() if e}
		if with_page_consent:
			held.update(wanted)
		states = self.consent_reads.state(held) if held else {}
		out = []
		for name in sorted(rows):
			row = rows[name]
			email = email_of[name]
			state = states.get(email or "")
			out.append(
				SiteContact(
					key=name,
					email=email,
					cc_contact_id=row.get(CONTACT_CC_ID) or None,
					unsubscribed=bool(state and state.opted_out),
					opted_out_at=state.opted_out_at if state and state.opted_out else None,
					optout_cc_clock=bool(state and state.opted_out and state.cc_clock),
					cc_permission=row.get(CONTACT_CC_PERMISSION) or None,
					cc_updated_at=from_site(row.get(CONTACT_CC_UPDATED_AT)),
					cc_email_updated_at=from_site(row.get(CONTACT_CC_EMAIL_UPDATED_AT)),
					cc_deleted=bool(row.get(CONTACT_CC_DELETED)),
					fields={f: row.get(f) for f in self.site_fields},
					groups=frozenset(state.rows) if state else frozenset(),
					created=from_site(row.creation),
				)
			)
		return out, states

	def _contact_by_email(self, email: str) -> str | None:
		return addresses.contact_for(email)
