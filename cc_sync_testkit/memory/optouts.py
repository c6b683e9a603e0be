"""The queue of site opt-outs and group leaves on their way to CC."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from cc_sync.constant_contact.models import Permission
from cc_sync.sync.matching import holder_order
from cc_sync.sync.records import LocalOptOut
from cc_sync_testkit.memory.tables import MemoryTables


class MemoryOptOuts(MemoryTables):
	"""Site opt-outs and group leaves waiting for CC, and what CC's answer leaves behind."""

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
