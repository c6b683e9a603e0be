"""Site contacts: the engine's reads of them and its writes of a page of CC contacts."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from typing import Any

from cc_sync.sync import consent
from cc_sync.sync.consent import AddressConsent
from cc_sync.sync.matching import holder_order, normalise_email
from cc_sync.sync.records import ContactWrite, LocalOptOut, PushStatus, SiteContact
from cc_sync.sync.store import PageKeys
from cc_sync_testkit.memory.records import AGAIN, LEAD
from cc_sync_testkit.memory.tables import MemoryTables


class MemoryContacts(MemoryTables):
	"""The engine's reads of site contacts and its writes of a page of CC contacts."""

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
		self,
		cc_ids: Collection[str],
		emails: Collection[str],
		upcoming: PageKeys | None = None,
	) -> tuple[list[SiteContact], dict[str, AddressConsent]]:
		found = self.find_contacts(cc_ids, emails)
		return found, self.consent_state({*emails, *(c.email for c in found if c.email)})

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
		for attr in ("cc_permission", "cc_deleted"):
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
