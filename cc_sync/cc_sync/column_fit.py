"""CC values made to fit the site's typed columns before the store writes them with raw SQL.

The store writes Contact fields straight to the table, past Frappe's own validation, and MariaDB in
strict mode refuses a value too long for its column or a non-date in a date column, which would fail
the whole page on every run. So each value is converted to its column's type, cut to its length, or
left out, and each change is reported with the reason. Pure Python: the store reads the column specs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from dateutil import parser as date_parser

from cc_sync.constant_contact.values import parse_date, parse_datetime

# The column types that hold a text as given (a value of any other type is converted on the way in).
TEXT_TYPES = frozenset({"varchar", "char", "tinytext", "text", "mediumtext", "longtext"})

_TEXT = frozenset({"varchar", "char", "tinytext", "text", "mediumtext", "longtext"})
# Byte limits of the text types (utf8mb4 counts bytes, not characters, for these).
_TEXT_BYTES = {"tinytext": 255, "text": 65_535, "mediumtext": 16_777_215, "longtext": 4_294_967_295}
_INTS = frozenset({"tinyint", "smallint", "mediumint", "int", "bigint"})
_DECIMALS = frozenset({"decimal", "float", "double"})


@dataclass(frozen=True, slots=True)
class Column:
	"""What the database holds a field in: `data_type` as information_schema names it."""

	data_type: str
	max_length: int | None = None
	# For Select fields: the values the form offers (empty: any text).
	options: tuple[str, ...] = ()


def fit(field: str, value: Any, column: Column | None) -> tuple[Any, str | None, bool]:
	"""(value to write, why it was changed or None, keep): `keep=False` means leave the field alone."""
	if value is None or column is None:
		return value, None, True
	kind = column.data_type.lower()
	if kind in _TEXT:
		return _fit_text(field, value, kind, column)
	if kind == "date":
		return _fit_date(field, value)
	if kind in ("datetime", "timestamp"):
		parsed = value if isinstance(value, datetime) else parse_datetime(value)
		if parsed is None:
			return (
				None,
				f"{field}: {_show(value)} is not a date and time; the field was left as it was",
				False,
			)
		return parsed, None, True
	if kind == "time":
		return _fit_time(field, value)
	if kind in _INTS:
		return _fit_int(field, value, kind)
	if kind in _DECIMALS:
		return _fit_decimal(field, value)
	return value, None, True


def _fit_text(field: str, value: Any, kind: str, column: Column) -> tuple[Any, str | None, bool]:
	text = value if isinstance(value, str) else str(value)
	if column.options and text not in column.options:
		return (
			None,
			f"{field}: {_show(text)} is not one of the field's options; the field was left as it was",
			False,
		)
	if kind in ("varchar", "char") and column.max_length and len(text) > column.max_length:
		cut = text[: column.max_length]
		return (
			cut,
			f"{field}: CC's value has {len(text)} characters, the field holds {column.max_length}: cut",
			True,
		)
	limit = _TEXT_BYTES.get(kind)
	if limit is not None and len(text.encode("utf-8")) > limit:
		cut = text.encode("utf-8")[:limit].decode("utf-8", "ignore")
		return cut, f"{field}: CC's value is longer than the field's {limit} bytes: cut", True
	return text, None, True


def _fit_date(field: str, value: Any) -> tuple[Any, str | None, bool]:
	if isinstance(value, date):
		return (value.date() if isinstance(value, datetime) else value), None, True
	parsed = parse_date(value) if isinstance(value, str) and len(value.strip()) == 10 else None
	if parsed is None and isinstance(value, str) and value.strip():
		try:
			# CC's own screens write dates as MM/DD/YYYY.
			parsed = date_parser.parse(value.strip(), dayfirst=False).date()
		except (ValueError, OverflowError, TypeError):
			parsed = None
	if parsed is None:
		return None, f"{field}: {_show(value)} is not a date; the field was left as it was", False
	return parsed, None, True


def _fit_time(field: str, value: Any) -> tuple[Any, str | None, bool]:
	if isinstance(value, time):
		return value, None, True
	try:
		return time.fromisoformat(str(value).strip()), None, True
	except ValueError:
		return None, f"{field}: {_show(value)} is not a time; the field was left as it was", False


def _fit_int(field: str, value: Any, kind: str) -> tuple[Any, str | None, bool]:
	if isinstance(value, bool):
		return int(value), None, True
	text = str(value).strip().lower()
	if kind == "tinyint" and text in ("true", "yes", "false", "no"):
		return (1 if text in ("true", "yes") else 0), None, True
	try:
		number = float(text)
	except ValueError:
		number = math.nan
	if not math.isfinite(number) or number != int(number):
		return None, f"{field}: {_show(value)} is not a whole number; the field was left as it was", False
	return int(number), None, True


def _fit_decimal(field: str, value: Any) -> tuple[Any, str | None, bool]:
	try:
		number = Decimal(str(value).strip())
	except (InvalidOperation, ValueError):
		number = None
	if number is None or not number.is_finite():
		return None, f"{field}: {_show(value)} is not a number; the field was left as it was", False
	return float(number), None, True


def _show(value: Any, limit: int = 60) -> str:
	text = repr(value)
	return text if len(text) <= limit else text[: limit - 1] + "…"
