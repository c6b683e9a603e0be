"""The bulk activity endpoints: a JSON import, a list removal, a contacts export, and their progress.

The POSTs are not retried after a 5xx or a dropped connection (see `Transport._request`): they carry no
idempotency key, so a blind resend could queue a second import.
"""

from __future__ import annotations

import json as jsonlib
from collections.abc import Iterator, Sequence
from typing import Any, TextIO
from urllib.parse import quote

from cc_sync.constant_contact.export_reader import ExportReader, ExportRow
from cc_sync.constant_contact.models import Activity
from cc_sync.constant_contact.params import check_ids, check_limit
from cc_sync.constant_contact.transport import MAX_PAGE_SIZE, Transport

MAX_IMPORT_CONTACTS = 40_000
# CC silently drops whatever lies past 4 MB of an import body, so refuse instead.
MAX_IMPORT_BYTES = 4 * 1024 * 1024
MAX_ACTIVITY_LISTS = 50
MAX_ACTIVITY_CONTACT_IDS = 500


class BulkActivitiesAPI(Transport):
	"""The bulk activity endpoints."""

	def import_contacts_json(
		self,
		import_data: list[dict[str, Any]],
		list_ids: Sequence[str],
	) -> Activity:
		"""Queue a JSON import. New contacts become `implicit`; unsubscribed ones stay out of lists.

		Not retried after a 5xx or a dropped connection (see `_request`).

		ref: https://developer.constantcontact.com/api_reference/index.html#!/Bulk_Activities/bulkImportContactsJSON
		"""
		lists = check_ids("list_ids", list_ids, MAX_ACTIVITY_LISTS)
		if not 1 <= len(import_data) <= MAX_IMPORT_CONTACTS:
			raise ValueError(
				f"import_data: between 1 and {MAX_IMPORT_CONTACTS} contacts, got {len(import_data)}"
			)
		body: dict[str, Any] = {"import_data": import_data, "list_ids": lists}
		size = len(jsonlib.dumps(body, separators=(",", ":")).encode("utf-8"))
		if size >= MAX_IMPORT_BYTES:
			raise ValueError(f"import body is {size} bytes; CC ignores everything past 4 MB")
		return self._model(Activity, self._request("POST", "/activities/contacts_json_import", json=body))

	def remove_list_memberships(self, contact_ids: Sequence[str], list_ids: Sequence[str]) -> Activity:
		"""Queue removing up to 500 contacts from up to 50 lists (this does not unsubscribe them).

		ref: https://developer.constantcontact.com/api_reference/index.html#!/Bulk_Activities/postListRemoveContact
		"""
		body = {
			"source": {"contact_ids": check_ids("contact_ids", contact_ids, MAX_ACTIVITY_CONTACT_IDS)},
			"list_ids": check_ids("list_ids", list_ids, MAX_ACTIVITY_LISTS),
		}
		return self._model(Activity, self._request("POST", "/activities/remove_list_memberships", json=body))

	def create_contact_export(
		self,
		*,
		status: str | None = None,
		list_ids: Sequence[str] | None = None,
		fields: Sequence[str] | None = None,
	) -> Activity:
		"""Queue a CSV export of every contact, or of those in one `status`, or of the members of up to 50
		lists (`list_ids` combines with `status` only). Ask for `email_address` in `fields` to get the
		email opt-in/opt-out columns.

		ref: https://developer.constantcontact.com/api_reference/index.html#!/Bulk_Activities/postContactsExport
		"""
		body: dict[str, Any] = {}
		if list_ids is not None:
			body["list_ids"] = check_ids("list_ids", list_ids, MAX_ACTIVITY_LISTS)
		if status is not None:
			body["status"] = status
		if fields is not None:
			body["fields"] = list(fields)
		return self._model(Activity, self._request("POST", "/activities/contact_exports", json=body))

	def read_contact_export(self, results_href_or_id: str, reader: ExportReader) -> Iterator[ExportRow]:
		"""A finished export's rows as `Contact`s, read from CC's human-readable headers by `reader`.

		Pass the activity's `results_href` as given (the spec example misspells the path) or the
		bare `file_export_id`.

		ref: https://developer.constantcontact.com/api_reference/index.html#!/Bulk_Activities/getContactsExport
		"""
		# The file is downloaded to a temporary file and its rows parsed one at a time: memory stays flat
		# whatever the size of the account.
		with self._export_file(results_href_or_id) as csv_file:
			yield from reader.rows(csv_file)

	def _export_file(self, results_href_or_id: str) -> TextIO:
		target = results_href_or_id
		if not target.startswith(("/", "http://", "https://")):
			target = f"/contact_exports/{quote(target, safe='')}"
		return self._request("GET", target, accept_csv=True)

	def get_activity(self, activity_id: str) -> Activity:
		"""The state and counters of one bulk activity (kept by CC for 10 days).

		ref: https://developer.constantcontact.com/api_reference/index.html#!/Bulk_Activities/getActivity
		"""
		body = self._request("GET", f"/activities/{quote(activity_id, safe='')}")
		return self._model(Activity, body)

	def iter_activities(self, limit: int = 50) -> Iterator[Activity]:
		"""Activities of the last 10 days; used to find an import whose POST outcome is unknown.

		ref: https://developer.constantcontact.com/api_reference/index.html#!/Bulk_Activities/getActivityStatusCollection
		"""
		check_limit(limit, MAX_PAGE_SIZE)
		for body in self._iter_pages("/activities", {"limit": limit}):
			for item in body.get("activities") or []:
				yield self._model(Activity, item)
