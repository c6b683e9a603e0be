"""CC's contact export CSV: its real column headers, its dates and its `Email Lists` cell (the rows are
read back into `Contact` models by `export_reader`).

Recorded CC exports (scripts that read CC's real export files) use human-readable headers, not API
field names: `Email address`, `First name`, `Email status`, `Email permission status`, `Confirmed Opt-Out
Date`, `Email Lists`, `Created At`, `Phone - home`, `Street address line 1 - Home`, `City - Home`,
`State/Province - Other`, `Zip/Postal Code - Work`, ...; headers are read whatever their case; custom
fields are headed by their *label*, and dates
look like `2020-09-25 16:45:13 -0400` (the account's time zone). `Email Lists` appears to hold list
*names* separated by commas (not confirmed), so names are resolved against the account's lists and a
name that cannot be resolved leaves that row's memberships unknown rather than wrong.

The export carries no contact id: rows are matched on the site by email.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import Any

from cc_sync.constant_contact.values import parse_datetime

EXPORT_DATE_FORMAT = "%Y-%m-%d %H:%M:%S %z"
PHONE_KINDS = ("home", "work", "mobile", "other")
ADDRESS_KINDS = ("home", "work", "other")
# Street-address part (API name) -> the words of its column header; the kind follows " - ", capitalised
# as CC writes it ("City - Home"; the phone columns keep it lower case: "Phone - home").
ADDRESS_COLUMNS = {
	"street": "Street address line 1",
	"city": "City",
	"state": "State/Province",
	"postal_code": "Zip/Postal Code",
	"country": "Country",
}
# Headers the reader also takes for a part (an older form of the street column).
ADDRESS_ALIASES = {"street": ("street address",)}


def address_column(part: str, kind: str) -> str:
	"""The export's header for one street-address part of one kind: `Zip/Postal Code - Home`."""
	return f"{ADDRESS_COLUMNS[part]} - {kind.capitalize()}"


# `fields` values of POST /activities/contact_exports -> the columns each one yields.
EXPORT_COLUMNS: dict[str, tuple[str, ...]] = {
	"email_address": ("Email address", "Email status", "Email permission status", "Email update source"),
	"first_name": ("First name",),
	"last_name": ("Last name",),
	"job_title": ("Job title",),
	"company_name": ("Company name",),
	"phone_number": tuple(f"Phone - {kind}" for kind in PHONE_KINDS),
	"street": tuple(address_column("street", k) for k in ADDRESS_KINDS),
	"city": tuple(address_column("city", k) for k in ADDRESS_KINDS),
	"state": tuple(address_column("state", k) for k in ADDRESS_KINDS),
	"zip": tuple(address_column("postal_code", k) for k in ADDRESS_KINDS),
	"country": tuple(address_column("country", k) for k in ADDRESS_KINDS),
	"anniversary": ("Anniversary",),
	"birthday": ("Birthday",),
	"birthday_month": ("Birthday month",),
	"birthday_day": ("Birthday day",),
	"email_lists": ("Email Lists",),
	"source_name": ("Source Name",),
	"created_at": ("Created At",),
	"updated_at": ("Updated At",),
	"email_optin_source": ("Email Opt-In Source",),
	"email_optin_date": ("Email Opt-In Date",),
	"email_optout_source": ("Confirmed Opt-Out Source",),
	"email_optout_date": ("Confirmed Opt-Out Date",),
	"email_optout_reason": ("Confirmed Opt-Out Reason",),
	"notes": ("Notes",),
	"website": ("Website",),
	"social_profiles": ("Social Profiles",),
	"sms_number": ("SMS Number",),
	"sms_consent_date": ("SMS Consent Date",),
	"sms_status": ("SMS Status",),
}
# What the sync asks an export for: everything a Contact, its consent and its lists need.
SYNC_EXPORT_FIELDS = (
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
	"anniversary",
	"birthday_month",
	"birthday_day",
	"email_lists",
	"created_at",
	"updated_at",
	"email_optin_source",
	"email_optin_date",
	"email_optout_source",
	"email_optout_date",
	"email_optout_reason",
)
# The columns the opt-out safety net needs.
OPTOUT_EXPORT_FIELDS = (
	"email_address",
	"email_optout_source",
	"email_optout_date",
	"email_optout_reason",
)


def format_export_date(value: datetime, tz: Any) -> str:
	"""A timestamp as CC's export writes it: local to the account, `2020-09-25 16:45:13 -0400`."""
	return value.astimezone(tz).strftime(EXPORT_DATE_FORMAT)


# `45:13` -> 45 minutes 13 seconds, for the export's dates.
_MINUTES_SECONDS = {f"{m:02}:{s:02}": timedelta(minutes=m, seconds=s) for m in range(60) for s in range(60)}


@functools.lru_cache(maxsize=65536)
def _utc_hour(local_hour: str, offset: str) -> datetime:
	"""When the local hour `2020-09-25 16` at offset `-0400` began, in UTC."""
	return datetime.fromisoformat(f"{local_hour}:00:00{offset}").astimezone(timezone.utc)


def parse_export_date(value: str | None) -> datetime | None:
	"""`2020-09-25 16:45:13 -0400` (or any ISO form) as an aware UTC datetime; blank gives None."""
	if not value:
		return None
	text = value.strip()
	if not text:
		return None
	if len(text) == 25 and text[19] == " " and text[20] in "+-":
		# The export's own form. An export holds about one distinct timestamp per row but few distinct
		# hours: the hour's start is read once, and the minutes and seconds are added to it.
		past_hour = _MINUTES_SECONDS.get(text[14:19])
		if past_hour is not None and text[13] == ":":
			try:
				return _utc_hour(text[:13], text[20:]) + past_hour
			except (ValueError, OverflowError):
				pass
		# Python's ISO reader takes it once the space before the offset goes: strptime, or taking the
		# parts apart by hand, costs more than the rest of the row.
		try:
			return datetime.fromisoformat(text[:19] + text[20:]).astimezone(timezone.utc)
		except (ValueError, OverflowError):
			pass
	return parse_datetime(text)


def split_list_names(value: str | None, names: Iterable[str]) -> tuple[list[str], list[str]]:
	"""Resolve a comma-separated `Email Lists` cell to list names: (resolved, unresolved pieces).

	A list name may itself hold a comma, so the longest run of pieces that makes a known name wins.
	"""
	if not value or not value.strip():
		return [], []
	known = set(names)
	pieces = [p.strip() for p in value.split(",")]
	resolved: list[str] = []
	unresolved: list[str] = []
	i = 0
	while i < len(pieces):
		for j in range(len(pieces), i, -1):
			for sep in (", ", ","):
				candidate = sep.join(pieces[i:j])
				if candidate in known:
					resolved.append(candidate)
					i = j
					break
			else:
				continue
			break
		else:
			if pieces[i]:
				unresolved.append(pieces[i])
			i += 1
	return resolved, unresolved
