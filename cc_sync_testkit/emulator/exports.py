"""Contact exports as recorded CC traffic shows them.

- The 201 answer to `POST /activities/contact_exports` already carries `_links.results` (the file
  itself answers 404 until the export has completed).
- `fields` takes CC's documented names plus `website` and `social_profiles`.
- The CSV has human-readable headers capitalised as CC's own (`Email address`, `Email status`, `Email
  permission status`, `Confirmed Opt-Out Date`, `Phone - home`, `Street address line 1 - Home`, `City -
  Home`, `Zip/Postal Code - Home`, `State/Province - Other`, ...), custom fields headed by their label, dates in the account's time zone as
  `2020-09-25 16:45:13 -0400`, and `Email Lists` as list names separated by commas (not confirmed).
"""

from __future__ import annotations

import csv
import functools
import io
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from operator import itemgetter, methodcaller
from typing import Any

from cc_sync.constant_contact.export_format import (
	ADDRESS_COLUMNS,
	ADDRESS_KINDS,
	EXPORT_COLUMNS,
	PHONE_KINDS,
	format_export_date,
)

from .values import PERMISSIONS, contact_status, parse_ts
from .wire import ApiError, _invalid, _Raw

EXPORT_FIELDS = tuple(EXPORT_COLUMNS)
# Without `fields`, CC exports its standard set; custom fields are always added.
EXPORT_DEFAULT_FIELDS = (
	"email_address",
	"first_name",
	"last_name",
	"job_title",
	"company_name",
	"phone_number",
	"street",
	"city",
	"state",
	"zip",
	"country",
	"email_lists",
	"source_name",
	"created_at",
	"updated_at",
	"email_optin_source",
	"email_optin_date",
	"email_optout_source",
	"email_optout_date",
	"email_optout_reason",
)
_STATUS_WORDS = {
	"active": "Active",
	"unsubscribed": "Unsubscribed",
	"deleted": "Removed",
	"not_set": "Not set",
	"pending_confirmation": "Pending confirmation",
	"temp_hold": "Temp hold",
}


# Export column -> the record's key, for the columns that print a record value as it is.
_RENAMED = {
	"source_name": "create_source",
	"email_optin_source": "opt_in_source",
	"email_optout_source": "opt_out_source",
	"email_optout_reason": "opt_out_reason",
}
_DATES = {
	"created_at": "created_at",
	"updated_at": "updated_at",
	"email_optin_date": "opt_in_date",
	"email_optout_date": "opt_out_date",
}
Cell = Callable[[Mapping[str, Any]], Any]
_HOUR, _SECOND = timedelta(hours=1), timedelta(seconds=1)


def _export_date(value: str, tz: Any) -> str:
	"""A record's timestamp as the export writes it.

	An account holds about as many distinct timestamps as contacts, so a cache of whole values misses;
	a wire timestamp (`2020-09-25T20:45:13Z`) takes its local date, hour and offset from its UTC hour,
	which thousands of contacts share, and keeps its own minutes and seconds.
	"""
	if len(value) == 20 and value[10] == "T" and value[19] == "Z":
		hour = _local_hour(value[:13], tz)
		if hour is not None:
			return f"{hour[0]}{value[13:19]} {hour[1]}"
	return format_export_date(parse_ts(value), tz)


@functools.lru_cache(maxsize=65536)
def _local_hour(utc_hour: str, tz: Any) -> tuple[str, str] | None:
	"""(`2020-09-25 16`, `-0400`) for the UTC hour `2020-09-25T20`; None when the offset is not one
	whole number of hours all through that hour (a half-hour zone, a change of offset), as then the
	minutes differ from UTC's or the hour has two offsets."""
	start = datetime.fromisoformat(f"{utc_hour}:00:00+00:00")
	local = start.astimezone(tz)
	offset = local.utcoffset()
	if offset is None or offset % _HOUR or (start + _HOUR - _SECOND).astimezone(tz).utcoffset() != offset:
		return None
	return local.strftime("%Y-%m-%d %H"), local.strftime("%z")


@functools.lru_cache(maxsize=64)
def _words(value: str | None) -> str:
	return value.replace("_", " ").capitalize() if value else ""


def _status_words(rec: Mapping[str, Any]) -> str:
	status = contact_status(rec)
	return _STATUS_WORDS[status] if status in _STATUS_WORDS else _words(status)


def _permission_words(rec: Mapping[str, Any]) -> str:
	return _words(rec["permission"])


def _update_source(rec: Mapping[str, Any]) -> str:
	return rec["update_source"] or ""


def _birthday(rec: Mapping[str, Any]) -> str | None:
	return f"{rec['birthday_month']}/{rec['birthday_day']}" if rec["birthday_month"] else None


def _phone_cell(kind: str) -> Cell:
	def cell(rec: Mapping[str, Any]) -> Any:
		for phone in reversed(rec["phone_numbers"]):  # the last number of a kind is the one shown
			if phone["kind"] == kind:
				return phone["phone_number"]
		return ""

	return cell


def _address_cell(kind: str, part: str) -> Cell:
	def cell(rec: Mapping[str, Any]) -> Any:
		for address in reversed(rec["street_addresses"]):  # the last address of a kind is the one shown
			if address["kind"] == kind:
				return address.get(part) or ""
		return ""

	return cell


