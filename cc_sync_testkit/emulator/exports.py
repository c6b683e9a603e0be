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

from collections.abc import Mapping
from typing import Any

from cc_sync.constant_contact.export_format import EXPORT_COLUMNS

from .export_columns import ExportTable, csv_text
from .values import PERMISSIONS, contact_status
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
		table = ExportTable(
			recs, self.export_tz, {list_id: lst["name"] for list_id, lst in self._lists.items()}
		)
		header = [*(c for f in fields for c in EXPORT_COLUMNS[f]), *(cf["label"] for cf in custom)]
		columns = [
			*(column for f in fields for column in table.columns(f)),
			*(table.custom_column(cf["custom_field_id"]) for cf in custom),
		]
		act["csv"] = csv_text(header, columns, len(recs))
		act["status"]["items_total_count"] = len(recs)
		act["status"]["items_completed_count"] = len(recs)

	def _get_export_file(self, _params: dict[str, str], _body: Any, export_id: str) -> Any:
		act = self._activities.get(export_id)
		if act is None or act["kind"] != "export" or act["state"] != "completed":
			raise ApiError(404, "contact_exports.api.not_found", f"Export file {export_id} not found.")
		return _Raw(200, "text/csv", act["csv"].encode())
