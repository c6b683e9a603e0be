"""The account's vocabulary: wire timestamps, the contact fields, permissions and statuses, the checks on
an address and a custom field's name, and the error a misuse of the event API raises."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, timezone
from typing import Any

TS_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

CORE_FIELDS = (
	"first_name",
	"last_name",
	"job_title",
	"company_name",
	"birthday_month",
	"birthday_day",
	"anniversary",
)
INCLUDES = ("custom_fields", "list_memberships", "phone_numbers", "street_addresses", "taggings", "notes")
PERMISSIONS = ("explicit", "implicit", "not_set", "pending_confirmation", "temp_hold", "unsubscribed")
STATUSES = ("all", "active", "deleted", "not_set", "pending_confirmation", "temp_hold", "unsubscribed")
MAX_LISTS_PER_CONTACT = 50

_NAME_JUNK = re.compile(r"[^a-z0-9]+")
_EMAIL_RE = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[A-Za-z0-9-]{2,}$")


def format_ts(when: datetime) -> str:
	"""The wire form CC uses in 2026 responses: UTC, whole seconds, `Z`."""
	if when.tzinfo is None:
		when = when.replace(tzinfo=timezone.utc)
	return when.astimezone(timezone.utc).strftime(TS_FORMAT)


def parse_ts(value: str | datetime | date) -> datetime:
	"""Accept the forms CC accepts on filters: full ISO-8601 (any offset, fractions) or a bare date."""
	if isinstance(value, datetime):
		return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
	if isinstance(value, date):
		return datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
	text = value.strip()
	if len(text) == 10:
		d = date.fromisoformat(text)
		return datetime(d.year, d.month, d.day, tzinfo=timezone.utc)
	if text.endswith(("Z", "z")):
		text = text[:-1] + "+00:00"
	parsed = datetime.fromisoformat(text)
	return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def to_wire(value: str | datetime | date) -> str:
	return format_ts(parse_ts(value))


def custom_field_name(label: str) -> str:
	"""CC's read-only `name` of a custom field: its label lower-cased, runs of other characters as `_`."""
	return _NAME_JUNK.sub("_", label.strip().lower()).strip("_")


def valid_email(address: Any) -> bool:
	return isinstance(address, str) and len(address) <= 80 and bool(_EMAIL_RE.match(address))


def contact_status(rec: Mapping[str, Any]) -> str:
	"""The single derived state the `status` filter matches on.

	CC quirk: a contact that is deleted reports as `deleted` even when it is also unsubscribed, so
	`status=unsubscribed` misses it; explicit and implicit permission both count as `active`.
	"""
	if rec["deleted_at"]:
		return "deleted"
	permission = rec["permission"]
	return "active" if permission in ("explicit", "implicit") else permission


class EmulatorError(ValueError):
	"""A misuse of the event API (unknown id, bad value): a bug in the test, not an API answer."""


def _uuid4(bits: int) -> str:
	"""A UUID4 string from 128 random bits, without the cost of a uuid.UUID object."""
	bits = (bits & ~(0xF000 << 64) | (0x4000 << 64)) & ~(0xC000 << 48) | (0x8000 << 48)
	h = f"{bits:032x}"
	return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