def _date_cell(key: str, tz: Any) -> Cell:
	def cell(rec: Mapping[str, Any]) -> str:
		value = rec[key]
		return _export_date(value, tz) if value else ""

	return cell


def _custom_cell(field_id: str) -> Cell:
	def cell(rec: Mapping[str, Any]) -> Any:
		return rec["custom_fields"].get(field_id, "")

	return cell


class ExportsMixin:
	"""The export endpoints of `ConstantContactEmulator` (which supplies the state and activities)."""

	export_tz: Any

	def _post_export(self, _params: dict[str, str], body: Any) -> tuple[int, Any]:
		body = body if isinstance(body, dict) else {}
		if body.get("tag_ids") or body.get("segment_id") is not None or body.get("new_subscriber"):
			raise _invalid(
				"tag_ids, segment_id and new_subscriber exports are not supported by this emulator"
			)
		contact_ids, list_ids = body.get("contact_ids"), body.get("list_ids")
		if contact_ids and list_ids:
			# CC quirk: the export filters are mutually exclusive (contact_ids combine only with status).
			raise _invalid("contact_ids and list_ids are mutually exclusive")
		if (contact_ids and len(contact_ids) > 500) or (list_ids and len(list_ids) > 50):
			raise _invalid("contact_ids accepts at most 500 ids, list_ids at most 50")
		status = body.get("status")
		if status not in (None, "", "all", "active", "unsubscribed", "removed", "deleted", *PERMISSIONS):
			raise _invalid(f"status {status} is not valid")
		fields = body.get("fields")
		if fields is not None:
			if not isinstance(fields, list) or any(f not in EXPORT_FIELDS for f in fields):
				raise _invalid(f"fields accepts only: {', '.join(EXPORT_FIELDS)}")
		payload = {
			"contact_ids": contact_ids,
			"list_ids": list_ids,
			"status": status or None,
			"fields": fields,
		}
		act = self._new_activity("export", payload, {"items_total_count": 0, "items_completed_count": 0})
		return 201, self._activity_json(act)

	def _export_records(self, payload: Mapping[str, Any]) -> list[dict[str, Any]]:
		if payload["contact_ids"]:
			recs = [self._by_id[c] for c in dict.fromkeys(payload["contact_ids"]) if c in self._by_id]
		elif payload["list_ids"]:
			recs = self._source_records({"source": {"list_ids": payload["list_ids"]}})
		else:
			recs = list(self._order)
		status = payload["status"]
		if status in (None, "active"):
			return [
				r for r in recs if not r["deleted_at"] and (status is None or contact_status(r) == "active")
			]
		if status == "unsubscribed":
			# Unsubscribed by permission, deleted or not: permission_to_send tells, whatever deleted_at says.
			return [r for r in recs if r["permission"] == "unsubscribed"]
		if status in ("removed", "deleted"):
			return [r for r in recs if r["deleted_at"]]
		if status != "all":
			return [r for r in recs if contact_status(r) == status]
		return recs

	def _apply_export(self, act: dict[str, Any]) -> None:
		recs = self._export_records(act["payload"])
		fields = list(act["payload"]["fields"] or EXPORT_DEFAULT_FIELDS)
		if "email_address" not in fields:
			# CC quirk: the email_opt* columns come only together with email_address.
			fields = [f for f in fields if not f.startswith("email_opt")]
		custom = list(self._fields.values())  # custom fields are exported by default, headed by label
		cells = [
			*(cell for f in fields for cell in self._export_cells(f)),
			*(_custom_cell(cf["custom_field_id"]) for cf in custom),
		]
		out = io.StringIO()
		writer = csv.writer(out, lineterminator="\r\n")
		writer.writerow([*(c for f in fields for c in EXPORT_COLUMNS[f]), *(cf["label"] for cf in custom)])
		writer.writerows([cell(rec) for cell in cells] for rec in recs)
		act["csv"] = out.getvalue()
		act["status"]["items_total_count"] = len(recs)
		act["status"]["items_completed_count"] = len(recs)

	def _export_cells(self, name: str) -> list[Cell]:
		"""How each column of one `fields` value is read from a record, worked out once per export."""
		if name == "email_address":
			return [itemgetter("address"), _status_words, _permission_words, _update_source]
		if name == "phone_number":
			return [_phone_cell(kind) for kind in PHONE_KINDS]
		part = {"zip": "postal_code"}.get(name, name)
		if part in ADDRESS_COLUMNS:
			return [_address_cell(kind, part) for kind in ADDRESS_KINDS]
		if name == "email_lists":
			names = {list_id: lst["name"] for list_id, lst in self._lists.items()}
			return [lambda rec: ", ".join(map(names.__getitem__, rec["lists"]))]
		if name in _DATES:
			return [_date_cell(_DATES[name], self.export_tz)]
		if name == "birthday":
			return [_birthday]
		if name in _RENAMED:
			return [itemgetter(_RENAMED[name])]
		return [methodcaller("get", name)]  # None, or a field the emulator does not keep, is blank

	def _get_export_file(self, _params: dict[str, str], _body: Any, export_id: str) -> Any:
		act = self._activities.get(export_id)
		if act is None or act["kind"] != "export" or act["state"] != "completed":
			raise ApiError(404, "contact_exports.api.not_found", f"Export file {export_id} not found.")
		return _Raw(200, "text/csv", act["csv"].encode())
