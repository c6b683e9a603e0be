"""Who is who: normalising emails and resolving a CC contact to exactly one site contact.

CC's contact id wins; then the normalised email. Two site contacts with one email resolve to the same one
every time (the one already linked, then the oldest, then the smallest key) and are reported.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from cc_sync.constant_contact.models import Contact
from cc_sync.sync.records import SiteContact

# Deliberately plain: one @, a dot in the domain, no spaces. CC's own check is stricter on import and
# reports the rest as correctable errors, which the push then carries into the run report.
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
# The JSON import rejects addresses longer than this (other endpoints allow 80).
IMPORT_EMAIL_MAX = 50
_LATEST = datetime.max.replace(tzinfo=timezone.utc)


def normalise_email(email: str | None) -> str | None:
	"""The key two records of one address share: trimmed and lower-cased, or None when empty.

	A key for matching only, never what is sent: the push sends the address as the person wrote it
	(`written_email`). Lower-casing, not `casefold()`, which would make `straße@` and `strasse@` (two
	different mailboxes) one person.
	"""
	if not email:
		return None
	value = email.strip().lower()
	return value or None


def contact_address(contact: Contact) -> str | None:
	"""A CC contact's address as CC holds it (None for a contact without one: SMS only)."""
	return contact.email_address.address if contact.email_address is not None else None


def page_keys(contacts: Sequence[Contact]) -> tuple[list[str], list[str]]:
	"""A page's CC ids and addresses (normalised), as the store looks them up."""
	cc_ids = [c.contact_id for c in contacts if c.contact_id]
	return cc_ids, [e for e in (normalise_email(contact_address(c)) for c in contacts) if e]


def written_email(email: str | None) -> str | None:
	"""The address as the person wrote it, trimmed of surrounding spaces: what goes to CC."""
	if not email:
		return None
	return email.strip() or None


def email_problem(email: str | None) -> str | None:
	"""Why this address cannot be pushed to CC, or None when it can."""
	address = written_email(email)
	if not address:
		return "missing email"
	if not _EMAIL_RE.match(address):
		return f"invalid email: {address!r}"
	if len(address) > IMPORT_EMAIL_MAX:
		return f"email longer than {IMPORT_EMAIL_MAX} characters (CC import limit)"
	return None


@dataclass(slots=True)
class Match:
	contact: SiteContact | None
	# Other site contacts sharing the email: reported, never merged silently.
	duplicates: tuple[str, ...] = ()


class ContactIndex:
	"""The site contacts found for one page, indexed for matching."""

	def __init__(self, contacts: Iterable[SiteContact]) -> None:
		self.by_cc_id: dict[str, SiteContact] = {}
		self.by_email: dict[str, list[SiteContact]] = {}
		for contact in contacts:
			if contact.cc_contact_id:
				self.by_cc_id[contact.cc_contact_id] = contact
			if contact.email:
				self.by_email.setdefault(contact.email, []).append(contact)
		for group in self.by_email.values():
			if len(group) > 1:
				group.sort(key=_tie_break)

	def match(self, cc_contact_id: str | None, email: str | None) -> Match:
		if cc_contact_id and cc_contact_id in self.by_cc_id:
			found = self.by_cc_id[cc_contact_id]
			others = tuple(c.key for c in self.by_email.get(email or "", ()) if c.key != found.key)
			return Match(found, others)
		candidates = self.by_email.get(email or "", [])
		# A site contact already linked to another CC contact is someone else (CC emails are unique,
		# so this only happens after an email change on one side).
		if not cc_contact_id:
			# A row of CC's export names no contact id: the address alone says who it is.
			free = list(candidates)
		else:
			free = [c for c in candidates if not c.cc_contact_id or c.cc_contact_id == cc_contact_id]
		if not free:
			return Match(None, tuple(c.key for c in candidates))
		return Match(free[0], tuple(c.key for c in free[1:]))

	def add(self, contact: SiteContact) -> None:
		"""Index a contact created earlier in the same page, so a repeat in the page is not created twice."""
		if contact.cc_contact_id:
			self.by_cc_id[contact.cc_contact_id] = contact
		if contact.email:
			self.by_email.setdefault(contact.email, []).insert(0, contact)


def holder_order(linked_to_cc: bool, created: datetime | None, key: str) -> tuple:
	"""Which of several site contacts holding one address is the one: the contact linked to CC, then
	the oldest, then the smallest key. The sync's matching and the store's address lookup (the Lead
	form, the opt-outs) both order by it."""
	return (0 if linked_to_cc else 1, created or _LATEST, key)


def _tie_break(contact: SiteContact) -> tuple:
	return holder_order(bool(contact.cc_contact_id), contact.created, contact.key)
