"""The reference store: the whole site in dictionaries.

It is what the engine's tests, property tests and benchmarks run on, and it defines by example what the
Frappe store must do. Writes apply at once and are undone on `rollback()` (or when a run dies before
`commit()`), so crash tests see exactly the committed state a database would keep.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

from cc_sync.sync.matching import normalise_email
from cc_sync.sync.records import (
	ActivityRecord,
	ContactWrite,
	LocalOptOut,
	PushCandidate,
	PushOutcome,
	SiteContact,
)


@dataclass(slots=True)
class MemoryLead:
	key: str
	email: str | None
	fields: dict[str, Any] = field(default_factory=dict)
	unsubscribed: bool = False
	modified: datetime | None = None
	cc_contact_id: str | None = None
	push_status: str | None = None
	push_error: str | None = None
	pushed_at: datetime | None = None


class MemberRows(dict):
	"""Email Group Member rows, (group, email) -> unsubscribed, indexed by email."""

	def __init__(self) -> None:
		super().__init__()
		self.by_email: dict[str, set[str]] = {}

	def __setitem__(self, key: tuple[str, str], value: bool) -> None:
		super().__setitem__(key, value)
		self.by_email.setdefault(key[1], set()).add(key[0])

	def pop(self, key: tuple[str, str], *default: Any) -> Any:
		self.by_email.get(key[1], set()).discard(key[0])
		return super().pop(key, *default)

	def groups_of(self, email: str) -> list[str]:
		return sorted(self.by_email.get(email, ()))


class MemoryStore:
	"""A site held in memory, with the same semantics as the Frappe store."""

	def __init__(self, now: Callable[[], datetime] | None = None) -> None:
		self._now = now or (lambda: datetime.now(timezone.utc))
		self.contacts: dict[str, SiteContact] = {}
		self.leads: dict[str, MemoryLead] = {}
		# (group, email) -> unsubscribed
		self.members = MemberRows()
		self.watermarks: dict[str, datetime] = {}
		self.states: dict[str, dict[str, Any]] = {}
		self.deleted_count: int | None = None
		self.optouts: dict[str, LocalOptOut] = {}
		# Address-level opt-outs that outlive any record (Frappe's global Email Unsubscribe).
		self.suppressed: dict[str, datetime] = {}
		self.activities: dict[str, ActivityRecord] = {}
		self._by_cc_id: dict[str, str] = {}
		self._by_email: dict[str, set[str]] = {}
		self._lead_keys: dict[str, list[str]] = {}
		self._seq = itertools.count(1)
		self._undo: list[Callable[[], None]] = []
		# Called before every write with the method name; a test raises from it to simulate a crash.
		self.before_write: Callable[[str], None] | None = None
		self.writes = 0
		self.commits = 0

	# -- site-side events (what users and web forms do) ------------------------------------------
	def add_contact(self, email: str | None, *, unsubscribed: bool = False, **fields: Any) -> str:
		key = f"C-{next(self._seq):06d}"
		contact = SiteContact(key=key, email=normalise_email(email), fields=dict(fields), created=self._now())
		self._put_contact(contact)
		if unsubscribed:
			self.unsubscribe_locally(contact.email or "")
		self.commit()
		return key

	def add_lead(self, email: str | None, *, unsubscribed: bool = False, **fields: Any) -> str:
		key = f"L-{next(self._seq):06d}"
		self.leads[key] = MemoryLead(
			key=key, email=email, fields=dict(fields), unsubscribed=unsubscribed, modified=self._now()
		)
		address = normalise_email(email)
		if address:
			self._lead_keys.setdefault(address, []).append(key)
		if unsubscribed and normalise_email(email):
			self.unsubscribe_locally(email or "")
		return key

	def edit_lead(self, key: str, **fields: Any) -> None:
		lead = self.leads[key]
		lead.fields.update(fields)
		lead.modified = self._now()

	def unsubscribe_locally(self, email: str, *, by_person: bool = False, reason: str | None = None) -> None:
		"""A site user or an unsubscribe link opts this address out."""
		address = normalise_email(email)
		if not address:
			return
		now = self._now()
		for key in self._by_email.get(address, ()):
			contact = self.contacts[key]
			contact.unsubscribed = True
			# The latest opt-out is the one a CC opt-in has to be newer than.
			contact.opted_out_at = max(contact.opted_out_at or now, now)
		for group in self.members.groups_of(address):
			self.members[(group, address)] = True
		for lead in self._leads_for(address):
			lead.unsubscribed = True
		self.suppressed[address] = max(self.suppressed.get(address, now), now)
		cc_id = next(
			(
				self.contacts[k].cc_contact_id
				for k in self._by_email.get(address, ())
				if self.contacts[k].cc_contact_id
			),
			None,
		)
		pending = self.optouts.get(address)
		if pending is None or pending.at < now:
			self.optouts[address] = LocalOptOut(
				email=address,
				at=now,
				cc_contact_id=cc_id or (pending.cc_contact_id if pending else None),
				reason=reason,
				by_person=by_person,
			)

	def contact_by_email(self, email: str) -> SiteContact | None:
		keys = sorted(self._by_email.get(normalise_email(email) or "", ()))
		return self._view(self.contacts[keys[0]]) if keys else None

	def _view(self, contact: SiteContact) -> SiteContact:
		"""A copy as the engine sees it: an address-level opt-out makes the contact opted out too."""
		view = replace(contact, fields=dict(contact.fields))
		suppressed_at = self.suppressed.get(contact.email or "")
		if suppressed_at is not None and not view.unsubscribed:
			view.unsubscribed = True
			view.opted_out_at = suppressed_at
		return view

	# -- watermarks ------------------------------------------------------------------------------
	def get_watermark(self, stream: str) -> datetime | None:
		return self.watermarks.get(stream)

	def set_watermark(self, stream: str, value: datetime) -> None:
		self._before("set_watermark")
		old = self.watermarks.get(stream)
		self.watermarks[stream] = value
		self._undo.append(
			lambda: self.watermarks.__setitem__(stream, old) if old else self.watermarks.pop(stream, None)
		)

	def get_state(self, name: str) -> dict[str, Any] | None:
		value = self.states.get(name)
		return copy.deepcopy(value) if value is not None else None

	def set_state(self, name: str, value: dict[str, Any]) -> None:
		self._before("set_state")
		old = self.states.get(name)
		self.states[name] = copy.deepcopy(value)
		self._undo.append(lambda: self.states.__setitem__(name, old) if old else self.states.pop(name, None))

	def get_deleted_count(self) -> int | None:
		return self.deleted_count

	def set_deleted_count(self, count: int) -> None:
		self._before("set_deleted_count")
		old = self.deleted_count
		self.deleted_count = count
		self._undo.append(lambda: setattr(self, "deleted_count", old))

	# -- contacts --------------------------------------------------------------------------------
	def count_cc_deleted(self) -> int:
		return len({c.cc_contact_id for c in self.contacts.values() if c.cc_deleted and c.cc_contact_id})

	def find_contacts(self, cc_ids: Collection[str], emails: Collection[str]) -> list[SiteContact]:
		keys: set[str] = set()
		for cc_id in cc_ids:
			key = self._by_cc_id.get(cc_id)
			if key:
				keys.add(key)
		for email in emails:
			keys.update(self._by_email.get(email, ()))
		return [self._view(self.contacts[k]) for k in sorted(keys)]

	def apply_contacts(self, writes: Sequence[ContactWrite], managed_groups: Collection[str]) -> list[str]:
		self._before("apply_contacts")
		keys = []
		for write in writes:
			keys.append(self._apply_one(write, managed_groups))
		return keys

	def _apply_one(self, write: ContactWrite, managed_groups: Collection[str]) -> str:
		self.writes += 1
		if write.key is None:
			contact = SiteContact(key=f"C-{next(self._seq):06d}", email=write.email, created=self._now())
			self._put_contact(contact)
			self._undo.append(lambda c=contact: self._drop_contact(c))
		else:
			contact = self.contacts[write.key]
			snapshot = replace(contact, fields=dict(contact.fields))
			self._undo.append(lambda s=snapshot: self._restore_contact(s))
		if write.cc_contact_id and contact.cc_contact_id != write.cc_contact_id:
			if contact.cc_contact_id:
				self._by_cc_id.pop(contact.cc_contact_id, None)
			contact.cc_contact_id = write.cc_contact_id
			self._by_cc_id[write.cc_contact_id] = contact.key
			self._link_leads(contact)
		if write.email and write.email != contact.email:
			self._reindex_email(contact, write.email)
		contact.fields.update(write.fields)
		for attr in ("cc_permission", "cc_updated_at", "cc_email_updated_at", "cc_deleted", "opted_out_at"):
			value = getattr(write, attr)
			if value is not None:
				setattr(contact, attr, value)
		email = contact.email or write.email
		if write.unsubscribed is True:
			contact.unsubscribed = True
			for group in self.members.groups_of(email):
				self._set_member(group, email, True)
			for lead in self._leads_for(email):
				if not lead.unsubscribed:
					lead.unsubscribed = True
					self._undo.append(lambda lead=lead: setattr(lead, "unsubscribed", False))
		elif write.unsubscribed is False:
			contact.unsubscribed = False
			contact.opted_out_at = None
			for group in self.members.groups_of(email):
				if write.groups is None or group in write.groups:
					self._set_member(group, email, False)
			if email in self.optouts:
				old = self.optouts.pop(email)
				self._undo.append(lambda o=old: self.optouts.__setitem__(o.email, o))
			if email in self.suppressed:
				when = self.suppressed.pop(email)
				self._undo.append(lambda w=when: self.suppressed.__setitem__(email, w))
			for lead in self._leads_for(email):
				if lead.unsubscribed:
					lead.unsubscribed = False
					self._undo.append(lambda lead=lead: setattr(lead, "unsubscribed", True))
		if write.groups is not None:
			# A row added for someone opted out is added opted out.
			opted_out = contact.unsubscribed or email in self.suppressed
			self._set_groups(email, write.groups, managed_groups, opted_out)
		if write.request_cc_optout and email not in self.optouts:
			self.optouts[email] = LocalOptOut(
				email=email, at=contact.opted_out_at or self._now(), cc_contact_id=contact.cc_contact_id
			)
			self._undo.append(lambda e=email: self.optouts.pop(e, None))
		contact.groups = frozenset(self.members.groups_of(email))
		return contact.key

	def _set_groups(
		self, email: str, groups: frozenset[str], managed: Collection[str], opted_out: bool
	) -> None:
		for group in managed:
			present = (group, email) in self.members
			if group in groups and not present:
				self._set_member(group, email, opted_out)
			elif group not in groups and present and not self.members[(group, email)]:
				# An unsubscribed member row is the record of consent: it stays.
				old = self.members.pop((group, email))
				self._undo.append(lambda g=group, o=old: self.members.__setitem__((g, email), o))

	def _set_member(self, group: str, email: str, unsubscribed: bool) -> None:
		old = self.members.get((group, email))
		if old == unsubscribed:
			return
		self.members[(group, email)] = unsubscribed
		if old is None:
			self._undo.append(lambda: self.members.pop((group, email), None))
		else:
			self._undo.append(lambda: self.members.__setitem__((group, email), old))

	def _link_leads(self, contact: SiteContact) -> None:
		"""A lead with the contact's email learns its CC id, as the Frappe store links Lead and Contact."""
		for lead in self._leads_for(contact.email or ""):
			if not lead.cc_contact_id:
				lead.cc_contact_id = contact.cc_contact_id
				self._undo.append(lambda lead=lead: setattr(lead, "cc_contact_id", None))

	# -- consent ---------------------------------------------------------------------------------
	def pending_optouts(self) -> list[LocalOptOut]:
		return sorted(self.optouts.values(), key=lambda o: (o.at, o.email))

	def resolve_optout(self, email: str, cc_contact_id: str | None, at: datetime) -> None:
		self._before("resolve_optout")
		old = self.optouts.pop(email, None)
		if old:
			self._undo.append(lambda: self.optouts.__setitem__(email, old))
		for key in self._by_email.get(email, ()):
			contact = self.contacts[key]
			snapshot = replace(contact, fields=dict(contact.fields))
			self._undo.append(lambda s=snapshot: self._restore_contact(s))
			contact.cc_permission = "unsubscribed" if cc_contact_id else contact.cc_permission
			if cc_contact_id and not contact.cc_contact_id:
				contact.cc_contact_id = cc_contact_id
				self._by_cc_id[cc_contact_id] = key

	def defer_optout(self, email: str, attempts: int, retry_at: datetime, error: str) -> None:
		self._before("defer_optout")
		old = self.optouts.get(email)
		if old is None:
			return
		self.optouts[email] = replace(old, attempts=attempts, retry_at=retry_at, last_error=error)
		self._undo.append(lambda: self.optouts.__setitem__(email, old))

	def opted_out_emails(self, emails: Collection[str]) -> set[str]:
		wanted = set(emails)
		out = {e for e in wanted if e in self.optouts or e in self.suppressed}
		for email in wanted:
			for key in self._by_email.get(email, ()):
				c = self.contacts[key]
				if c.unsubscribed or c.cc_deleted or c.cc_permission == "unsubscribed":
					out.add(email)
		for email in wanted:
			if any(self.members[(g, email)] for g in self.members.groups_of(email)):
				out.add(email)
			if any(lead.unsubscribed for lead in self._leads_for(email)):
				out.add(email)
		return out

	# -- push ------------------------------------------------------------------------------------
	def push_candidates(self, since: datetime | None) -> Iterable[PushCandidate]:
		for lead in sorted(self.leads.values(), key=lambda x: (x.modified or datetime.min, x.key)):
			if since is None or (lead.modified and lead.modified > since):
				yield PushCandidate(
					key=lead.key,
					email=lead.email,
					fields=dict(lead.fields),
					modified=lead.modified,
					cc_contact_id=lead.cc_contact_id,
					pushed_at=lead.pushed_at,
				)

	def record_push(self, outcomes: Sequence[PushOutcome]) -> None:
		self._before("record_push")
		for outcome in outcomes:
			lead = self.leads.get(outcome.key)
			if lead is None:
				continue
			old = replace(lead, fields=dict(lead.fields))
			self._undo.append(lambda o=old: self.leads.__setitem__(o.key, o))
			lead.push_status = outcome.status
			lead.push_error = outcome.reason
			lead.pushed_at = outcome.at if outcome.status in ("Queued", "Pushed") else None
			if outcome.cc_contact_id:
				lead.cc_contact_id = outcome.cc_contact_id

	# -- activities ------------------------------------------------------------------------------
	def open_activities(self) -> list[ActivityRecord]:
		return sorted(
			(replace(a) for a in self.activities.values() if not a.finished),
			key=lambda a: (a.submitted_at, a.chunk_id),
		)

	def save_activity(self, record: ActivityRecord) -> None:
		self._before("save_activity")
		old = self.activities.get(record.chunk_id)
		self.activities[record.chunk_id] = replace(record)
		if old is None:
			self._undo.append(lambda: self.activities.pop(record.chunk_id, None))
		else:
			self._undo.append(lambda: self.activities.__setitem__(record.chunk_id, old))

	# -- transactions ----------------------------------------------------------------------------
	def commit(self) -> None:
		self._undo.clear()
		self.commits += 1

	def rollback(self) -> None:
		while self._undo:
			self._undo.pop()()

	# -- internals -------------------------------------------------------------------------------
	def _leads_for(self, email: str) -> list[MemoryLead]:
		return [self.leads[k] for k in self._lead_keys.get(email, ())]

	def _before(self, operation: str) -> None:
		if self.before_write is not None:
			self.before_write(operation)

	def _put_contact(self, contact: SiteContact) -> None:
		self.contacts[contact.key] = contact
		if contact.email:
			self._by_email.setdefault(contact.email, set()).add(contact.key)
		if contact.cc_contact_id:
			self._by_cc_id[contact.cc_contact_id] = contact.key

	def _drop_contact(self, contact: SiteContact) -> None:
		self.contacts.pop(contact.key, None)
		if contact.email:
			self._by_email.get(contact.email, set()).discard(contact.key)
		if contact.cc_contact_id and self._by_cc_id.get(contact.cc_contact_id) == contact.key:
			del self._by_cc_id[contact.cc_contact_id]

	def _restore_contact(self, snapshot: SiteContact) -> None:
		current = self.contacts.get(snapshot.key)
		if current is not None:
			self._drop_contact(current)
		self._put_contact(snapshot)

	def _reindex_email(self, contact: SiteContact, email: str) -> None:
		if contact.email:
			self._by_email.get(contact.email, set()).discard(contact.key)
		contact.email = email
		self._by_email.setdefault(email, set()).add(contact.key)
