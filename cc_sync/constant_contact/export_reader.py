"""CC's contact export read back into `Contact` models, a row at a time, by a plan worked out once from
the export's header (see `export_format` for the columns, the dates and the `Email Lists` cell).

The export carries no contact id: rows are matched on the site by email.
"""

from __future__ import annotations

import csv
import functools
import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any, TextIO

from cc_sync.constant_contact.export_format import (
	ADDRESS_ALIASES,
	ADDRESS_COLUMNS,
	ADDRESS_KINDS,
	EXPORT_COLUMNS,
	PHONE_KINDS,
	ListNames,
	read_export_date,
)
from cc_sync.constant_contact.models import Contact, Permission

_CORE_COLUMNS = {
	"first name": "first_name",
	"last name": "last_name",
	"job title": "job_title",
	"company name": "company_name",
	"anniversary": "anniversary",
	"birthday month": "birthday_month",
	"birthday day": "birthday_day",
}
_KNOWN = {c.lower() for cols in EXPORT_COLUMNS.values() for c in cols}


def _permission(value: str) -> str | None:
	"""`Implicit`, `Pending confirmation`, ... as the API spells them (`implicit`, `pending_confirmation`)."""
	if not value:
		return None
	return "_".join(value.lower().replace("-", " ").split())


# An export holds a handful of distinct pairs of these cells: each pair is read once.
@functools.lru_cache(maxsize=256)
def _permission_to_send(permission_cell: str, status_cell: str) -> str | None:
	"""The permission to send that a row's stripped "Email permission status" and "Email status" cells
	give: unsubscribed when either says so, whatever the other says, otherwise what "Email permission
	status" says. (A "Confirmed Opt-Out Date" makes the row unsubscribed whatever both say.)"""
	permission = _permission(permission_cell)
	if Permission.UNSUBSCRIBED in (permission, _permission(status_cell)):
		return Permission.UNSUBSCRIBED.value
	return permission


@dataclass
class ExportRow:
	"""One export row as a `Contact` (no contact id), plus what could not be read from it."""

	contact: Contact
	problems: list[str] = field(default_factory=list)


@dataclass
class ExportReader:
	"""Reads CC export CSV text into `ExportRow`s.

	`list_ids_by_name` resolves `Email Lists`; `field_ids_by_label` maps custom-field columns (headed by
	label) to their ids. Columns neither known nor a custom-field label are ignored.
	"""

	list_ids_by_name: Mapping[str, str] = field(default_factory=dict)
	field_ids_by_label: Mapping[str, str] = field(default_factory=dict)

	def rows(self, source: str | TextIO) -> Iterator[ExportRow]:
		"""The rows of an export, given as its text or as a text file read one row at a time."""
		lines = io.StringIO(source.lstrip("\ufeff")) if isinstance(source, str) else source
		reader = csv.reader(lines)
		header = [h.strip().lower() for h in next(reader, [])]
		plan = _Plan(header, self._labels(), self.list_ids_by_name)
		yield from map(plan.row, filter(None, reader))  # an empty line is no row

	def row(self, raw: Mapping[str, str | None]) -> ExportRow:
		"""One row given as {header: value}."""
		header = [k.strip().lower() if k else "" for k in raw]
		return _Plan(header, self._labels(), self.list_ids_by_name).row([v or "" for v in raw.values()])

	def _labels(self) -> dict[str, str]:
		return {label.strip().lower(): fid for label, fid in self.field_ids_by_label.items()}


# `Contact.model_validate` without the wrapper around the model's validator (a few per cent of a row).
_validate_contact = Contact.__pydantic_validator__.validate_python
# Distinct `Email Lists` cells a plan keeps resolved.
_MEMBERSHIPS_KEPT = 4096
# The columns every row reads, in the order `_Plan.row` unpacks them.
_ROW_COLUMNS = (
	"email address",
	"email status",
	"email permission status",
	"email update source",
	"email opt-in source",
	"email opt-in date",
	"confirmed opt-out source",
	"confirmed opt-out date",
	"confirmed opt-out reason",
	"created at",
	"updated at",
	"email lists",
)


def _runs(positions: list[int]) -> list[list[int]]:
	"""Sorted positions as runs of adjacent ones: [1, 2, 3, 7, 8] gives [[1, 2, 3], [7, 8]]."""
	runs: list[list[int]] = []
	for i in positions:
		if runs and runs[-1][-1] == i - 1:
			runs[-1].append(i)
		else:
			runs.append([i])
	return runs


