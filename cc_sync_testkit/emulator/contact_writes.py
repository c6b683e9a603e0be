"""Contact writes as CC's V3 reference groups them: `POST /contacts`, `PUT/DELETE /contacts/{id}` and
`POST /contacts/sign_up_form`, with CC's recorded quirks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cc_sync.constant_contact.normalise import cc_address_part

from .values import CORE_FIELDS, INCLUDES, MAX_LISTS_PER_CONTACT, PERMISSIONS, valid_email
from .wire import ApiError, _invalid


class ContactWritesMixin:
	"""The contact write endpoints of `ConstantContactEmulator` (which supplies the account state and
	`_find` from `ContactsMixin`)."""

	# -- contacts: writes -----------------------------------------------------------------------------

	def _core_from(self, body: Mapping[str, Any]) -> dict[str, Any]:
		core = {key: body.get(key) for key in CORE_FIELDS}
		for key in ("first_name", "last_name", "job_title", "company_name"):
			value = core[key]
			if value is not None and (not isinstance(value, str) or len(value) > 50):
				raise _invalid(f"{key} must be a string of at most 50 characters")
			if value == "":
				core[key] = None
		month, day = core["birthday_month"], core["birthday_day"]
		if (month is None) != (day is None):
			raise _invalid("birthday_month and birthday_day must be sent together")
		if month is not None and (
			not isinstance(month, int)
			or not isinstance(day, int)
			or not 1 <= month <= 12
			or not 1 <= day <= 31
		):
			raise _invalid("birthday_month or birthday_day is not valid")
		if core["anniversary"] is not None and (
			not isinstance(core["anniversary"], str) or len(core["anniversary"]) > 10
		):
			raise _invalid("anniversary is not valid")
		return core

	def _subresources(self, body: Mapping[str, Any]) -> dict[str, Any]:
		"""Validate the subresources present in a POST/PUT body; absent ones are left out."""
		out: dict[str, Any] = {}
		if body.get("custom_fields") is not None:
			fields = body["custom_fields"]
			if not isinstance(fields, list) or len(fields) > 25:
				raise _invalid("custom_fields accepts at most 25 values")
			values = {}
			for item in fields:
				fid = item.get("custom_field_id") if isinstance(item, dict) else None
				if fid not in self._fields:
					raise _invalid(f"custom_field_id {fid} does not exist")
				values[fid] = str(item.get("value", ""))
			out["custom_fields"] = values
		if body.get("list_memberships") is not None:
			lists = body["list_memberships"]
			if not isinstance(lists, list) or len(lists) > MAX_LISTS_PER_CONTACT:
				raise _invalid("list_memberships accepts at most 50 list ids")
			for lid in lists:
				if lid not in self._lists:
					raise _invalid(f"list_id {lid} does not exist")
			out["list_memberships"] = list(dict.fromkeys(lists))
		for key, limit in (("phone_numbers", 3), ("street_addresses", 3)):
			if body.get(key) is not None:
				items = body[key]
				if (
					not isinstance(items, list)
					or len(items) > limit
					or not all(isinstance(i, dict) for i in items)
				):
					raise _invalid(f"{key} accepts at most {limit} objects")
				out[key] = items
		if body.get("taggings") is not None:
			out["taggings"] = list(body["taggings"])
		if body.get("notes") is not None:
			out["notes"] = list(body["notes"])
		return out

	def _apply_subresources(self, rec: dict[str, Any], subs: Mapping[str, Any], now: str) -> bool:
		"""Replace the given subresources; True when contact details (not lists or tags) changed."""
		changed = False
		if "custom_fields" in subs and subs["custom_fields"] != rec["custom_fields"]:
			rec["custom_fields"] = dict(subs["custom_fields"])
			changed = True
		if "list_memberships" in subs:
			wanted = subs["list_memberships"]
			for lid in list(rec["lists"]):
				if lid not in wanted:
					self._unlink(rec, self._lists[lid])
			for lid in wanted:
				self._link(rec, self._lists[lid])
		if "phone_numbers" in subs:
			old = [(p["kind"], p["phone_number"]) for p in rec["phone_numbers"]]
			new = [(p.get("kind") or "other", p.get("phone_number")) for p in subs["phone_numbers"]]
			if old != new:
				rec["phone_numbers"] = []
				for phone in subs["phone_numbers"]:
					self._set_phone(
						rec, {"kind": phone.get("kind"), "phone_number": phone.get("phone_number")}, now
					)
				changed = True
		if "street_addresses" in subs:
			keys = ("kind", "street", "city", "state", "postal_code", "country")
			old = [tuple(a.get(k) for k in keys) for a in rec["street_addresses"]]
			norm = cc_address_part if self.normalise_addresses else (lambda _k, v: v)
			new = [tuple(norm(k, a.get(k)) for k in keys) for a in subs["street_addresses"]]
			if old != new:
				rec["street_addresses"] = []
				for address in subs["street_addresses"]:
					self._set_address(rec, address, now)
				changed = True
		if "taggings" in subs:
			rec["taggings"] = subs["taggings"]
		if "notes" in subs:
			rec["notes"] = [
				{
					"note_id": n.get("note_id") or self.new_id(),
					"created_at": n.get("created_at") or now,
					"content": n.get("content"),
				}
				for n in subs["notes"]
				if isinstance(n, dict)
			]
		return changed

	def _post_contact(self, _params: dict[str, str], body: Any) -> tuple[int, Any]:
		if not isinstance(body, dict):
			raise _invalid("The request body must be a JSON object.")
		source = body.get("create_source")
		if source not in ("Account", "Contact"):
			raise _invalid("create_source is required and must be Account or Contact")
		email = body.get("email_address")
		# SMS-only contacts are outside what this emulator models, so an email address is required.
		if not isinstance(email, dict) or not valid_email(email.get("address")):
			raise _invalid("email_address.address is missing or not a valid email address")
		address = email["address"]
		existing = self._by_email.get(address.lower())
		if existing is not None:
			# CC quirk: the address is taken in ANY state, deleted and unsubscribed included.
			raise ApiError(
				409,
				"contacts.api.conflict",
				f"Validation failed: Email already exists for contact {existing['contact_id']}",
			)
		# Recorded CC: a contact the person created (create_source Contact) is explicit; one the account
		# added is implicit.
		permission = email.get("permission_to_send") or ("explicit" if source == "Contact" else "implicit")
		if permission not in PERMISSIONS:
			raise _invalid("email_address.permission_to_send is not valid")
		core = self._core_from(body)
		subs = self._subresources(body)
		now = self.now()
		rec = self._insert(
			address,
			permission=permission,
			created_at=now,
			updated_at=now,
			create_source=source,
			opt_in_source=source,
		)
		rec.update(core)
		if permission == "unsubscribed":
			rec.update(opt_out_date=now, opt_out_source=source, opt_out_reason=email.get("opt_out_reason"))
		self._apply_subresources(rec, subs, now)
		self.version += 1
		return 201, self.resource(rec, frozenset(INCLUDES))

	def _put_contact(self, _params: dict[str, str], body: Any, contact_id: str) -> tuple[int, Any]:
		rec = self._find(contact_id)
		if not isinstance(body, dict):
			raise _invalid("The request body must be a JSON object.")
		source = body.get("update_source")
		if source not in ("Account", "Contact"):
			raise _invalid("update_source is required and must be Account or Contact")
		email = body.get("email_address")
		if not isinstance(email, dict) or not email.get("address"):
			raise _invalid("email_address.address is required")
		address = email["address"]
		if not valid_email(address):
			raise _invalid("email_address.address is not a valid email address")
		other = self._by_email.get(address.lower())
		if other is not None and other is not rec:
			raise ApiError(
				409,
				"contacts.api.conflict",
				f"Validation failed: Email already exists for contact {other['contact_id']}",
			)
		if rec["deleted_at"] and source != "Account":
			# SPEC: restoring a deleted contact through PUT needs update_source Account.
			raise _invalid("update_source must be Account to restore a deleted contact")
		permission = email.get("permission_to_send")
		if permission is not None and permission not in PERMISSIONS:
			raise _invalid("email_address.permission_to_send is not valid")
		core = self._core_from(body)
		subs = self._subresources(body)
		now = self.now()
		# CC quirk: PUT is a full replace of the core fields; anything left out becomes null.
		changed = any(rec[key] != value for key, value in core.items())
		rec.update(core)
		if address != rec["address"]:
			self._change_address(rec, address, now)
			changed = True
		if permission is not None and permission != rec["permission"]:
			# CC quirk: a permission change moves email_address.updated_at, never the top-level one.
			if permission == "unsubscribed":
				rec.update(
					opt_out_date=now, opt_out_source=source, opt_out_reason=email.get("opt_out_reason")
				)
			else:
				if rec["permission"] == "unsubscribed":
					# Allowed by the API but against CC policy unless the person asked; counted so tests can
					# prove the sync never does it.
					self.put_resubscribes += 1
				rec.update(opt_out_date=None, opt_out_source=None, opt_out_reason=None, opt_in_date=now)
			rec["permission"] = permission
			rec["email_updated_at"] = now
		if self._apply_subresources(rec, subs, now):
			changed = True
		if rec["deleted_at"]:
			# A PUT revives a deleted contact.
			rec["deleted_at"] = None
			changed = True
		if changed:
			rec["updated_at"] = now
			rec["update_source"] = source
		self.version += 1
		return 200, self.resource(rec, frozenset(INCLUDES))

	def _delete_contact(self, _params: dict[str, str], _body: Any, contact_id: str) -> tuple[int, Any]:
		rec = self._find(contact_id)
		if not rec["deleted_at"]:
			self._delete(rec)
			self.version += 1
		return 204, None

	def _sign_up_form(self, _params: dict[str, str], body: Any) -> tuple[int, Any]:
		"""Create-or-update as CC's sign-up forms do; the sync must never call it (see the counter)."""
		self.sign_up_form_calls += 1
		if not isinstance(body, dict):
			raise _invalid("The request body must be a JSON object.")
		lists = body.get("list_memberships")
		if not isinstance(lists, list) or not 1 <= len(lists) <= 50:
			raise _invalid("list_memberships is required (1 to 50 list ids)")
		for lid in lists:
			if lid not in self._lists:
				raise _invalid(f"list_id {lid} does not exist")
		address = body.get("email_address")  # a plain string here, not an object
		if not isinstance(address, str) or len(address) > 50 or not valid_email(address):
			raise _invalid("email_address is missing or not a valid email address")
		given = {k: body[k] for k in CORE_FIELDS if body.get(k) is not None}
		now = self.now()
		rec = self._by_email.get(address.lower())
		if rec is None:
			rec = self._insert(
				address,
				permission="explicit",
				created_at=now,
				updated_at=now,
				create_source="Contact",
				opt_in_source="Contact",
			)
			status, action = 201, "created"
		else:
			status, action = 200, "updated"
			if any(rec[k] != v for k, v in given.items()):
				rec["updated_at"] = now
				rec["update_source"] = "Contact"
			if rec["permission"] != "explicit":
				# CC quirk (the danger): an existing contact becomes explicit, even an unsubscribed one.
				rec.update(
					permission="explicit",
					opt_in_date=now,
					opt_out_date=None,
					opt_out_source=None,
					opt_out_reason=None,
					email_updated_at=now,
				)
			if rec["deleted_at"]:
				rec["deleted_at"] = None  # and it revives a deleted contact
				rec["updated_at"] = now
		rec.update(given)
		if isinstance(body.get("phone_number"), str):
			self._set_phone(rec, {"phone_number": body["phone_number"], "kind": "other"}, now)
		if isinstance(body.get("street_address"), dict):
			self._set_address(rec, body["street_address"], now)
		for item in body.get("custom_fields") or []:
			if isinstance(item, dict) and item.get("custom_field_id") in self._fields:
				rec["custom_fields"][item["custom_field_id"]] = str(item.get("value", ""))
		for lid in lists:
			self._link(rec, self._lists[lid])
		self.version += 1
		return status, {"contact_id": rec["contact_id"], "action": action}
