"""An export's CSV built a column at a time: each column's values are read from every record in one pass,
then the rows are joined, with the quoting Python's csv writer gives.

A whole-account export is about a hundred thousand rows of forty columns. Read a row at a time, every cell
cost a Python call and the csv writer then scanned every cell again; read a column at a time, a column is
one comprehension (or one `map` in C), most columns need no quoting at all, and which do is found with one
scan of the column's joined text. Nothing is kept from one export to the next: what is worked out once
(the words of a permission, the local form of a UTC hour) is worked out again for every export.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from operator import itemgetter, methodcaller
from typing import Any

from cc_sync.constant_contact.export_format import (
	ADDRESS_COLUMNS,
	ADDRESS_KINDS,
	PHONE_KINDS,
	format_export_date,
)

from .values import CORE_FIELDS, contact_status, parse_ts

Records = Sequence[Mapping[str, Any]]
_STATUS_WORDS = {
	"active": "Active",
	"unsubscribed": "Unsubscribed",
	"deleted": "Removed",
	"not_set": "Not set",
	"pending_confirmation": "Pending confirmation",
	"temp_hold": "Temp hold",
}
_LAST_SECOND = timedelta(seconds=3599)  # an hour's last second, from its start
_MINUTES_SECONDS = ":MM:SS"  # in an hour's form, where a timestamp's own go
_TWO_DIGITS = tuple(f"{n:02}" for n in range(24))
_DAY_HOURS = tuple((_TWO_DIGITS[n], timedelta(hours=n)) for n in range(24))
# Whole hours of offset -> the offset as the export writes it (` -0400`).
_OFFSETS = {n: f" {'-' if n < 0 else '+'}{abs(n):02}00" for n in range(-24, 25)}
# The characters for which the csv writer (the default dialect, `\r\n` lines) quotes a cell.
_NEEDS_QUOTES = (",", '"', "\r", "\n")
_LINE = "\r\n"


class _Memo(dict):
	"""Values worked out on first use, for one export only (it is dropped with the export's columns)."""

	def __init__(self, make: Callable[[Any], Any]) -> None:
		super().__init__()
		self.make = make

	def __missing__(self, key: Any) -> Any:
		value = self[key] = self.make(key)
		return value


def _words(value: str | None) -> str:
	return value.replace("_", " ").capitalize() if value else ""


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


class ExportTable:
	"""One export's records, read a column at a time. What several columns share (the local form of a
	UTC hour, the rows that have a street address) is worked out once for this export, and dropped
	with it."""

	def __init__(self, recs: Records, tz: Any, list_names: Mapping[str, str]) -> None:
		self.recs = recs
		self.tz = tz
		self.list_names = list_names
		self._hours = _LocalHours(tz)
		self._addressed: list[tuple[int, list[Mapping[str, Any]]]] | None = None

	def columns(self, name: str) -> list[list[Any]]:
		"""The columns one `fields` value yields (EXPORT_COLUMNS gives their headers)."""
		recs = self.recs
		if name == "email_address":
			status = _Memo(lambda s: _STATUS_WORDS[s] if s in _STATUS_WORDS else _words(s))
			permission = _Memo(_words)
			return [
				list(map(itemgetter("address"), recs)),
				list(map(status.__getitem__, map(contact_status, recs))),
				list(map(permission.__getitem__, map(itemgetter("permission"), recs))),
				[rec["update_source"] or "" for rec in recs],
			]
		if name == "phone_number":
			return self._phone_columns()
		part = {"zip": "postal_code"}.get(name, name)
		if part in ADDRESS_COLUMNS:
			return self._address_columns(part)
		if name == "email_lists":
			list_name = self.list_names.__getitem__
			return [[", ".join(map(list_name, rec["lists"])) for rec in recs]]
		if name in _DATES:
			return [self._date_column(_DATES[name])]
		if name == "birthday":
			return [
				[f"{r['birthday_month']}/{r['birthday_day']}" if r["birthday_month"] else None for r in recs]
			]
		if name in _RENAMED:
			return [list(map(itemgetter(_RENAMED[name]), recs))]
		if name in CORE_FIELDS:
			return [list(map(itemgetter(name), recs))]
		# None, or a field the emulator does not keep, is blank.
		return [list(map(methodcaller("get", name), recs))]

	def custom_column(self, field_id: str) -> list[Any]:
		return [rec["custom_fields"].get(field_id, "") for rec in self.recs]

	def _phone_columns(self) -> list[list[Any]]:
		"""One column per kind; the last number of a kind is the one shown."""
		columns = {kind: [""] * len(self.recs) for kind in PHONE_KINDS}
		for row, phones in self._filled("phone_numbers"):
			for phone in phones:  # in order, so a later number of a kind overwrites
				if phone["kind"] in columns:
					columns[phone["kind"]][row] = phone["phone_number"]
		return list(columns.values())

	def _address_columns(self, part: str) -> list[list[Any]]:
		"""One column per kind for one part (`city`); the last address of a kind is the one shown."""
		if self._addressed is None:  # up to five parts are asked for: the contacts are found once
			self._addressed = self._filled("street_addresses")
		columns = {kind: [""] * len(self.recs) for kind in ADDRESS_KINDS}
		for row, addresses in self._addressed:
			for address in addresses:  # in order, so a later address of a kind overwrites
				if address["kind"] in columns:
					columns[address["kind"]][row] = address.get(part) or ""
		return list(columns.values())

	def _filled(self, key: str) -> list[tuple[int, Any]]:
		"""(row, value) where the record's list under `key` has items. Most contacts have no phone or
		street address: their rows are skipped in C, and the columns start blank."""
		values = list(map(itemgetter(key), self.recs))
		return [(row, values[row]) for row in itertools.compress(range(len(values)), values)]

	def _date_column(self, key: str) -> list[str]:
		"""A timestamp as the export writes it, in the account's zone (`2020-09-25 16:45:13 -0400`).

		An account holds about as many distinct timestamps as contacts, but few distinct hours: a wire
		timestamp (`2020-09-25T20:45:13Z`) takes its local date, hour and offset from its UTC hour, and
		keeps its own minutes and seconds.
		"""
		hours, tz = self._hours, self.tz
		return [
			""
			if not value
			# The wire form, in an hour of one whole-hour offset: nearly every timestamp.
			else hour.replace(_MINUTES_SECONDS, value[13:19])
			if len(value) == 20 and value[10] == "T" and value[19] == "Z" and (hour := hours[value[:13]])
			else format_export_date(parse_ts(value), tz)
			for value in map(itemgetter(key), self.recs)
		]


class _LocalHours(dict):
	"""UTC hour (`2020-09-25T20`) -> `2020-09-25 16:MM:SS -0400`, the export's form of its timestamps
	(a timestamp's own minutes and seconds, `:45:13`, take the place of `:MM:SS`), for one export. None where the export writes the hour's
	timestamps in full: when the offset is not one whole number of hours all through the hour (a
	half-hour zone, a change of offset), as then the minutes differ from UTC's or the hour has two
	offsets, and before the year 1000, which strftime does not pad.

	An account's timestamps fill most hours of the days they fall on, so the 24 hours of a UTC day are
	worked out together, from the day's start. The forms are strings, not (before, after) pairs: an
	export's columns are large young lists, and 17,000 new tuples set off the collector some twenty
	times over them.
	"""

	def __init__(self, tz: Any) -> None:
		super().__init__()
		self.tz = tz

	def __missing__(self, utc_hour: str) -> str | None:
		day = utc_hour[:10]
		try:
			start = datetime.fromisoformat(f"{day}T00:00:00+00:00")
			hours = {f"{day}T{hh}": _hour_form(self.tz, start + since) for hh, since in _DAY_HOURS}
		except (ValueError, OverflowError):
			hours = {}  # not a day, or one at the calendar's end: the hour alone tells (or fails)
		if utc_hour not in hours:  # an hour that is not `00` to `23`, or such a day's
			hours[utc_hour] = _hour_form(self.tz, datetime.fromisoformat(f"{utc_hour}:00:00+00:00"))
		self.update(hours)
		return hours[utc_hour]


def _hour_form(tz: Any, start: datetime) -> str | None:
	"""The export's form of the hour from `start` (UTC), or None (see _LocalHours)."""
	local = start.astimezone(tz)
	offset = local.utcoffset()
	if offset is None or local.year < 1000:
		return None
	hours, rest = divmod(offset.days * 86400 + offset.seconds, 3600)
	if rest or (start + _LAST_SECOND).astimezone(tz).utcoffset() != offset:
		return None
	# strftime costs more than the rest of the hour together.
	return f"{local.date().isoformat()} {_TWO_DIGITS[local.hour]}{_MINUTES_SECONDS}{_OFFSETS[hours]}"


# -- the CSV -------------------------------------------------------------------------------------------


def csv_text(header: list[str], columns: list[list[Any]], rows: int) -> str:
	"""The CSV, byte for byte what `csv.writer(lineterminator="\\r\\n")` writes for these rows."""
	head = io.StringIO()
	csv.writer(head, lineterminator=_LINE).writerow(header)
	if not columns:
		return head.getvalue() + _LINE * rows  # the writer ends an empty row all the same
	if len(columns) == 1:
		# The writer quotes a row's only cell when it is blank, so that the row is not an empty line.
		cells = [[cell or '""' for cell in _csv_cells(columns[0])[0]]]
	else:
		cells = _blank_runs_joined(map(_csv_cells, columns), rows)
	# One join makes the whole text (the last, empty, line ends the last row): an export is tens of MB.
	lines = map(",".join, zip(*cells, strict=True))
	return _LINE.join(itertools.chain((head.getvalue()[: -len(_LINE)],), lines, ("",)))


def _blank_runs_joined(columns: Iterable[tuple[list[str], bool]], rows: int) -> list[list[str]]:
	"""Each run of columns blank in every row as one column of their commas (`,,` for three).

	Joining a row costs by the cell, and an export has many columns that no contact fills (street
	addresses, phones, birthdays in many accounts), so the rows are joined from fewer cells.
	"""
	out: list[list[str]] = []
	run = 0
	for cells, blank in columns:
		if blank:
			run += 1
			continue
		if run:
			out.append(["," * (run - 1)] * rows)
			run = 0
		out.append(cells)
	if run:
		out.append(["," * (run - 1)] * rows)
	return out


def _csv_cells(column: list[Any]) -> tuple[list[str], bool]:
	"""A column's values as the writer prints them (None blank, other values by `str`, quoted where
	needed), and whether every one is blank. Joining the column tells at C speed whether every value
	is text, whether any is not blank and whether any needs quotes, which in an export is rare
	(`Email Lists` of two lists, a name with a comma)."""
	try:
		text = "".join(column)
	except TypeError:  # a value that is not text: None, a number
		if column.count(None) + column.count("") == len(column):
			return [""] * len(column), True  # counted in C: a field no contact has is common
		column = ["" if value is None else value for value in column]
		try:
			text = "".join(column)
		except TypeError:
			column = [value if isinstance(value, str) else str(value) for value in column]
			text = "".join(column)
	if not any(char in text for char in _NEEDS_QUOTES):
		return column, not text
	quoted = [
		'"' + cell.replace('"', '""') + '"'
		if ("," in cell or '"' in cell or "\r" in cell or "\n" in cell)
		else cell
		for cell in column
	]
	return quoted, False
