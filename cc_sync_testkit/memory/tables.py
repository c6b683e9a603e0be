"""The in-memory store's tables, their indexes, the undo log that makes a rollback, and the lookups
every part shares."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from cc_sync.sync.config import ListMapping
from cc_sync.sync.records import ActivityRecord, CampaignRecord, EngagementEvent, LocalOptOut, SiteContact
from cc_sync_testkit.memory.records import DO_NOT_CONTACT, LEAD, TARGETS, MemberRows, MemoryLead


class MemoryTables:
	"""The site's tables in dictionaries; every part of the store reads and writes these."""

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

	def _do_not_contact_opts_out(self, lead: MemoryLead) -> bool:
		return (
			TARGETS[lead.doctype].do_not_contact
			and lead.status == DO_NOT_CONTACT
			and self.do_not_contact_is_optout
		)

	def _refresh_groups(self, address: str) -> None:
		for key in self._by_email.get(address, ()):
			self.contacts[key].groups = frozenset(self.members.groups_of(address))

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

	# -- transactions ----------------------------------------------------------------------------
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
