"""The reference store: the whole site in dictionaries.

It is what the engine's tests, property tests and benchmarks run on, and it defines by example what the
Frappe store must do. Writes apply at once and are undone on `rollback()` (or when a run dies before
`commit()`), so crash tests see exactly the committed state a database would keep.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

from cc_sync.constant_contact.models import Permission
from cc_sync.sync import consent
from cc_sync.sync.config import ListMapping
from cc_sync.sync.consent import AddressConsent, MemberRow
from cc_sync.sync.matching import holder_order, normalise_email
from cc_sync.sync.records import (
	SENT_STATUSES,
	ActivityRecord,
	CampaignRecord,
	ContactWrite,
	EngagementEvent,
	LocalOptOut,
	PushCandidate,
	PushOutcome,
	PushStatus,
	SiteContact,
)

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
		# Pending opt-outs, by address (None) or by group: (email, group) -> opt-out.
		self.optouts: dict[tuple[str, str | None], LocalOptOut] = {}
		# Address-level opt-outs CC has confirmed: they stay opt-outs of the address (the opt-out row).
		self.optout_log: dict[str, datetime] = {}
		# Group leaves CC has been told of: they stay the record of the CC lists the person left.
		self.leave_log: dict[tuple[str, str], LocalOptOut] = {}
		# The site's list mappings, as the settings hold them: a group leave records the lists mapped to
		# its group when it is made.
		self.list_mappings: tuple[ListMapping, ...] = ()
		# Address-level opt-outs that outlive any record (Frappe's Email Unsubscribe, global or for one
		# document).
		self.suppressed: dict[str, datetime] = {}
		self.activities: dict[str, ActivityRecord] = {}
		self.campaigns: dict[str, CampaignRecord] = {}
		self.engagement: dict[str, EngagementEvent] = {}
		# The targets pushed, as the settings name them (Lead unless told otherwise). Newsletter sign-ups
		# (Email Group Member): each subscribed member row is pushed to the CC lists mapped for push to its
		# group; their push bookkeeping, by (group, email).
		self.push_doctypes: set[str] = {LEAD}
		self.sign_up_push: dict[tuple[str, str], MemoryLead] = {}
		# The settings' "Do Not Contact is an opt-out" (on by default).
		self.do_not_contact_is_optout = True
		# ERPNext's CRM Settings `auto_creation_of_contact` (on by default): a new Lead makes a Contact.
		self.lead_makes_contact = True
		# The Contacts Leads made for themselves.
		self.lead_contacts: set[str] = set()
		self._by_cc_id: dict[str, str] = {}
		self._by_email: dict[str, set[str]] = {}
		self._lead_keys: dict[str, list[str]] = {}
		self._seq = itertools.count(1)
		self._undo: list[Callable[[], None]] = []
		# Called before every write with the method name; a test raises from it to simulate a crash.
		self.before_write: Callable[[str], None] | None = None
		self.writes = 0
		self.commits = 0

	@property
	def push_sign_ups(self) -> bool:
		return EMAIL_GROUP_MEMBER in self.push_doctypes

	@push_sign_ups.setter
	def push_sign_ups(self, on: bool) -> None:
		(self.push_doctypes.add if on else self.push_doctypes.discard)(EMAIL_GROUP_MEMBER)

	# -- site-side events (what users and web forms do) ------------------------------------------
	def add_contact(self, email: str | None, *, unsubscribed: bool = False, **fields: Any) -> str:
		key = f"C-{next(self._seq):06d}"
		contact = SiteContact(key=key, email=normalise_email(email), fields=dict(fields), created=self._now())
		self._put_contact(contact)
		if unsubscribed:
			self.unsubscribe_locally(contact.email or "")
		self.commit()
		return key

	def add_lead(
		self,
		email: str | None,
		*,
		unsubscribed: bool = False,
		doctype: str = LEAD,
		status: str | None = None,
		**fields: Any,
	) -> str:
		"""A Lead (or a CRM Lead, with `doctype`) saved on the site, as its host app and cc_sync's doc
		events leave it: ERPNext's Lead makes a Contact of its own, ticked Unsubscribed or set to Do Not
		Contact opts its address out; a CRM Lead has no opt-out of its own."""
		target = TARGETS[doctype]
		if unsubscribed and not target.optout_checks:
			raise ValueError(f"{doctype} has no opt-out of its own: opt its Contact or address out")
		seq = next(self._seq)
		key = f"L-{seq:06d}" if doctype == LEAD else f"{CRM_KEY}CRM-LEAD-{seq:06d}"
		self.leads[key] = MemoryLead(
			key=key,
			email=email,
			fields=dict(fields),
			unsubscribed=unsubscribed,
			modified=self._now(),
			doctype=doctype,
			status=status,
		)
		address = normalise_email(email)
		if address:
			self._lead_keys.setdefault(address, []).append(key)
		if target.makes_contact and self.lead_makes_contact:
			# ERPNext's Lead.before_insert -> create_contact: whatever Contacts the address has already.
			names = {f: fields[f] for f in ("first_name", "last_name", "company_name") if fields.get(f)}
			made = SiteContact(
				key=f"C-{next(self._seq):06d}", email=address, fields=names, created=self._now()
			)
			self._put_contact(made)
			self.lead_contacts.add(made.key)
			self._refresh_groups(address or "")
		if address and (unsubscribed or self._do_not_contact_opts_out(self.leads[key])):
			self.unsubscribe_locally(email or "", channel="lead")
		return key

	def edit_lead(
		self, key: str, *, email: str | None = None, status: str | None = None, **fields: Any
	) -> None:
		"""A site user edits a lead; `email` gives it a new address, `status` a new status."""
		lead = self.leads[key]
		if email is not None:
			old = normalise_email(lead.email)
			if old and key in self._lead_keys.get(old, []):
				self._lead_keys[old].remove(key)
			lead.email = email
			self._lead_keys.setdefault(normalise_email(email) or "", []).append(key)
		lead.fields.update(fields)
		lead.modified = self._now()
		if status is not None and status != lead.status:
			lead.status = status
			if self._do_not_contact_opts_out(lead) and not lead.unsubscribed and lead.email:
				# cc_sync's lead_validate: set to Do Not Contact, the Lead is unsubscribed with the save.
				self.unsubscribe_locally(lead.email, channel="lead")

	def _do_not_contact_opts_out(self, lead: MemoryLead) -> bool:
		return (
			TARGETS[lead.doctype].do_not_contact
			and lead.status == DO_NOT_CONTACT
			and self.do_not_contact_is_optout
		)

	def unsubscribe_locally(
		self,
		email: str,
		*,
		by_person: bool = False,
		reason: str | None = None,
		channel: str = "contact",
	) -> None:
		"""A site user or an unsubscribe link opts this address out, as Frappe's doc_events record it.

		`channel` is where the opt-out is made: "contact" (Contact.unsubscribed), "lead"
		(Lead.unsubscribed), "global" (a global Email Unsubscribe) or "document" (an Email Unsubscribe for
		one document). Every record of the address then says opted out, and CC is to be told.
		"""
		address = normalise_email(email)
		if not address:
			return
		now = self._now()
		for key in self._by_email.get(address, ()):
			contact = self.contacts[key]
			contact.unsubscribed = True
			# The latest opt-out is the one a CC opt-in has to be newer than.
			if contact.opted_out_at is None or contact.opted_out_at < now:
				contact.opted_out_at = now
				contact.optout_cc_clock = False
		for group in self.members.groups_of(address):
			self._set_member(group, address, True, now)
		for lead in self._optout_records(address):
			lead.unsubscribed = True
			lead.unsubscribed_at = now
		if channel in ("global", "document"):
			self.suppressed[address] = max(self.suppressed.get(address, now), now)
		self._queue_optout(address, None, now, by_person=by_person, reason=reason)

	def leave_group(self, email: str, group: str, *, by_person: bool = False) -> None:
		"""The person leaves one Email Group on the site (its member row unsubscribed): that group only."""
		address = normalise_email(email)
		if not address:
			return
		now = self._now()
		self._set_member(group, address, True, now)
		self._refresh_groups(address)
		lists = tuple(sorted({m.cc_list_id for m in self.list_mappings if m.enabled and m.group == group}))
		self._queue_optout(
			address, group, now, by_person=by_person, reason=f"Left Email Group {group}", lists=lists
		)

	def join_group(self, email: str, group: str) -> None:
		"""A site user adds the address to an Email Group (a member row, when it has none): subscribed,
		unless the address is opted out, as the Frappe app's doc_event does."""
		address = normalise_email(email)
		if address and (group, address) not in self.members:
			state = self.consent_state([address])[address]
			self._set_member(group, address, consent.joins_unsubscribed(state), self._now())
			self._refresh_groups(address)

	def _queue_optout(
		self,
		address: str,
		group: str | None,
		now: datetime,
		*,
		by_person: bool,
		reason: str | None,
		lists: tuple[str, ...] = (),
	) -> None:
		cc_id = next(
			(
				self.contacts[k].cc_contact_id
				for k in self._by_email.get(address, ())
				if self.contacts[k].cc_contact_id
			),
			None,
		)
		pending = self.optouts.get((address, group))
		if group is not None:
			# One record per address and group, as the site's opt-out row: a new leave reopens it.
			self.leave_log.pop((address, group), None)
		if pending is None or pending.at < now:
			self.optouts[(address, group)] = LocalOptOut(
				email=address,
				at=now,
				cc_contact_id=cc_id or (pending.cc_contact_id if pending else None),
				reason=reason,
				by_person=by_person,
				group=group,
				# A leave still pending keeps the lists it named: both leaves reach CC.
				lists=tuple(sorted(set(lists) | set(pending.lists if pending else ()))),
			)

	def _refresh_groups(self, address: str) -> None:
		for key in self._by_email.get(address, ()):
			self.contacts[key].groups = frozenset(self.members.groups_of(address))

	def contact_by_email(self, email: str) -> SiteContact | None:
		"""The one Contact holding the address, by the site's rule (`matching.holder_order`)."""
		held = [self.contacts[k] for k in self._by_email.get(normalise_email(email) or "", ())]
		held.sort(key=lambda c: holder_order(bool(c.cc_contact_id), c.created, c.key))
		return self._view(held[0]) if held else None

	def _view(self, contact: SiteContact, state: AddressConsent | None = None) -> SiteContact:
		"""A copy as the engine sees it: the address's opt-out, from every channel, is the contact's."""
		view = replace(contact, fields=dict(contact.fields))
		if contact.email:
			state = state or self.consent_state([contact.email])[contact.email]
			view.unsubscribed = state.opted_out
			view.opted_out_at = state.opted_out_at if state.opted_out else None
			view.optout_cc_clock = state.cc_clock if state.opted_out else False
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
		return sum(1 for c in self.contacts.values() if c.cc_deleted)

	def find_contacts(self, cc_ids: Collection[str], emails: Collection[str]) -> list[SiteContact]:
		keys: set[str] = set()
		for cc_id in cc_ids:
			key = self._by_cc_id.get(cc_id)
			if key:
				keys.add(key)
		for email in emails:
			keys.update(self._by_email.get(email, ()))
		return [self._view(self.contacts[k]) for k in sorted(keys)]

	def read_page(
		self, cc_ids: Collection[str], emails: Collection[str]
	) -> tuple[list[SiteContact], dict[str, AddressConsent]]:
		found = self.find_contacts(cc_ids, emails)
		return found, self.consent_state({*emails, *(c.email for c in found if c.email)})

	def consent_state(self, emails: Collection[str]) -> dict[str, AddressConsent]:
		"""Every channel of each address together: the one answer to "is this address opted out"."""
		out: dict[str, AddressConsent] = {}
		for email in {e for e in (normalise_email(e) for e in emails) if e}:
			dates: list[tuple[datetime | None, bool]] = []
			channels: list[str] = []
			state = AddressConsent(email=email)
			for key in self._by_email.get(email, ()):
				contact = self.contacts[key]
				if contact.unsubscribed:
					channels.append("contact")
					dates.append((contact.opted_out_at, contact.optout_cc_clock))
				if contact.cc_deleted:
					state.cc_deleted = True
				if contact.cc_permission == Permission.UNSUBSCRIBED:
					channels.append("cc")
			lead_dates = [
				lead.unsubscribed_at if lead.unsubscribed else lead.modified
				for lead in self._optout_records(email)
				if lead.unsubscribed or self._do_not_contact_opts_out(lead)
			]
			if lead_dates:
				channels.append("lead")
			if email in self.suppressed:
				channels.append("unsubscribe")
				dates.append((self.suppressed[email], False))
			pending = self.optouts.get((email, None))
			if pending is not None:
				channels.append("pending")
				dates.append((pending.at, False))
			if email in self.optout_log:
				channels.append("optout")
				dates.append((self.optout_log[email], False))
			consent.settle_state(state, channels, dates, lead_dates)
			leaves = [o for (e, g), o in self.optouts.items() if e == email and g is not None]
			leaves += [o for (e, _g), o in self.leave_log.items() if e == email]
			for leave in leaves:
				for list_id in leave.lists:
					held = state.left_lists.get(list_id, leave.at)
					state.left_lists[list_id] = max(held, leave.at) if held else held
			state.rows = {
				g: MemberRow(self.members[(g, email)], self.members.at.get((g, email)))
				for g in self.members.groups_of(email)
			}
			out[email] = state
		return out

	def apply_contacts(
		self, writes: Sequence[ContactWrite], managed_groups: Collection[str] = ()
	) -> list[str | None]:
		self._before("apply_contacts")
		keys: list[str | None] = []
		for write in writes:
			if not self._premise_holds(write):
				keys.append(None)
				continue
			keys.append(self._apply_one(write))
		return keys

	def _premise_holds(self, write: ContactWrite) -> bool:
		return consent.premise_holds(write, self.consent_state([write.email])[write.email])

	def _apply_one(self, write: ContactWrite) -> str:
		self.writes += 1
		if write.key is not None and write.key.startswith("(new:"):
			# A repeat, within one page, of a contact this page creates.
			write.key = min(self._by_email.get(write.email, ()), default=None)
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
		for attr in ("cc_permission", "cc_updated_at", "cc_email_updated_at", "cc_deleted"):
			value = getattr(write, attr)
			if value is not None:
				setattr(contact, attr, value)
		email = contact.email or write.email
		if write.opted_out:
			self._opt_out_everywhere(email, write.opted_out_at or self._now(), write.cc_clock)
		elif write.lift_optout:
			self._lift(email)
		for group, row in write.rows.items():
			if row is None:
				self._drop_member(group, email)
				continue
			self._set_member(group, email, row.unsubscribed, row.at)
			if not row.unsubscribed and (email, group) in self.optouts:
				old = self.optouts.pop((email, group))
				self._undo.append(lambda o=old: self.optouts.__setitem__((o.email, o.group), o))
		for group, row in write.former_rows.items():
			if write.former_email and row is None:
				self._drop_member(group, write.former_email)
		if write.push_stop:
			for lead in self._pushed_records(email):
				old_lead = replace(lead, fields=dict(lead.fields))
				self._undo.append(lambda o=old_lead: self.leads.__setitem__(o.key, o))
				lead.push_status, lead.push_error, lead.pushed_at = PushStatus.SKIPPED, write.push_stop, None
		if write.push_again:
			for lead in self._pushed_records(email):
				if lead.push_status == PushStatus.SKIPPED:
					old_lead = replace(lead, fields=dict(lead.fields))
					self._undo.append(lambda o=old_lead: self.leads.__setitem__(o.key, o))
					lead.push_status, lead.push_error, lead.pushed_at = PushStatus.PENDING, AGAIN, None
		if write.request_cc_optout and (email, None) not in self.optouts:
			self.optouts[(email, None)] = LocalOptOut(
				email=email,
				at=write.opted_out_at or contact.opted_out_at or self._now(),
				cc_contact_id=contact.cc_contact_id,
			)
			self._undo.append(lambda e=email: self.optouts.pop((e, None), None))
		self._refresh_groups(email)
		return contact.key

	def _opt_out_everywhere(self, email: str, at: datetime, cc_clock: bool) -> None:
		"""Every record of the address says opted out (its Contacts and Leads); the latest date stands."""
		for key in self._by_email.get(email, ()):
			contact = self.contacts[key]
			snapshot = replace(contact, fields=dict(contact.fields))
			self._undo.append(lambda s=snapshot: self._restore_contact(s))
			if not contact.unsubscribed or contact.opted_out_at is None or contact.opted_out_at < at:
				if not (contact.unsubscribed and contact.opted_out_at is None):
					contact.opted_out_at = at
					contact.optout_cc_clock = cc_clock
			contact.unsubscribed = True
		for lead in self._optout_records(email):
			if not lead.unsubscribed:
				old = (lead.unsubscribed, lead.unsubscribed_at)
				lead.unsubscribed, lead.unsubscribed_at = True, at
				self._undo.append(lambda lead=lead, o=old: self._set_lead_optout(lead, *o))

	def _lift(self, email: str) -> None:
		"""CC reported the person's newer explicit opt-in: every address-level opt-out of theirs goes."""
		for key in self._by_email.get(email, ()):
			contact = self.contacts[key]
			snapshot = replace(contact, fields=dict(contact.fields))
			self._undo.append(lambda s=snapshot: self._restore_contact(s))
			contact.unsubscribed = False
			contact.opted_out_at = None
			contact.optout_cc_clock = False
		for lead in self._optout_records(email):
			if lead.unsubscribed:
				old = (lead.unsubscribed, lead.unsubscribed_at)
				lead.unsubscribed, lead.unsubscribed_at = False, None
				self._undo.append(lambda lead=lead, o=old: self._set_lead_optout(lead, *o))
		for table, key in ((self.optouts, (email, None)), (self.optout_log, email), (self.suppressed, email)):
			if key in table:
				old = table.pop(key)
				self._undo.append(lambda t=table, k=key, o=old: t.__setitem__(k, o))

	@staticmethod
	def _set_lead_optout(lead: MemoryLead, unsubscribed: bool, at: datetime | None) -> None:
		lead.unsubscribed, lead.unsubscribed_at = unsubscribed, at

	def _set_member(self, group: str, email: str, unsubscribed: bool, at: datetime | None = None) -> None:
		key = (group, email)
		old = self.members.get(key)
		if old == unsubscribed:
			return
		old_at = self.members.at.get(key)
		self.members[key] = unsubscribed
		self.members.at[key] = at
		if old is None:
			self._undo.append(lambda: (self.members.pop(key, None), self.members.at.pop(key, None)))
		else:
			self._undo.append(
				lambda: (self.members.__setitem__(key, old), self.members.at.__setitem__(key, old_at))
			)

	def _drop_member(self, group: str, email: str) -> None:
		key = (group, email)
		if key in self.members:
			old, old_at = self.members.pop(key), self.members.at.pop(key, None)
			self._undo.append(
				lambda: (self.members.__setitem__(key, old), self.members.at.__setitem__(key, old_at))
			)

	def _link_leads(self, contact: SiteContact) -> None:
		"""A lead with the contact's email learns its CC id, as the Frappe store links Lead and Contact (a
		CRM Lead learns it from its own push)."""
		for lead in self._leads_for(contact.email or "", LEAD):
			if not lead.cc_contact_id:
				lead.cc_contact_id = contact.cc_contact_id
				self._undo.append(lambda lead=lead: setattr(lead, "cc_contact_id", None))

	def drain_failures(self) -> dict[int, str]:
		return {}

	def fit_fields(self, values: Mapping[str, Any]) -> dict[str, Any]:
		"""Values of any length fit here: as given."""
		return dict(values)

	def drain_notes(self) -> list[tuple[str | None, str]]:
		# Memory holds any value as given: nothing is ever changed to fit.
		return []

	# -- consent ---------------------------------------------------------------------------------
	def pending_optouts(self) -> list[LocalOptOut]:
		return sorted(self.optouts.values(), key=lambda o: (o.at, o.email, o.group or ""))

	def resolve_optout(
		self, email: str, cc_contact_id: str | None, at: datetime, group: str | None = None
	) -> None:
		self._before("resolve_optout")
		old = self.optouts.pop((email, group), None)
		if old:
			self._undo.append(lambda: self.optouts.__setitem__((email, group), old))
		if group is not None:
			if old is not None:
				before_leave = self.leave_log.get((email, group))
				self.leave_log[(email, group)] = old
				self._undo.append(
					lambda: (
						self.leave_log.__setitem__((email, group), before_leave)
						if before_leave
						else self.leave_log.pop((email, group), None)
					)
				)
			return
		if old is not None:
			# The opt-out stays the address's, though CC holds it now.
			before = self.optout_log.get(email)
			self.optout_log[email] = max(before or old.at, old.at)
			self._undo.append(
				lambda: (
					self.optout_log.__setitem__(email, before) if before else self.optout_log.pop(email, None)
				)
			)
		held = sorted(
			(self.contacts[k] for k in self._by_email.get(email, ())),
			key=lambda c: holder_order(bool(c.cc_contact_id), c.created, c.key),
		)
		for n, contact in enumerate(held):
			snapshot = replace(contact, fields=dict(contact.fields))
			self._undo.append(lambda s=snapshot: self._restore_contact(s))
			contact.cc_permission = Permission.UNSUBSCRIBED.value if cc_contact_id else contact.cc_permission
			# CC's id goes to the one Contact holding the address, unless a Contact holds it already.
			if n == 0 and cc_contact_id and not contact.cc_contact_id and cc_contact_id not in self._by_cc_id:
				contact.cc_contact_id = cc_contact_id
				self._by_cc_id[cc_contact_id] = contact.key

	def defer_optout(
		self, email: str, attempts: int, retry_at: datetime, error: str, group: str | None = None
	) -> None:
		self._before("defer_optout")
		key = (email, group)
		old = self.optouts.get(key)
		if old is None:
			return
		self.optouts[key] = replace(old, attempts=attempts, retry_at=retry_at, last_error=error)
		self._undo.append(lambda: self.optouts.__setitem__(key, old))

	def opted_out_emails(self, emails: Collection[str]) -> set[str]:
		return {e for e, state in self.consent_state(emails).items() if state.never_push}

	# -- push ------------------------------------------------------------------------------------
	def push_candidates(self, since: datetime | None, email: str | None = None) -> Iterable[PushCandidate]:
		for lead in sorted(self.leads.values(), key=lambda x: (x.modified or datetime.min, x.key)):
			if email is not None and normalise_email(lead.email) != email:
				continue
			if lead.doctype not in self.push_doctypes:
				continue
			if TARGETS[lead.doctype].do_not_contact and lead.status == DO_NOT_CONTACT:
				continue  # never pushed, whether or not the settings make it an opt-out
			if since is None or (lead.modified and lead.modified > since):
				yield PushCandidate(
					key=lead.key,
					email=lead.email,
					fields=dict(lead.fields),
					modified=lead.modified,
					cc_contact_id=lead.cc_contact_id,
					pushed_at=lead.pushed_at,
				)
		if self.push_sign_ups:
			yield from self._sign_up_candidates(since, email)

	def _sign_up_candidates(self, since: datetime | None, email: str | None) -> Iterable[PushCandidate]:
		for (group, address), unsubscribed in sorted(self.members.items()):
			if unsubscribed or (email is not None and address != email):
				continue
			modified = self.members.at.get((group, address))
			if since is None or (modified and modified > since):
				pushed = self.sign_up_push.get((group, address))
				yield PushCandidate(
					key=f"{SIGN_UP}{group}|{address}",
					email=address,
					modified=modified,
					cc_contact_id=pushed.cc_contact_id if pushed else None,
					pushed_at=pushed.pushed_at if pushed else None,
					groups=(group,),
				)

	def record_push(self, outcomes: Sequence[PushOutcome]) -> None:
		self._before("record_push")
		for outcome in outcomes:
			if outcome.key.startswith(SIGN_UP):
				group, _, address = outcome.key[len(SIGN_UP) :].partition("|")
				row = self.sign_up_push.setdefault((group, address), MemoryLead(outcome.key, address))
			else:
				row = self.leads.get(outcome.key)
			if row is None:
				continue
			lead = row
			old = replace(lead, fields=dict(lead.fields))
			if outcome.key.startswith(SIGN_UP):
				self._undo.append(lambda o=old, k=(group, address): self.sign_up_push.__setitem__(k, o))
			else:
				self._undo.append(lambda o=old: self.leads.__setitem__(o.key, o))
			lead.push_status = outcome.status
			lead.push_error = outcome.reason
			lead.pushed_at = outcome.at if outcome.status in SENT_STATUSES else None
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
	# -- email engagement ------------------------------------------------------------------------
	def save_campaigns(self, campaigns: Sequence[CampaignRecord]) -> None:
		self._before("save_campaigns")
		for campaign in campaigns:
			old = self.campaigns.get(campaign.campaign_id)
			self.campaigns[campaign.campaign_id] = copy.deepcopy(campaign)
			self._undo.append(
				lambda c=campaign.campaign_id, o=old: (
					self.campaigns.__setitem__(c, o) if o else self.campaigns.pop(c, None)
				)
			)

	def add_engagement(self, events: Sequence[EngagementEvent]) -> int:
		self._before("add_engagement")
		new = [e for e in {e.key: e for e in events}.values() if e.key not in self.engagement]
		for event in new:
			self.engagement[event.key] = event
			self._undo.append(lambda k=event.key: self.engagement.pop(k, None))
		return len(new)

	def bounced_emails(self, emails: Collection[str]) -> dict[str, str]:
		wanted = set(emails)
		latest: dict[str, EngagementEvent] = {}
		for event in self.engagement.values():
			if event.hard_bounce and event.email in wanted:
				if event.email not in latest or event.at > latest[event.email].at:
					latest[event.email] = event
		return {email: event.bounce_code or "" for email, event in latest.items()}

	def engagement_of(self, email: str) -> list[EngagementEvent]:
		"""One address's events, newest first (what a record's timeline shows)."""
		return sorted(
			(e for e in self.engagement.values() if e.email == email), key=lambda e: e.at, reverse=True
		)

	def commit(self) -> None:
		self._undo.clear()
		self.commits += 1

	def rollback(self) -> None:
		while self._undo:
			self._undo.pop()()

	# -- internals -------------------------------------------------------------------------------
	def _leads_for(self, email: str, doctype: str | None = None) -> list[MemoryLead]:
		records = [self.leads[k] for k in self._lead_keys.get(email, ())]
		return [r for r in records if doctype is None or r.doctype == doctype]

	def _pushed_records(self, email: str) -> list[MemoryLead]:
		"""The address's Leads and CRM Leads the settings push: an address's consent takes them out of the
		push, or puts them back (a sign-up follows its member row)."""
		return [r for r in self._leads_for(email) if r.doctype in self.push_doctypes]

	def _optout_records(self, email: str) -> list[MemoryLead]:
		"""The address's records with an opt-out of their own (a Lead's Unsubscribed)."""
		return [r for r in self._leads_for(email) if TARGETS[r.doctype].optout_checks]

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
