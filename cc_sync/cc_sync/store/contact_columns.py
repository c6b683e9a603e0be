"""Contact's columns as the site has them: CC's values fitted to them (converted, cut or left out, each
change noted until the engine collects the notes), and new rows inserted with each column's blank."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import frappe

from cc_sync.cc_sync.column_fit import TEXT_TYPES, fit
from cc_sync.cc_sync.constants import CONTACT
from cc_sync.cc_sync.sitetime import to_site
from cc_sync.cc_sync.store.contact_reads import NUMERIC, RESERVED
from cc_sync.cc_sync.store.sql import column_specs, insert_named
from cc_sync.sync.records import ContactWrite

# How many fitted values `fit_fields` keeps (a few MiB at most), and what it keeps for a value left out.
FITTED_ONCE_MAX = 20_000
_UNSEEN = object()
_LEFT_ALONE = object()


class ContactColumns:
	"""Contact's columns as the site has them: values fitted to them (each change noted until the engine
	collects the notes) and new rows inserted with each column's blank."""

	def __init__(self) -> None:
		meta = frappe.get_meta(CONTACT)
		self._types = {
			f: (meta.get_field(f).fieldtype if meta.get_field(f) else "Data")
			for f in frappe.db.get_table_columns(CONTACT)
		}
		self._columns = column_specs(CONTACT, meta)
		# Values changed to fit their columns, as (email, reason), until the engine collects them.
		self._notes: list[tuple[str | None, str]] = []
		self._fitted_once: dict[tuple, Any] = {}  # (field, type, value) -> fitted (see `fit_fields`)

	def fit_fields(self, values: Mapping[str, Any]) -> dict[str, Any]:
		"""CC's values as Contact's columns would store them, nothing noted (see `SyncStore.fit_fields`).

		Each contact of a page is compared so, and names, titles and companies repeat across an account:
		each (field, value) is fitted once."""
		out = {}
		fitted_once = self._fitted_once
		for field, value in values.items():
			try:
				key = (field, type(value), value)
				fitted = fitted_once.get(key, _UNSEEN)
			except TypeError:  # a value that cannot be a key is fitted each time
				key, fitted = None, _UNSEEN
			if fitted is _UNSEEN:
				fitted = self._fit_for_comparison(field, value)
				if key is not None:
					if len(fitted_once) >= FITTED_ONCE_MAX:
						fitted_once.clear()
					fitted_once[key] = fitted
			if fitted is not _LEFT_ALONE:
				out[field] = fitted
		return out

	def _fit_for_comparison(self, field: str, value: Any) -> Any:
		"""The value as its column would store it (only a text column changes it), or `_LEFT_ALONE`."""
		column = self._columns.get(field)
		if column is None or column.data_type.lower() not in TEXT_TYPES:
			return value
		fitted, _, keep = fit(field, value, column)
		return fitted if keep else _LEFT_ALONE

	def fitted(self, write: ContactWrite) -> dict[str, Any]:
		"""The write's field values converted, cut or left out to fit their columns, each change noted."""
		out: dict[str, Any] = {}
		for field, value in write.fields.items():
			if field not in self._types or field in RESERVED:
				continue
			fitted, note, keep = fit(field, value, self._columns.get(field))
			if note:
				self._notes.append((write.email, note))
			if not keep:
				continue
			out[field] = to_site(fitted) if isinstance(fitted, datetime) else fitted
		return out

	def fit_composed(self, email: str, column: str, value: str) -> str:
		"""A value the store composes (the full name from the name fields, a first name from the address)
		fitted to its column like CC's own values, the cut noted."""
		fitted, note, _ = fit(column, value, self._columns.get(column))
		if note:
			self._notes.append((email, note.replace("CC's value", "the composed value")))
		return fitted

	def drain_notes(self) -> list[tuple[str | None, str]]:
		"""What the writes since the last call changed to fit the site's columns, with the reasons."""
		notes, self._notes = self._notes, []
		return notes

	def insert(self, doctype: str, rows: list[dict[str, Any]]) -> None:
		"""Insert new rows under names of their own (set on each row)."""
		if not rows:
			return
		types = self._types if doctype == CONTACT else {}
		columns = dict.fromkeys(c for row in rows for c in row)
		blank = {c: (0 if types.get(c) in NUMERIC else None) for c in columns}
		insert_named(doctype, rows, blank)
