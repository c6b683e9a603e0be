"""CC's contact export CSV: its real column headers, and rows read back into `Contact` models.

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

import csv
import io
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, TextIO

from cc_sync.constant_contact.models import Contact, Permission
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
_ADDRESS_ALIASES = {"street": ("street address",)}


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


def format_export_date(value: datetime, tz: Any) -> str:
	"""A timestamp as CC's export writes it: local to the account, `2020-09-25 16:45:13 -0400`."""
	return value.astimezone(tz).strftime(EXPORT_DATE_FORMAT)


def parse_export_date(value: str | None) -> datetime | None:
	"""`2020-09-25 16:45:13 -0400` (or any ISO form) as an aware UTC datetime; blank gives None."""
	if not value:
		return None
	text = value.strip()
	if not text:
		return None
	if len(text) == 25 and text[19] == " " and text[20] in "+-":
		# The export's own form, read by Python's ISO reader once the space before the offset goes:
		# strptime, or taking the parts apart by hand, costs more than the rest of the row.
		try:
			return datetime.fromisoformat(text[:19] + text[20:]).astimezone(timezone.utc)
		except ValueError:
			pass
	return parse_datetime(text)


def _permission(value: str | None) -> str | None:
	"""`Implicit`, `Pending confirmation`, ... as the API spells them (`implicit`, `pending_confirmation`)."""
	if not value or not value.strip():
		return None
	return "_".join(value.strip().lower().replace("-", " ").split())


def _row_permission(cells: Mapping[str, str], opt_out_date: datetime | None) -> str | None:
	"""The row's permission to send: unsubscribed when any of its columns says so, whatever the others
	say ("Email status" Unsubscribed, an unsubscribed "Email permission status", or a "Confirmed Opt-Out
	Date"); otherwise what "Email permission status" says."""
	permission = _permission(cells.get("email permission status"))
	status = _permission(cells.get("email status"))
	if Permission.UNSUBSCRIBED in (permission, status) or opt_out_date is not None:
		return Permission.UNSUBSCRIBED.value
	return permission


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
		row = plan.row
		for values in reader:
			if values:
				yield row(values)

	def row(self, raw: Mapping[str, str | None]) -> ExportRow:
		"""One row given as {header: value}."""
		header = [k.strip().lower() if k else "" for k in raw]
		return _Plan(header, self._labels(), self.list_ids_by_name).row([v or "" for v in raw.values()])

	def _labels(self) -> dict[str, str]:
		return {label.strip().lower(): fid for label, fid in self.field_ids_by_label.items()}


class _Plan:
	"""What an export's header holds, worked out once: each row then reads only the columns present."""

	def __init__(self, header: list[str], labels: Mapping[str, str], list_ids: Mapping[str, str]) -> None:
		self.header = header
		present = set(header)
		self.core = [(column, name) for column, name in _CORE_COLUMNS.items() if column in present]
		self.phones = [(kind, f"phone - {kind}") for kind in PHONE_KINDS if f"phone - {kind}" in present]
		self.addresses = []
		for kind in ADDRESS_KINDS:
			parts = []
			for part, words in ADDRESS_COLUMNS.items():
				headers = [
					h for h in (words.lower(), *_ADDRESS_ALIASES.get(part, ())) if f"{h} - {kind}" in present
				]
				if headers:
					parts.append((part, [f"{h} - {kind}" for h in headers]))
			if parts:
				self.addresses.append((kind, parts))
		self.custom = [
			(column, labels[column]) for column in header if column in labels and column not in _KNOWN
		]
		self.lists = "email lists" in present
		self.list_ids = list_ids
		# Accounts share few distinct `Email Lists` cells: each is resolved once.
		self._memberships: dict[str, tuple[list[str], list[str]]] = {}

	def row(self, values: list[str]) -> ExportRow:
		# Only what the row holds (a blank cell reads as absent); stripped as CC may pad cells.
		cells = {k: v for k, raw in zip(self.header, values, strict=False) if k and (v := raw.strip())}
		problems: list[str] = []
		get = cells.get
		opt_out_date = parse_export_date(get("confirmed opt-out date"))
		email: dict[str, Any] = {
			"address": get("email address"),
			"permission_to_send": _row_permission(cells, opt_out_date),
			"opt_in_source": get("email opt-in source"),
			"opt_in_date": parse_export_date(get("email opt-in date")),
			"opt_out_source": get("confirmed opt-out source"),
			"opt_out_date": opt_out_date,
			"opt_out_reason": get("confirmed opt-out reason"),
		}
		data: dict[str, Any] = {
			"email_address": {k: v for k, v in email.items() if v is not None},
			"created_at": parse_export_date(get("created at")),
			"updated_at": parse_export_date(get("updated at")),
		}
		update_source = get("email update source")
		if update_source:
			data["update_source"] = update_source
		for column, name in self.core:
			if column in cells:
				data[name] = cells[column]
		phones = [{"kind": kind, "phone_number": cells[c]} for kind, c in self.phones if c in cells]
		if phones:
			data["phone_numbers"] = phones
		addresses = []
		for kind, parts in self.addresses:
			found = {}
			for part, headers in parts:
				for header in headers:
					if header in cells:
						found[part] = cells[header]
						break
			if found:
				addresses.append({"kind": kind, **found})
		if addresses:
			data["street_addresses"] = addresses
		custom = [{"custom_field_id": fid, "value": cells[c]} for c, fid in self.custom if c in cells]
		if custom:
			data["custom_fields"] = custom
		if self.lists:
			cell = get("email lists", "")
			split = self._memberships.get(cell)
			if split is None:
				names, unknown = split_list_names(cell, self.list_ids)
				split = self._memberships[cell] = ([self.list_ids[n] for n in names], unknown)
			ids, unknown = split
			if unknown:
				problems.append(f"list names not found in the account: {', '.join(unknown)}")
			else:
				data["list_memberships"] = list(ids)
		return ExportRow(Contact.model_validate(data), problems)
