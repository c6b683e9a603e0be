"""Site time: the engine speaks timezone-aware UTC; a Frappe site stores naive datetimes in its system
timezone, as every Datetime field does. Conversion happens here only: the store, the settings, the sync
logs and the OAuth flow all convert through these two functions."""

from __future__ import annotations

import functools
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

from frappe.utils import get_datetime, get_system_timezone


def site_tz() -> ZoneInfo:
	return ZoneInfo(get_system_timezone())


def to_site(value: datetime | None) -> datetime | None:
	"""An engine datetime (aware; naive is taken as UTC) as the site stores it: naive, system timezone."""
	if value is None:
		return None
	if value.tzinfo is None:
		value = value.replace(tzinfo=timezone.utc)
	return value.astimezone(site_tz()).replace(tzinfo=None)


def from_site(value: Any, tz: ZoneInfo | None = None) -> datetime | None:
	"""A site Datetime value as the engine wants it: aware, UTC. `tz` is `site_tz()`, when the caller
	converts many values at once and has read it already."""
	if not value:
		return None
	if isinstance(value, str):
		return _from_site_text(value, tz or site_tz())
	if not isinstance(value, datetime):
		value = get_datetime(value)
	return _aware(value, tz or site_tz())


@functools.lru_cache(maxsize=4096)
def _from_site_text(value: str, tz: ZoneInfo) -> datetime | None:
	"""`from_site` of a text, each text converted once: a page reads many rows written together, which
	share their `creation` and `modified`."""
	try:
		parsed = datetime.fromisoformat(value)
	except ValueError:
		parsed = get_datetime(value)
	return _aware(parsed, tz)


def _aware(value: datetime, tz: ZoneInfo) -> datetime | None:
	if value.year <= 1:
		# An empty Datetime of a Single reads back as 0001-01-01.
		return None
	return value.replace(tzinfo=tz).astimezone(timezone.utc)