class _Plan:
	"""What an export's header holds, worked out once: each row then reads only the cells it needs, by
	position. A cell is stripped (CC may pad cells) and a blank one reads as absent; a column that is
	missing reads as blank, and of a header that appears twice the last non-blank cell counts."""

	def __init__(self, header: list[str], labels: Mapping[str, str], list_ids: Mapping[str, str]) -> None:
		self.width = len(header)
		positions: dict[str, list[int]] = {}
		for i, column in enumerate(header):
			if column:
				positions.setdefault(column, []).append(i)
		# A missing column points past the row, where `row` puts a blank cell.
		at = {column: found[-1] for column, found in positions.items()}
		self.repeated = [found for found in positions.values() if len(found) > 1]
		self.scalars = itemgetter(*(at.get(column, self.width) for column in _ROW_COLUMNS))
		self.core = [(name, at[column]) for column, name in _CORE_COLUMNS.items() if column in at]
		self.phones = [(kind, at[f"phone - {kind}"]) for kind in PHONE_KINDS if f"phone - {kind}" in at]
		self.addresses = []
		for kind in ADDRESS_KINDS:
			parts = []
			for part, words in ADDRESS_COLUMNS.items():
				found = [
					at[f"{h} - {kind}"]
					for h in (words.lower(), *ADDRESS_ALIASES.get(part, ()))
					if f"{h} - {kind}" in at
				]
				if found:
					parts.append((part, found))
			if parts:
				self.addresses.append((kind, parts))
		self.custom = [
			(at[column], labels[column]) for column in header if column in labels and column not in _KNOWN
		]
		self.phones_at = [i for _, i in self.phones]
		self.addresses_at = [i for _, parts in self.addresses for _, columns in parts for i in columns]
		self.custom_at = [i for i, _ in self.custom]
		# Most rows leave every phone, address and custom-field column blank: a look at each run of
		# adjacent such columns (one or two in CC's exports) skips them all.
		self.group_runs = [
			(run[0], run[-1] + 1, [""] * len(run))
			for run in _runs(sorted({*self.phones_at, *self.addresses_at, *self.custom_at}))
		]
		self.lists = "email lists" in at
		self.list_ids = list_ids
		self.list_names = ListNames(list_ids)
		# Accounts share few distinct `Email Lists` cells: each is resolved once, to its ids or its problem
		# (an account whose contacts are on many lists in many mixes has more: the memo is bounded).
		self._memberships: dict[str, tuple[list[str], str | None]] = {}

	def row(self, values: list[str]) -> ExportRow:
		"""One row from its cells (a list of its own, which this extends)."""
		if len(values) != self.width:
			del values[self.width :]  # cells past the header are ignored
			values += [""] * (self.width - len(values))  # cells the row lacks are blank
		values.append("")  # what a missing column reads
		for found in self.repeated:
			values[found[-1]] = next((v for i in reversed(found) if (v := values[i].strip())), "")
		(
			address,
			status,
			permission,
			update_source,
			opt_in_source,
			opt_in_date,
			opt_out_source,
			opt_out_date,
			opt_out_reason,
			created_at,
			updated_at,
			lists_cell,
		) = map(str.strip, self.scalars(values))
		created = read_export_date(created_at) if created_at else None
		# A contact's opt-in is often its creation: the same cell is read once.
		if opt_in_date == created_at:
			opted_in = created
		else:
			opted_in = read_export_date(opt_in_date) if opt_in_date else None
		email: dict[str, Any] = {}
		if address:
			email["address"] = address
		if opt_out_date and (opted_out := read_export_date(opt_out_date)) is not None:
			email["permission_to_send"] = Permission.UNSUBSCRIBED.value
			email["opt_out_date"] = opted_out
		elif (consent := _permission_to_send(permission, status)) is not None:
			email["permission_to_send"] = consent
		if opt_in_source:
			email["opt_in_source"] = opt_in_source
		if opted_in is not None:
			email["opt_in_date"] = opted_in
		if opt_out_source:
			email["opt_out_source"] = opt_out_source
		if opt_out_reason:
			email["opt_out_reason"] = opt_out_reason
		data: dict[str, Any] = {
			"email_address": email,
			"created_at": created,
			"updated_at": read_export_date(updated_at) if updated_at else None,
		}
		if update_source:
			data["update_source"] = update_source
		for name, i in self.core:
			# Most of these cells are blank: only a filled one is stripped.
			if (value := values[i]) and (value := value.strip()):
				data[name] = value
		for start, stop, blank in self.group_runs:
			if values[start:stop] != blank:
				self._groups(values, data)
				break
		problems: list[str] = []
		if self.lists:
			memberships = self._memberships.get(lists_cell)
			if memberships is None:
				if len(self._memberships) >= _MEMBERSHIPS_KEPT:
					self._memberships.clear()
				names, unknown = self.list_names.split(lists_cell)
				ids = [self.list_ids[n] for n in names]
				problem = f"list names not found in the account: {', '.join(unknown)}" if unknown else None
				memberships = self._memberships[lists_cell] = (ids, problem)
			ids, problem = memberships
			if problem is None:
				# The model makes a list of its own: the one kept here is never handed out.
				data["list_memberships"] = ids
			else:
				problems.append(problem)
		return ExportRow(_validate_contact(data), problems)

	def _groups(self, values: list[str], data: dict[str, Any]) -> None:
		"""The row's phones, street addresses and custom fields, when any of their cells is filled."""
		cell = values.__getitem__
		if any(map(cell, self.phones_at)):
			phones = [
				{"kind": kind, "phone_number": v} for kind, i in self.phones if (v := values[i].strip())
			]
			if phones:
				data["phone_numbers"] = phones
		if any(map(cell, self.addresses_at)):
			addresses = []
			for kind, parts in self.addresses:
				found = {}
				for part, columns in parts:
					for i in columns:
						if value := values[i].strip():
							found[part] = value
							break
				if found:
					addresses.append({"kind": kind, **found})
			if addresses:
				data["street_addresses"] = addresses
		if any(map(cell, self.custom_at)):
			custom = [
				{"custom_field_id": fid, "value": v} for i, fid in self.custom if (v := values[i].strip())
			]
			if custom:
				data["custom_fields"] = custom
