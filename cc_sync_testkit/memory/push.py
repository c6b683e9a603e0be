"""The push: the targets' records (and subscribed member rows) the settings push, and their outcomes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime

from cc_sync.sync.matching import normalise_email
from cc_sync.sync.records import SENT_STATUSES, PushCandidate, PushOutcome
from cc_sync_testkit.memory.records import DO_NOT_CONTACT, EMAIL_GROUP_MEMBER, SIGN_UP, TARGETS, MemoryLead
from cc_sync_testkit.memory.tables import MemoryTables


class MemoryPush(MemoryTables):
	"""The records the settings push, and each push's outcome on them."""

	@property
	def push_sign_ups(self) -> bool:
		return EMAIL_GROUP_MEMBER in self.push_doctypes

	@push_sign_ups.setter
	def push_sign_ups(self, on: bool) -> None:
		(self.push_doctypes.add if on else self.push_doctypes.discard)(EMAIL_GROUP_MEMBER)

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
