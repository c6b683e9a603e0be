"""What users and web forms do on the site (contacts, leads, opt-outs, Email Groups), as the site's doc
events record it: the tests' way to set a scene."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cc_sync.sync import consent
from cc_sync.sync.matching import normalise_email
from cc_sync.sync.records import LocalOptOut, SiteContact
from cc_sync_testkit.memory.records import CRM_KEY, LEAD, TARGETS, MemoryLead
from cc_sync_testkit.memory.tables import MemoryTables


class MemorySiteEvents(MemoryTables):
	"""What users, web forms and the site's doc events do: the scenes the tests set."""

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
