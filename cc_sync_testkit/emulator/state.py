"""The emulated account: contacts, lists, custom fields, and the event API that changes them.

Records are plain dicts with timestamps kept as CC's own wire strings (`2026-09-29T14:33:39Z`): all of
them have whole seconds in one fixed format, so they sort and compare as strings, and a page of 500 is
serialized without a single datetime conversion. Contacts are never removed, only marked deleted, so the
insertion order doubles as the stable paging order.
"""

from __future__ import annotations

import copy
import random
import threading
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timezone
from typing import Any

from cc_sync.constant_contact.clock import Clock, SystemClock

from .records import ContactRecords
from .values import (
	CORE_FIELDS,
	INCLUDES,
	PERMISSIONS,
	TS_FORMAT,
	EmulatorError,
	_uuid4,
	custom_field_name,
	to_wire,
)


class AccountState(ContactRecords):
	"""One CC account's data, plus the events a person or the account owner causes in CC's own screens.

	The event methods are what tests use to play the other side of the sync; none of them goes through
	the HTTP surface or counts as an API call.
	"""

	def __init__(self, clock: Clock | None = None, *, seed: int = 0) -> None:
		self.clock: Clock = clock or SystemClock()
		self.rng = random.Random(seed)
		self._lock = threading.RLock()
		self._order: list[dict[str, Any]] = []
		self._by_id: dict[str, dict[str, Any]] = {}
		self._by_email: dict[str, dict[str, Any]] = {}
		self._lists: dict[str, dict[str, Any]] = {}
		self._fields: dict[str, dict[str, Any]] = {}
		self._fields_by_name: dict[str, dict[str, Any]] = {}
		self.version = 0
		# While work CC does on its own time is applied (a bulk activity finishing), the time it finished.
		self._work_time: datetime | None = None
		# Recorded CC: addresses are rewritten on write (`CA` → `California`, `US` → `United States`).
		self.normalise_addresses = True

	# -- time and ids -------------------------------------------------------------------------------

	def now(self) -> str:
		"""The emulator clock as a wire timestamp (whole seconds, like CC)."""
		when = self._work_time or self.clock.now()
		return when.astimezone(timezone.utc).strftime(TS_FORMAT)

	def _tick(self) -> None:
		"""Catch up on work CC does on its own time (the API finishes bulk activities by the clock).

		Every event and every read calls it first, as every request does: whoever looks at the account,
		or changes it, finds what CC had finished by then.
		"""

	def today(self) -> str:
		return self.clock.now().astimezone(timezone.utc).date().isoformat()

	def new_id(self) -> str:
		"""Seeded UUID4s, so a seeded account is the same account on every run; every id the account
		hands out (contacts, lists, fields, activities, the generated account's too) comes from this one
		sequence and is never one it holds already."""
		while True:
			new = _uuid4(self.rng.getrandbits(128))
			if new not in self._by_id and new not in self._lists and new not in self._fields:
				return new

	# -- lists and custom fields ----------------------------------------------------------------------

	def create_list(self, name: str, *, description: str | None = None, favorite: bool = False) -> str:
		"""Make a contact list as the account owner would; returns its list_id."""
		with self._lock:
			if any(lst["name"] == name for lst in self._lists.values()):
				raise EmulatorError(f"list name already exists: {name}")
			list_id = self.new_id()
			now = self.now()
			self._lists[list_id] = {
				"list_id": list_id,
				"name": name,
				"description": description,
				"favorite": favorite,
				"created_at": now,
				"updated_at": now,
				"members": set(),
			}
			self.version += 1
			return list_id

	def create_custom_field(self, label: str, name: str | None = None, type: str = "string") -> str:
		"""Make a custom field; its `name` (the cf: import key) is built from the label as CC builds it.

		Recorded CC: the label lower-cased with underscores (`"Nango Dryrun CF"` → `nango_dryrun_cf`).
		"""
		with self._lock:
			name = name or custom_field_name(label)
			if name in self._fields_by_name:
				raise EmulatorError(f"custom field already exists: {name}")
			field_id = self.new_id()
			now = self.now()
			field = {
				"custom_field_id": field_id,
				"label": label,
				"name": name,
				"type": type,
				"created_at": now,
				"updated_at": now,
			}
			self._fields[field_id] = field
			self._fields_by_name[name] = field
			self.version += 1
			return field_id

	def list_ids(self) -> list[str]:
		return list(self._lists)

	def custom_field_id(self, name: str) -> str:
		return self._fields_by_name[name]["custom_field_id"]

	# -- contacts: the event API ---------------------------------------------------------------------

	def add_contact(
		self,
		email: str,
		*,
		first_name: str | None = None,
		last_name: str | None = None,
		job_title: str | None = None,
		company_name: str | None = None,
		permission: str = "implicit",
		list_ids: Iterable[str] = (),
		custom_fields: Mapping[str, str] | None = None,
		phone_numbers: Iterable[Any] | None = None,
		street_addresses: Iterable[Mapping[str, Any]] | None = None,
		created_at: str | datetime | None = None,
		updated_at: str | datetime | None = None,
		create_source: str = "Account",
	) -> str:
		"""Add a contact as if entered in CC's screens; returns its contact_id."""
		with self._lock:
			self._tick()
			if email.lower() in self._by_email:
				raise EmulatorError(f"email already exists: {email}")
			if permission not in PERMISSIONS:
				raise EmulatorError(f"unknown permission: {permission}")
			created = to_wire(created_at) if created_at is not None else self.now()
			updated = to_wire(updated_at) if updated_at is not None else created
			rec = self._insert(
				email,
				permission=permission,
				created_at=created,
				updated_at=updated,
				create_source=create_source,
				opt_in_source=create_source,
			)
			rec.update(
				first_name=first_name, last_name=last_name, job_title=job_title, company_name=company_name
			)
			if permission == "unsubscribed":
				rec.update(opt_out_source="Contact", opt_out_date=updated)
			for list_id in list_ids:
				self._link(rec, self._need_list(list_id))
			for name, value in (custom_fields or {}).items():
				rec["custom_fields"][self._need_field(name)["custom_field_id"]] = str(value)
			for phone in phone_numbers or ():
				self._set_phone(rec, phone, created)
			for address in street_addresses or ():
				self._set_address(rec, address, created)
			self.version += 1
			return rec["contact_id"]

	def edit_contact(self, contact_id: str, **fields: Any) -> None:
		"""A contact-details edit in CC: moves the top-level `updated_at` (the one `updated_after` sees).

		Accepts the core fields, `email` (a new address) and `custom_fields` ({name: value}).
		"""
		with self._lock:
			self._tick()
			rec = self._need(contact_id)
			now = self.now()
			for key, value in fields.items():
				if key in CORE_FIELDS:
					rec[key] = value
				elif key == "email":
					self._change_address(rec, value, now)
				elif key == "custom_fields":
					for name, cf_value in value.items():
						rec["custom_fields"][self._need_field(name)["custom_field_id"]] = str(cf_value)
				else:
					raise EmulatorError(f"not an editable field: {key}")
			rec["updated_at"] = now
			rec["update_source"] = "Account"
			self.version += 1

	def unsubscribe(self, contact_id: str, *, source: str = "Contact", reason: str | None = None) -> None:
		"""The person (or the account) opts out.

		CC quirk (the central trap): only `email_address.updated_at` and the opt-out fields move; the
		top-level `updated_at` stays put, so `updated_after` never reports an unsubscribe.
		"""
		with self._lock:
			self._tick()
			rec = self._need(contact_id)
			now = self.now()
			rec.update(
				permission="unsubscribed",
				opt_out_date=now,
				opt_out_source=source,
				opt_out_reason=reason,
				email_updated_at=now,
			)
			self.version += 1

	def opt_in(self, contact_id: str) -> None:
		"""The person re-subscribes themselves: explicit permission, opt-out cleared, top level untouched."""
		with self._lock:
			self._tick()
			rec = self._need(contact_id)
			self._opt_in(rec, self.now())
			self.version += 1

	@staticmethod
	def _opt_in(rec: dict[str, Any], now: Any) -> None:
		rec.update(
			permission="explicit",
			opt_in_date=now,
			opt_in_source="Contact",
			opt_out_date=None,
			opt_out_source=None,
			opt_out_reason=None,
			email_updated_at=now,
		)

	def revive(self, contact_id: str) -> None:
		"""A deleted person signs up again on a CC form: the contact is back, with their own opt-in.

		CC keeps the deleted contact's id and brings it back (its `updated_at` moves, its lists do not
		come back), which is the only revival the sync may see: the app itself never revives anyone.
		"""
		with self._lock:
			self._tick()
			rec = self._need(contact_id)
			now = self.now()
			rec.update(deleted_at=None, updated_at=now, update_source="Contact")
			self._opt_in(rec, now)
			self.version += 1

	def delete_contact(self, contact_id: str) -> None:
		"""Delete in CC: `deleted_at` becomes today's date and list memberships go.

		CC quirk: the deleted contact keeps its permission (a deleted contact is not unsubscribed) and
		its top-level `updated_at` does not move, so no `updated_after` query ever sees the delete.
		"""
		with self._lock:
			self._tick()
			rec = self._need(contact_id)
			self._delete(rec)
			self.version += 1

	def add_to_list(self, contact_id: str, list_id: str) -> None:
		"""A list-tool edit in CC's screens; deliberately does not move `updated_at` (the worst case)."""
		with self._lock:
			self._tick()
			self._link(self._need(contact_id), self._need_list(list_id))
			self.version += 1

	def remove_from_list(self, contact_id: str, list_id: str) -> None:
		"""A list-tool removal; does not move `updated_at` and does not unsubscribe."""
		with self._lock:
			self._tick()
			self._unlink(self._need(contact_id), self._need_list(list_id))
			self.version += 1

	def malform(self, contact_id: str, **fields: Any) -> None:
		"""Make CC send this contact with odd values from now on (a boolean custom-field value,
		`street_addresses: [None]`, `email_address` as a string, ...): each named top-level field of the
		resource is replaced as given, in every answer. Passing nothing puts the contact back to normal.
		"""
		with self._lock:
			self._tick()
			self._need(contact_id)["malformed"] = dict(fields)
			self.version += 1

	def get(self, contact_id: str) -> dict[str, Any]:
		"""The contact exactly as `GET /contacts/{id}` with every include would answer."""
		with self._lock:
			self._tick()
			return self.resource(self._need(contact_id), frozenset(INCLUDES))

	def find_by_email(self, email: str) -> dict[str, Any] | None:
		with self._lock:
			self._tick()
			rec = self._by_email.get(email.lower())
			return None if rec is None else self.resource(rec, frozenset(INCLUDES))

	@property
	def contacts(self) -> Iterator[dict[str, Any]]:
		"""Every contact, deleted ones too, in the stable paging order, with every include."""
		includes = frozenset(INCLUDES)
		with self._lock:
			self._tick()
			order = list(self._order)
		return (self.resource(rec, includes) for rec in order)

	def __len__(self) -> int:
		with self._lock:
			self._tick()
			return len(self._order)

	def snapshot(self) -> dict[str, Any]:
		"""A JSON-serializable deep copy of the whole account, for before/after comparisons."""
		with self._lock:
			self._tick()
			return {
				"contacts": {
					rec["contact_id"]: self.resource(rec, frozenset(INCLUDES)) for rec in self._order
				},
				"lists": {lid: self.list_resource(lst, "all") for lid, lst in self._lists.items()},
				"custom_fields": copy.deepcopy(list(self._fields.values())),
			}
