"""Tolerant readers for the values CC sends: timestamps, dates, numbers, flags, lists, links.

A value that cannot be read becomes None instead of failing the record (or the page) it is in: CC's
own payloads mix timestamp formats, send numbers as text and booleans as words, and add fields without
notice. `CCModel` is the base of every payload model (`models`): unknown fields are kept. `Word` is the
base of every vocabulary declared as an enum (CC's permissions, the engine's statuses, the site's).
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from enum import Enum
from typing import Annotated, Any

from dateutil import parser as _dateutil_parser
from pydantic import BaseModel, BeforeValidator, ConfigDict

UTC = timezone.utc


class Word(str, Enum):
	"""A vocabulary word: compares, stores and prints as its plain value (Python 3.10 has no StrEnum)."""

	def __str__(self) -> str:
		return self.value


def parse_datetime(value: Any) -> datetime | None:
	"""Any CC timestamp as an aware UTC datetime; None for missing or unreadable values.

	Real responses use `2026-09-29T14:33:39Z`, the spec shows `.108Z` and `-05:00`, and
	`deleted_at` is a bare date. The fast path handles all of those with `fromisoformat` (which
	returns the `timezone.utc` singleton for a zero offset, so no conversion is needed); anything
	odd falls back to dateutil, and garbage gives None.
	"""
	if type(value) is str:
		try:
			dt = _fromisoformat(value[:-1] + "+00:00" if value[-1:] == "Z" else value)
		except ValueError:
			dt = _slow_parse(value)
			if dt is None:
				return None
	elif isinstance(value, datetime):
		dt = value
	elif isinstance(value, date):
		return datetime(value.year, value.month, value.day, tzinfo=UTC)
	else:
		return None
	tz = dt.tzinfo
	if tz is UTC:
		return dt
	if tz is None:
		return dt.replace(tzinfo=UTC)
	try:
		return dt.astimezone(UTC)
	except (OverflowError, ValueError):
		return None


_fromisoformat = datetime.fromisoformat


def _slow_parse(value: str) -> datetime | None:
	text = value.strip()
	if not text:
		return None
	try:
		return _dateutil_parser.isoparse(text)
	except (ValueError, OverflowError, TypeError):
		return None


def parse_date(value: Any) -> date | None:
	"""A calendar date (CC's `deleted_at` is date-only); full timestamps give their UTC date."""
	if value is None:
		return None
	if isinstance(value, date) and not isinstance(value, datetime):
		return value
	if isinstance(value, str) and len(value) == 10:
		try:
			return date.fromisoformat(value)
		except ValueError:
			pass
	dt = parse_datetime(value)
	return dt.date() if dt else None


def opt_int(value: Any) -> int | None:
	"""A whole number from a number or its text; None for anything else."""
	if value is None or isinstance(value, bool):
		return None
	if isinstance(value, int):
		return value
	try:
		return int(float(value))
	except (TypeError, ValueError, OverflowError):
		return None


def opt_bool(value: Any) -> bool | None:
	"""A flag from a boolean, a number or a word (true/false, yes/no, 1/0); None for anything else."""
	if value is None or isinstance(value, bool):
		return value
	if isinstance(value, str):
		lowered = value.strip().lower()
		if lowered in ("true", "1", "yes"):
			return True
		if lowered in ("false", "0", "no"):
			return False
		return None
	if isinstance(value, int | float):
		return bool(value)
	return None


def str_list(value: Any) -> list[str] | None:
	"""A list of ids as text; None when CC sent no list."""
	if value is None:
		return None
	if not isinstance(value, list):
		return None
	return [str(v) for v in value if v is not None]


DateTime = Annotated[datetime | None, BeforeValidator(parse_datetime)]
Date = Annotated[date | None, BeforeValidator(parse_date)]
OptInt = Annotated[int | None, BeforeValidator(opt_int)]
OptBool = Annotated[bool | None, BeforeValidator(opt_bool)]
StrList = Annotated[list[str] | None, BeforeValidator(str_list)]


class CCModel(BaseModel):
	"""Shared config: unknown fields kept in `model_extra`, numbers accepted where text is expected."""

	model_config = ConfigDict(extra="allow", coerce_numbers_to_str=True, populate_by_name=True)


def link_href(links: Any, rel: str = "next") -> str | None:
	"""The `href` of one relation in a `_links` object, when CC sent a usable one."""
	if not isinstance(links, dict):
		return None
	link = links.get(rel)
	if not isinstance(link, dict):
		return None
	href = link.get("href")
	return href if isinstance(href, str) and href else None
