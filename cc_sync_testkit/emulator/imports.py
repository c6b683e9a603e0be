"""JSON contact imports (`POST /activities/contacts_json_import`): CC's 40,000-row and 4 MB limits and
what an import does to new, existing, unsubscribed and deleted contacts."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .values import valid_email
from .wire import _invalid

IMPORT_MAX_BYTES = 4 * 1024 * 1024
IMPORT_MAX_ROWS = 40_000

# JSON import keys: phones by kind, and the address parts of each address kind (plain = home).
IMPORT_CORE = ("first_name", "last_name", "job_title", "company_name", "anniversary")
IMPORT_PHONES = {
	"phone": "other",
	"home_phone": "home",
	"work_phone": "work",
	"mobile_phone": "mobile",
	"other_phone": "other",
}
IMPORT_ADDRESS_PREFIXES = {"": "home", "home_": "home", "work_": "work", "other_": "other"}
IMPORT_ADDRESS_PARTS = {
	"street": "street",
	"street2": "street2",
	"city": "city",
	"state": "state",
	"zip": "postal_code",
	"country": "country",
}


class ImportsMixin:
	"""The JSON import endpoint of `ConstantContactEmulator` (which supplies the state and activities)."""

	# -- JSON import ------------------------------------------------------------------------------------

	def _post_import(self, _params: dict[str, str], body: Any) -> tuple[int, Any]:
		if not isinstance(body, dict):
			raise _invalid("The request body must be a JSON object.")
		rows = body.get("import_data")
		lists = body.get("list_ids")
		if not isinstance(rows, list) or not rows:
			raise _invalid("import_data is required")
		if not isinstance(lists, list) or not 1 <= len(lists) <= 50:
			raise _invalid("list_ids is required (1 to 50 list ids)")
		for lid in lists:
			if lid not in self._lists:
				raise _invalid(f"list_id {lid} does not exist")
		if len(rows) > IMPORT_MAX_ROWS:
			raise _invalid("import_data accepts at most 40,000 contacts")
		rows = self._fit_import(rows, lists)
		act = self._new_activity(
			"import",
			{"rows": rows, "list_ids": list(dict.fromkeys(lists))},
			{
				"items_total_count": len(rows) + (1 if self.count_header_row else 0),
				"items_completed_count": 0,
				"person_count": 0,
				"error_count": 0,
				"correctable_count": 0,
				"cannot_add_to_list_count": 0,
			},
		)
		return 201, self._activity_json(act)

	def _fit_import(self, rows: list[Any], lists: list[str]) -> list[Any]:
		"""CC quirk: past 4 MB the rest of a JSON import is silently dropped; keep the rows that fit.

		Sizes are measured on compact JSON, so whitespace in the caller's body does not count. With
		`oversize_import="reject"` an oversize payload is refused with 400 instead.
		"""
		sizes = [len(json.dumps(row, separators=(",", ":"))) + 1 for row in rows]
		base = len(json.dumps({"import_data": [], "list_ids": lists}, separators=(",", ":")))
		if base + sum(sizes) <= IMPORT_MAX_BYTES:
			return rows
		if self.oversize_import == "reject":
			raise _invalid("The import payload exceeds 4 MB")
		self.import_truncations += 1
		total, kept = base, 0
		for size in sizes:
			if total + size > IMPORT_MAX_BYTES:
				break
			total += size
			kept += 1
		return rows[:kept]

	def _apply_import(self, act: dict[str, Any]) -> None:
		status = act["status"]
		lists = [self._lists[lid] for lid in act["payload"]["list_ids"] if lid in self._lists]
		now = self.now()
		for index, row in enumerate(act["payload"]["rows"], start=1):
			status["items_completed_count"] += 1
			email = row.get("email") if isinstance(row, dict) else None
			# CC quirk: import addresses are limited to 50 characters; bad ones are correctable errors.
			if not isinstance(email, str) or len(email) > 50 or not valid_email(email.strip()):
				status["error_count"] += 1
				status["correctable_count"] += 1
				if self.import_errors == "named":
					act["errors"].append(f"Row {index}: invalid email address '{email}'")
				continue
			email = email.strip()
			rec = self._by_email.get(email.lower())
			created = rec is None
			if created:
				# CC quirk: new contacts arrive implicit, opted in by the Account.
				rec = self._insert(
					email,
					permission="implicit",
					created_at=now,
					updated_at=now,
					create_source="Account",
					opt_in_source="Account",
				)
			changed = self._import_fields(rec, row, now, act["errors"], email)
			if changed and not created:
				# An existing contact gets only the fields sent; nothing is cleared.
				rec["updated_at"] = now
				rec["update_source"] = "Account"
			status["person_count"] += 1
			if rec["permission"] == "unsubscribed":
				# CC quirk: a previously unsubscribed contact stays unsubscribed and out of the lists.
				status["cannot_add_to_list_count"] += 1
				continue
			if rec["deleted_at"]:
				rec["deleted_at"] = None  # importing a deleted contact revives it
				rec["updated_at"] = now
				rec["update_source"] = "Account"
			for lst in lists:
				self._link(rec, lst)

	def _import_fields(
		self, rec: dict[str, Any], row: Mapping[str, Any], now: str, errors: list[str], email: str
	) -> bool:
		changed = False
		for key in IMPORT_CORE:
			value = row.get(key)
			if value not in (None, "") and rec[key] != value:
				rec[key] = value
				changed = True
		month, day = row.get("birthday_month"), row.get("birthday_day")
		if month not in (None, "") and day not in (None, ""):
			try:
				month, day = int(month), int(day)
			except (TypeError, ValueError):
				month = day = None
			if month and day and (rec["birthday_month"], rec["birthday_day"]) != (month, day):
				rec["birthday_month"], rec["birthday_day"] = month, day
				changed = True
		for key, kind in IMPORT_PHONES.items():
			value = row.get(key)
			if value not in (None, ""):
				changed |= self._set_phone(rec, {"phone_number": str(value), "kind": kind}, now)
		for prefix, kind in IMPORT_ADDRESS_PREFIXES.items():
			parts = {
				target: str(row[prefix + key])
				for key, target in IMPORT_ADDRESS_PARTS.items()
				if row.get(prefix + key) not in (None, "")
			}
			if parts:
				street2 = parts.pop("street2", None)
				if street2:
					# StreetAddress has one street line: the second line is appended to it.
					parts["street"] = f"{parts.get('street', '')}, {street2}".strip(", ")
				changed |= self._set_address(rec, {"kind": kind, **parts}, now)
		for key, value in row.items():
			if not key.startswith("cf:") or value in (None, ""):
				continue
			field = self._fields_by_name.get(key[3:])
			if field is None:
				# The field must already exist, looked up by its name (not its label).
				named = f" (contact {email})" if self.import_errors == "named" else ""
				errors.append(f"Custom field '{key[3:]}' does not exist{named}")
				continue
			if rec["custom_fields"].get(field["custom_field_id"]) != str(value):
				rec["custom_fields"][field["custom_field_id"]] = str(value)
				changed = True
		return changed
