"""How a contact record is kept and answered: the ContactResource and list resource built from the
account's plain dicts, and the record-level steps (insert, look-ups, list links, delete, address, phone and
street-address changes) that the event API, the API handlers and the generator share."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from cc_sync.constant_contact.normalise import cc_address_part

from .values import CORE_FIELDS, MAX_LISTS_PER_CONTACT, EmulatorError, contact_status


class ContactRecords:
	"""The record keeping of `AccountState` (which supplies the account's dicts, clock and ids)."""

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
