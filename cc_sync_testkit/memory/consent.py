"""Consent: every channel of an address read as one answer, and the writes that opt an address out
everywhere or lift its opt-outs."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from datetime import datetime

from cc_sync.constant_contact.models import Permission
from cc_sync.sync import consent
from cc_sync.sync.consent import AddressConsent, MemberRow
from cc_sync.sync.matching import normalise_email
from cc_sync_testkit.memory.tables import MemoryTables


class MemoryConsent(MemoryTables):
	"""An address's consent from every channel, and the writes that opt it out or lift it."""

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

	def opted_out_emails(self, emails: Collection[str]) -> set[str]:
		return {e for e, state in self.consent_state(emails).items() if state.never_push}

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
