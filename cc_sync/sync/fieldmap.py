"""Which side owns each field, and how a CC field is named on each path.

CC field names: core fields (`first_name`, `job_title`, ...), phones as `phone:<kind>`, addresses as
`address:<kind>.<part>`, custom fields as `cf:<name>` (CC's field *name*, as the import keys use it).
Owner `cc`: CC's value wins on pull. Owner `site`: the site's value wins; a pull only fills it when the
site has none, and the push sends it. Either way an empty value never overwrites a filled one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cc_sync.constant_contact.models import CORE_FIELDS
from cc_sync.constant_contact.normalise import cc_address_part

PHONE_KINDS = ("home", "work", "mobile", "other")
ADDRESS_KINDS = ("home", "work", "other")
ADDRESS_PARTS = ("street", "city", "state", "postal_code", "country")
OWNERS = ("cc", "site")


@dataclass(frozen=True, slots=True)
class FieldRule:
	cc_field: str
	site_field: str
	owner: str = "cc"

	def __post_init__(self) -> None:
		problem = field_problem(self.cc_field)
		if problem:
			raise ValueError(problem)
		if self.owner not in OWNERS:
			raise ValueError(f"owner must be one of {OWNERS}, not {self.owner!r}")
		if not self.site_field:
			raise ValueError(f"{self.cc_field}: no site field")


def field_problem(cc_field: str) -> str | None:
	"""Why a CC field name is not one this app can map, or None."""
	if cc_field in CORE_FIELDS:
		return None
	if cc_field.startswith("cf:"):
		return None if len(cc_field) > 3 else "cf: needs a custom field name"
	if cc_field.startswith("phone:"):
		kind = cc_field.split(":", 1)[1]
		return None if kind in PHONE_KINDS else f"unknown phone kind {kind!r}"
	if cc_field.startswith("address:"):
		kind, _, part = cc_field.split(":", 1)[1].partition(".")
		if kind in ADDRESS_KINDS and part in ADDRESS_PARTS:
			return None
		return f"unknown address field {cc_field!r}"
	return f"unknown CC field {cc_field!r}"


DEFAULT_FIELD_MAP: tuple[FieldRule, ...] = (
	FieldRule("first_name", "first_name", "cc"),
	FieldRule("last_name", "last_name", "cc"),
	FieldRule("company_name", "company_name", "cc"),
	FieldRule("job_title", "designation", "cc"),
)


def parse_field_map(rows: Iterable[Mapping[str, Any]]) -> tuple[FieldRule, ...]:
	"""Rules from settings rows (`cc_field`, `site_field`, `owner`); a bad row raises with its reason."""
	return tuple(FieldRule(r["cc_field"], r["site_field"], r.get("owner") or "cc") for r in rows)


def _empty(value: Any) -> bool:
	return value is None or (isinstance(value, str) and not value.strip())


def cc_values(contact: Any, rules: Iterable[FieldRule], cf_names: Mapping[str, str]) -> dict[str, Any]:
	"""The CC contact's values for the mapped fields, keyed by site field; absent ones left out.

	`cf_names` maps custom_field_id to name. Subresources missing from the payload (not included) are
	simply absent, which never clears anything.
	"""
	out: dict[str, Any] = {}
	phones = None
	addresses = None
	customs = None
	for rule in rules:
		name = rule.cc_field
		value: Any = None
		if name in CORE_FIELDS:
			value = getattr(contact, name, None)
		elif name.startswith("cf:"):
			if customs is None:
				customs = {
					cf_names.get(cf.custom_field_id, ""): cf.value for cf in (contact.custom_fields or ())
				}
			value = customs.get(name[3:])
		elif name.startswith("phone:"):
			if phones is None:
				phones = {}
				for p in contact.phone_numbers or ():
					phones.setdefault(p.kind, p.phone_number)
			value = phones.get(name[6:])
		else:
			if addresses is None:
				addresses = {}
				for a in contact.street_addresses or ():
					addresses.setdefault(a.kind, a)
			kind, _, part = name[8:].partition(".")
			address = addresses.get(kind)
			value = getattr(address, part, None) if address is not None else None
		if not _empty(value):
			out[rule.site_field] = value
	return out


def fields_to_pull(
	site_fields: Mapping[str, Any], incoming: Mapping[str, Any], rules: Iterable[FieldRule]
) -> dict[str, Any]:
	"""Site fields to change so the site matches CC, following each field's owner."""
	changes: dict[str, Any] = {}
	for rule in rules:
		if rule.site_field not in incoming:
			continue
		new = incoming[rule.site_field]
		old = site_fields.get(rule.site_field)
		if _same(in_cc_form(rule.cc_field, old), new):
			# Equal once CC's own rewriting is applied (a site's `CA` is CC's `California`): not a change.
			continue
		if rule.owner == "cc" or _empty(old):
			changes[rule.site_field] = new
	return changes


def in_cc_form(cc_field: str, value: Any) -> Any:
	"""A site value as CC would store it in that field: CC rewrites some address values on write, so a
	site value and CC's copy are compared in CC's form or the field would differ on every run."""
	if cc_field.startswith("address:"):
		return cc_address_part(cc_field.partition(".")[2], value)
	return value


def _same(old: Any, new: Any) -> bool:
	if isinstance(old, str) and isinstance(new, str):
		return old.strip() == new.strip()
	if old is None or new is None:
		return old is new
	return str(old) == str(new)


_PHONE_IMPORT_KEYS = {
	"home": "home_phone",
	"work": "work_phone",
	"mobile": "mobile_phone",
	"other": "other_phone",
}
_PART_IMPORT_KEYS = {
	"street": "street",
	"city": "city",
	"state": "state",
	"postal_code": "zip",
	"country": "country",
}


def import_key(cc_field: str) -> str:
	"""The key this CC field takes in a contacts_json_import row."""
	if cc_field in CORE_FIELDS or cc_field.startswith("cf:"):
		return cc_field
	if cc_field.startswith("phone:"):
		return _PHONE_IMPORT_KEYS[cc_field[6:]]
	kind, _, part = cc_field[8:].partition(".")
	return f"{kind}_{_PART_IMPORT_KEYS[part]}"


def import_row(
	email: str, site_fields: Mapping[str, Any], rules: Iterable[FieldRule], known_in_cc: bool
) -> dict[str, Any]:
	"""One row of a JSON import: the email plus every mapped non-empty site value.

	CC-owned fields are sent only for a contact CC does not hold yet, so a push never overwrites CC's data.
	"""
	row: dict[str, Any] = {"email": email}
	for rule in rules:
		if rule.owner == "cc" and known_in_cc:
			continue
		value = site_fields.get(rule.site_field)
		if _empty(value):
			continue
		row[import_key(rule.cc_field)] = value.strip() if isinstance(value, str) else value
	return row
