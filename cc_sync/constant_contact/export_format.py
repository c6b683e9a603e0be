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


# ` -0400` -> that offset, for each offset the export's dates have ended with (a few per account; at
# most the few thousand texts that parse as an offset).
_OFFSETS: dict[str, timedelta] = {}
_fromisoformat = datetime.fromisoformat


def parse_export_date(value: str | None) -> datetime | None:
	"""`2020-09-25 16:45:13 -0400` (or any ISO form) as an aware UTC datetime; blank gives None."""
	if not value:
		return None
	text = value.strip()
	return read_export_date(text) if text else None


def read_export_date(text: str) -> datetime | None:
	"""`parse_export_date` of a cell already stripped and not blank (each row reads two or three)."""
	offset = _OFFSETS.get(text[19:])
	if offset is not None:
		# The export's own form, with an offset met before (only a text 25 long ends in one). Python's
		# reader parses the first 19 characters the same whether "+00:00" or the offset follows them (a
		# sign among them would start the offset there and fail either way): read as UTC, less the
		# offset, they are the instant the whole text names, without making a zone and converting.
		try:
			return _fromisoformat(text[:19] + "+00:00") - offset
		except (ValueError, OverflowError):
			pass
	if len(text) == 25 and text[19] == " " and text[20] in "+-":
		# Python's ISO reader takes it once the space before the offset goes: strptime, or taking the
		# parts apart by hand, costs more than the rest of the row.
		try:
			when = _fromisoformat(text[:19] + text[20:])
		except (ValueError, OverflowError):
			pass
		else:
			_OFFSETS.setdefault(text[19:], when.utcoffset())
			try:
				return when.astimezone(timezone.utc)
			except OverflowError:
				pass
	return parse_datetime(text)


class ListNames:
	"""An account's list names, worked out once for resolving `Email Lists` cells."""

	def __init__(self, names: Iterable[str]) -> None:
		self.known = frozenset(names)
		# A name holding commas spans several pieces of a cell. Only a piece that begins such a name can
		# begin a run of pieces that makes a name, and a name holding n commas spans n + 1 pieces.
		self.first_pieces = frozenset(name.split(",")[0] for name in self.known if "," in name)
		self.most_pieces = max((name.count(",") + 1 for name in self.known), default=1)

	def split(self, value: str | None) -> tuple[list[str], list[str]]:
		"""Resolve a comma-separated `Email Lists` cell to list names: (resolved, unresolved pieces).

		A list name may itself hold a comma, so the longest run of pieces that makes a known name wins.
		"""
		if not value or not value.strip():
			return [], []
		pieces = [p.strip() for p in value.split(",")]
		resolved: list[str] = []
		unresolved: list[str] = []
		i = 0
		while i < len(pieces):
			piece = pieces[i]
			if piece in self.first_pieces and (run := self._run(pieces, i)) is not None:
				name, i = run
				resolved.append(name)
				continue
			if piece in self.known:
				resolved.append(piece)
			elif piece:
				unresolved.append(piece)
			i += 1
		return resolved, unresolved

	def _run(self, pieces: list[str], start: int) -> tuple[str, int] | None:
		"""The longest run of two or more pieces from `start` that makes a known name, and its end."""
		for end in range(min(len(pieces), start + self.most_pieces), start + 1, -1):
			for sep in (", ", ","):
				candidate = sep.join(pieces[start:end])
				if candidate in self.known:
					return candidate, end
		return None
