"""The emulated account: contacts, lists, custom fields, and the event API that changes them.

Records are plain dicts with timestamps kept as CC's own wire strings (`2026-09-29T14:33:39Z`): all of
them have whole seconds in one fixed format, so they sort and compare as strings, and a page of 500 is
serialized without a single datetime conversion. Contacts are never removed, only marked deleted, so the
insertion order doubles as the stable paging order.
"""

from __future__ import annotations

import copy
import random
import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from datetime import date, datetime, timezone
from typing import Any

from cc_sync.constant_contact.clock import Clock, SystemClock
from cc_sync.constant_contact.normalise import cc_address_part

TS_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

CORE_FIELDS = (
	"first_name",
	"last_name",
	"job_title",
	"company_name",
	"birthday_month",
	"birthday_day",
	"anniversary",
)
INCLUDES = ("custom_fields", "list_memberships", "phone_numbers", "street_addresses", "taggings", "notes")
PERMISSIONS = ("explicit", "implicit", "not_set", "pending_confirmation", "temp_hold", "unsubscribed")
STATUSES = ("all", "active", "deleted", "not_set", "pending_confirmation", "temp_hold", "unsubscribed")
MAX_LISTS_PER_CONTACT = 50

_NAME_JUNK = re.compile(r"[^a-z0-9]+")
_EMAIL_RE = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[A-Za-z0-9-]{2,}$")


def format_ts(when: datetime) -> str:
	"""The wire form CC uses in 2026 responses: UTC, whole seconds, `Z`."""
	if when.tzinfo is None:
		when = when.replace(tzinfo=timezone.utc)
	return when.astimezone(timezone.utc).strftime(TS_FORMAT)


def parse_ts(value: str | datetime | date) -> datetime:
	"""Accept the forms CC accepts on filters: full ISO-8601 (any offset, fractions) or a bare date."""
	if isinstance(value, datetime):
		return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
	if isinstance(value, date):
		return datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
	text = value.strip()
	if len(text) == 10:
		d = date.fromisoformat(text)
		return datetime(d.year, d.month, d.day, tzinfo=timezone.utc)
	if text.endswith(("Z", "z")):
		text = text[:-1] + "+00:00"
	parsed = datetime.fromisoformat(text)
	return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def to_wire(value: str | datetime | date) -> str:
	return format_ts(parse_ts(value))


def custom_field_name(label: str) -> str:
	"""CC's read-only `name` of a custom field: its label lower-cased, runs of other characters as `_`."""
	return _NAME_JUNK.sub("_", label.strip().lower()).strip("_")


def valid_email(address: Any) -> bool:
	return isinstance(address, str) and len(address) <= 80 and bool(_EMAIL_RE.match(address))


def contact_status(rec: Mapping[str, Any]) -> str:
	"""The single derived state the `status` filter matches on.

	CC quirk: a contact that is deleted reports as `deleted` even when it is also unsubscribed, so
	`status=unsubscribed` misses it; explicit and implicit permission both count as `active`.
	"""
	if rec["deleted_at"]:
		return "deleted"
	permission = rec["permission"]
	return "active" if permission in ("explicit", "implicit") else permission


class EmulatorError(ValueError):
	"""A misuse of the event API (unknown id, bad value): a bug in the test, not an API answer."""


