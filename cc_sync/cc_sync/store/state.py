"""The sync's own state on the settings single: each stream's watermark, the engine's named states, the
count of contacts CC has deleted."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import frappe
from frappe.utils import cint

from cc_sync.cc_sync.constants import (
	CONTACT_CC_DELETED,
	SETTINGS_DELETED_COUNT,
	SETTINGS_SYNC_STATE,
	WATERMARK_FIELD,
)
from cc_sync.cc_sync.sitetime import from_site, to_site
from cc_sync.cc_sync.store.sql import WriteCount, json_value


class SyncState:
	"""The state part of `FrappeStore`: read from and written to the settings single `settings_doctype`."""

	def __init__(self, settings_doctype: str, count: WriteCount) -> None:
		self.settings_doctype = settings_doctype
		self.count = count

	def _watermark_field(self, stream: str) -> str:
		fieldname = WATERMARK_FIELD.get(stream)
		if fieldname is None:
			raise ValueError(f"the stream {stream} keeps no watermark")
		if not frappe.get_meta(self.settings_doctype).has_field(fieldname):
			raise ValueError(f"{self.settings_doctype} has no field {fieldname}: run bench migrate")
		return fieldname

	def get_watermark(self, stream: str) -> datetime | None:
		value = frappe.db.get_single_value(self.settings_doctype, self._watermark_field(stream), cache=False)
		return from_site(value)

	def set_watermark(self, stream: str, value: datetime) -> None:
		# Not bumping `modified`: a stale settings form saved later only moves watermarks back, which
		# re-reads an overlap and is harmless; a timestamp conflict on every run would not be.
		frappe.db.set_single_value(
			self.settings_doctype, self._watermark_field(stream), to_site(value), update_modified=False
		)
		self.count.add()

	def _states(self) -> dict[str, Any]:
		value = frappe.db.get_single_value(self.settings_doctype, SETTINGS_SYNC_STATE, cache=False)
		states = json_value(value, {})
		return states if isinstance(states, dict) else {}

	def get_state(self, name: str) -> dict[str, Any] | None:
		return self._states().get(name)

	def set_state(self, name: str, value: dict[str, Any]) -> None:
		states = self._states()
		states[name] = value
		frappe.db.set_single_value(
			self.settings_doctype,
			SETTINGS_SYNC_STATE,
			json.dumps(states, default=str, sort_keys=True),
			update_modified=False,
		)
		self.count.add()

	def get_deleted_count(self) -> int | None:
		value = frappe.db.get_single_value(self.settings_doctype, SETTINGS_DELETED_COUNT, cache=False)
		# An Int field reads 0 before the first run: only a run that saw deleted contacts stores one.
		return cint(value) if value else None

	def set_deleted_count(self, count: int) -> None:
		frappe.db.set_single_value(
			self.settings_doctype, SETTINGS_DELETED_COUNT, count, update_modified=False
		)
		self.count.add()

	def count_cc_deleted(self) -> int:
		# Only the index range of the contacts held as deleted (the Deleted in CC field's index), whatever
		# the size of the site: a quiet deletes run must not read the whole table.
		rows = frappe.db.sql(f"select count(*) from `tabContact` where `{CONTACT_CC_DELETED}` = 1")
		return cint(rows[0][0]) if rows else 0