def _uuid4(bits: int) -> str:
	"""A UUID4 string from 128 random bits, without the cost of a uuid.UUID object."""
	bits = (bits & ~(0xF000 << 64) | (0x4000 << 64)) & ~(0xC000 << 48) | (0x8000 << 48)
	h = f"{bits:032x}"
	return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class AccountState:
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

	# -- serialization --------------------------------------------------------------------------------

	def resource(self, rec: Mapping[str, Any], includes: frozenset[str]) -> dict[str, Any]:
		"""A ContactResource. Subresources appear only when included, as in CC; null core fields are left out."""
		email: dict[str, Any] = {
			"address": rec["address"],
			"permission_to_send": rec["permission"],
			"created_at": rec["email_created_at"],
			"updated_at": rec["email_updated_at"],
		}
		for key in ("opt_in_source", "opt_in_date", "opt_out_source", "opt_out_date", "opt_out_reason"):
			if rec[key] is not None:
				email[key] = rec[key]
		email["confirm_status"] = rec["confirm_status"]
		out: dict[str, Any] = {"contact_id": rec["contact_id"], "email_address": email}
		for key in CORE_FIELDS:
			if rec[key] is not None:
				out[key] = rec[key]
		out["create_source"] = rec["create_source"]
		if rec["update_source"] is not None:
			out["update_source"] = rec["update_source"]
		out["created_at"] = rec["created_at"]
		out["updated_at"] = rec["updated_at"]
		if rec["deleted_at"]:
			out["deleted_at"] = rec["deleted_at"]
		if includes:
			if "custom_fields" in includes:
				out["custom_fields"] = [
					{"custom_field_id": fid, "value": value} for fid, value in rec["custom_fields"].items()
				]
			if "list_memberships" in includes:
				out["list_memberships"] = list(rec["lists"])
			if "phone_numbers" in includes:
				out["phone_numbers"] = [dict(p) for p in rec["phone_numbers"]]
			if "street_addresses" in includes:
				out["street_addresses"] = [dict(a) for a in rec["street_addresses"]]
			if "taggings" in includes:
				out["taggings"] = list(rec["taggings"])
			if "notes" in includes:
				out["notes"] = [dict(n) for n in rec["notes"]]
		out.update(copy.deepcopy(rec.get("malformed") or {}))
		return out

	def list_resource(self, lst: Mapping[str, Any], membership: str | None) -> dict[str, Any]:
		out = {k: lst[k] for k in ("list_id", "name", "favorite", "created_at", "updated_at")}
		if lst["description"] is not None:
			out["description"] = lst["description"]
		if membership == "all":
			out["membership_count"] = len(lst["members"])
		elif membership == "active":
			out["membership_count"] = sum(
				1 for cid in lst["members"] if contact_status(self._by_id[cid]) == "active"
			)
		return out

	# -- internals shared with the API handlers and the generator --------------------------------------

	def _insert(
		self,
		address: str,
		*,
		permission: str,
		created_at: str,
		updated_at: str,
		create_source: str,
		opt_in_source: str | None,
		contact_id: str | None = None,
	) -> dict[str, Any]:
		contact_id = contact_id or self.new_id()
		rec: dict[str, Any] = {
			"seq": len(self._order),
			"contact_id": contact_id,
			"address": address,
			"permission": permission,
			"email_created_at": created_at,
			"email_updated_at": created_at if updated_at < created_at else updated_at,
			"opt_in_source": opt_in_source if permission in ("explicit", "implicit") else None,
			"opt_in_date": created_at if permission in ("explicit", "implicit") else None,
			"opt_out_source": None,
			"opt_out_date": None,
			"opt_out_reason": None,
			"confirm_status": "off",
			"first_name": None,
			"last_name": None,
			"job_title": None,
			"company_name": None,
			"birthday_month": None,
			"birthday_day": None,
			"anniversary": None,
			"create_source": create_source,
			# Recorded CC: a contact never edited since creation has no update_source key at all.
			"update_source": None,
			"created_at": created_at,
			"updated_at": updated_at,
			"deleted_at": None,
			"custom_fields": {},
			"lists": {},
			"phone_numbers": [],
			"street_addresses": [],
			"taggings": [],
			"notes": [],
		}
		self._order.append(rec)
		self._by_id[contact_id] = rec
		self._by_email[address.lower()] = rec
		return rec

	def _need(self, contact_id: str) -> dict[str, Any]:
		rec = self._by_id.get(contact_id)
		if rec is None:
			raise EmulatorError(f"unknown contact: {contact_id}")
		return rec

	def _need_list(self, list_id: str) -> dict[str, Any]:
		lst = self._lists.get(list_id)
		if lst is None:
			raise EmulatorError(f"unknown list: {list_id}")
		return lst

	def _need_field(self, name_or_id: str) -> dict[str, Any]:
		field = self._fields_by_name.get(name_or_id) or self._fields.get(name_or_id)
		if field is None:
			raise EmulatorError(f"unknown custom field: {name_or_id}")
		return field

	def _link(self, rec: dict[str, Any], lst: dict[str, Any]) -> bool:
		if lst["list_id"] in rec["lists"]:
			return True
		if len(rec["lists"]) >= MAX_LISTS_PER_CONTACT:
			# CC quirk: a contact belongs to at most 50 lists.
			return False
		rec["lists"][lst["list_id"]] = None
		lst["members"].add(rec["contact_id"])
		return True

	def _unlink(self, rec: dict[str, Any], lst: dict[str, Any]) -> None:
		rec["lists"].pop(lst["list_id"], None)
		lst["members"].discard(rec["contact_id"])

	def _delete(self, rec: dict[str, Any]) -> None:
		for list_id in list(rec["lists"]):
			self._unlink(rec, self._lists[list_id])
		rec["deleted_at"] = self.today()

	def _change_address(self, rec: dict[str, Any], address: str, now: str) -> None:
		if address.lower() != rec["address"].lower():
			other = self._by_email.get(address.lower())
			if other is not None:
				raise EmulatorError(f"email already exists for contact {other['contact_id']}")
			del self._by_email[rec["address"].lower()]
			self._by_email[address.lower()] = rec
		if address != rec["address"]:
			rec["address"] = address
			rec["email_updated_at"] = now

	def _set_phone(self, rec: dict[str, Any], phone: Any, now: str) -> bool:
		"""Set the number of one kind (replacing the same kind); True when something changed."""
		if isinstance(phone, str):
			phone = {"phone_number": phone, "kind": "other"}
		kind = phone.get("kind") or "other"
		number = phone["phone_number"]
		for existing in rec["phone_numbers"]:
			if existing["kind"] == kind:
				if existing["phone_number"] == number:
					return False
				existing.update(phone_number=number, updated_at=now, update_source="Account")
				return True
		if len(rec["phone_numbers"]) >= 3:
			# CC quirk: at most 3 phone numbers per contact.
			return False
		rec["phone_numbers"].append(
			{
				"phone_number_id": self.new_id(),
				"phone_number": number,
				"kind": kind,
				"created_at": now,
				"updated_at": now,
				"update_source": "Account",
				"create_source": "Account",
			}
		)
		return True

	def _set_address(self, rec: dict[str, Any], address: Mapping[str, Any], now: str) -> bool:
		"""Merge the given parts into the address of that kind; True when something changed."""
		kind = address.get("kind") or "home"
		parts = {k: address[k] for k in ("street", "city", "state", "postal_code", "country") if k in address}
		if self.normalise_addresses:
			parts = {k: cc_address_part(k, v) for k, v in parts.items()}
		for existing in rec["street_addresses"]:
			if existing["kind"] == kind:
				if all(existing.get(k) == v for k, v in parts.items()):
					return False
				existing.update(parts, updated_at=now)
				return True
		if len(rec["street_addresses"]) >= 3:
			# CC quirk: at most 3 street addresses per contact.
			return False
		new = {"street_address_id": self.new_id(), "kind": kind}
		new.update(parts)
		new.update(created_at=now, updated_at=now)
		rec["street_addresses"].append(new)
		return True
