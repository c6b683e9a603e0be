"""Typed, tolerant views of CC V3 payloads.

Every field is optional and unknown fields are kept (`model_extra`), because CC adds fields
without notice, omits subresources unless asked for them (`include=`), and sends SMS-only
contacts with no `email_address`. A bad timestamp becomes None instead of failing a whole page.

Contacts are read one at a time (`parse_contact`), so one odd record never costs the rest of its
page: an unreadable subresource item is left out and noted, and a contact whose identity or core
fields cannot be read is skipped and noted with the reason and a raw snippet.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, model_validator
from pydantic import ValidationError as PydanticValidationError

from cc_sync.constant_contact.values import (
	UTC,
	CCModel,
	Date,
	DateTime,
	OptBool,
	OptInt,
	StrList,
	Word,
	link_href,
	opt_int,
)

# A contact's core fields (ContactPutRequest). CC overwrites every core field left out of a PUT with
# null (subresources left out are kept), so a write must always carry all of them.
CORE_FIELDS = (
	"first_name",
	"last_name",
	"job_title",
	"company_name",
	"birthday_month",
	"birthday_day",
	"anniversary",
)


class Permission(Word):
	"""CC's `email_address.permission_to_send`, as the API spells it; reads and compares as its word.

	A value CC adds later stays plain text on the model (`permission_known` is then False), so it is
	never mistaken for consent.
	"""

	EXPLICIT = "explicit"
	IMPLICIT = "implicit"
	PENDING_CONFIRMATION = "pending_confirmation"
	NOT_SET = "not_set"
	TEMP_HOLD = "temp_hold"
	UNSUBSCRIBED = "unsubscribed"


KNOWN_PERMISSIONS = frozenset(Permission)
FINISHED_STATES = frozenset({"completed", "cancelled", "failed", "timed_out"})


def _activity_errors(value: Any) -> list[str]:
	# Most activity schemas send strings; the generic one sends {"message": "..."} objects.
	if not isinstance(value, list):
		return []
	out: list[str] = []
	for item in value:
		if isinstance(item, str):
			out.append(item)
		elif isinstance(item, dict):
			msg = item.get("message") or item.get("error_message")
			out.append(str(msg) if msg is not None else str(item))
		elif item is not None:
			out.append(str(item))
	return out


class EmailAddress(CCModel):
	address: str | None = None
	# Kept as plain text: a value CC adds later must not fail parsing or be mistaken for consent.
	permission_to_send: str | None = None
	created_at: DateTime = None
	updated_at: DateTime = None
	opt_in_source: str | None = None
	opt_in_date: DateTime = None
	opt_out_source: str | None = None
	opt_out_date: DateTime = None
	opt_out_reason: str | None = None
	confirm_status: str | None = None

	@property
	def permission_known(self) -> bool:
		return self.permission_to_send in KNOWN_PERMISSIONS


def _text_value(value: Any) -> Any:
	# Boolean custom fields (CC added the type in 2025) carry a JSON boolean: keep it as text.
	if isinstance(value, bool):
		return "true" if value else "false"
	return value


class CustomFieldValue(CCModel):
	custom_field_id: str | None = None
	value: Annotated[str | None, BeforeValidator(_text_value)] = None
	choice_ids: StrList = None


class PhoneNumber(CCModel):
	phone_number_id: str | None = None
	phone_number: str | None = None
	kind: str | None = None
	created_at: DateTime = None
	updated_at: DateTime = None
	update_source: str | None = None
	create_source: str | None = None


class StreetAddress(CCModel):
	street_address_id: str | None = None
	kind: str | None = None
	street: str | None = None
	city: str | None = None
	state: str | None = None
	postal_code: str | None = None
	country: str | None = None
	created_at: DateTime = None
	updated_at: DateTime = None


class Note(CCModel):
	note_id: str | None = None
	created_at: DateTime = None
	content: str | None = None


class Contact(CCModel):
	contact_id: str | None = None
	email_address: EmailAddress | None = None
	first_name: str | None = None
	last_name: str | None = None
	job_title: str | None = None
	company_name: str | None = None
	birthday_month: OptInt = None
	birthday_day: OptInt = None
	anniversary: str | None = None
	update_source: str | None = None
	create_source: str | None = None
	created_at: DateTime = None
	updated_at: DateTime = None
	# A date without time, present only while the contact is deleted.
	deleted_at: Date = None
	custom_fields: list[CustomFieldValue] | None = None
	phone_numbers: list[PhoneNumber] | None = None
	street_addresses: list[StreetAddress] | None = None
	list_memberships: StrList = None
	taggings: StrList = None
	notes: list[Note] | None = None

	@property
	def email(self) -> str | None:
		"""The address, trimmed and lower-cased, for matching against site records."""
		ea = self.email_address
		if ea is None or not ea.address:
			return None
		return ea.address.strip().lower() or None

	@property
	def permission(self) -> str | None:
		return self.email_address.permission_to_send if self.email_address else None

	@property
	def is_deleted(self) -> bool:
		return self.deleted_at is not None

	@property
	def is_unsubscribed(self) -> bool:
		return self.permission == Permission.UNSUBSCRIBED


# Parts of a contact that can be left out when unreadable: the rest of the record still applies.
# Anything else (the id, the email address with its consent, the core fields a PUT writes back)
# must be read as sent, or the record is skipped.
SUBRESOURCES = frozenset(
	{"custom_fields", "phone_numbers", "street_addresses", "list_memberships", "taggings", "notes"}
)
SNIPPET_CHARS = 300


@dataclass(frozen=True, slots=True)
class RecordProblem:
	"""A contact CC sent that could not be read whole: skipped, or read without the named parts."""

	contact_id: str | None
	email: str | None
	reason: str
	snippet: str
	skipped: bool


def snippet(raw: Any, limit: int = SNIPPET_CHARS) -> str:
	"""The start of a record as CC sent it, for a log a person reads."""
	try:
		text = json.dumps(raw, default=str, ensure_ascii=False, separators=(",", ":"))
	except (TypeError, ValueError):
		text = repr(raw)
	return text if len(text) <= limit else text[: limit - 1] + "…"


def _describe(error: Any) -> str:
	where = ".".join(str(part) for part in error.get("loc", ())) or "record"
	return f"{where}: {error.get('msg', 'unreadable')}"


def parse_contact(raw: Any) -> tuple[Contact | None, RecordProblem | None]:
	"""One contact as sent by CC: (contact, None), (contact, note of what was left out), or (None, why).

	An unreadable subresource item (`street_addresses: [null]`, a custom-field value that is an
	object) is dropped, and a subresource of the wrong shape (`notes` as a string) is dropped whole:
	the person's consent and the other fields still apply. An unreadable id, email address or core
	field skips the record, since guessing would write something CC never said.
	"""
	if not isinstance(raw, dict):
		reason = f"not a JSON object but {type(raw).__name__}"
		return None, RecordProblem(None, None, reason, snippet(raw), skipped=True)
	contact_id = raw.get("contact_id") if isinstance(raw.get("contact_id"), str) else None
	try:
		return Contact.model_validate(raw), None
	except PydanticValidationError as exc:
		errors = exc.errors()
	email = _raw_address(raw)
	fatal = [e for e in errors if not e.get("loc") or e["loc"][0] not in SUBRESOURCES]
	if fatal:
		reason = "; ".join(_describe(e) for e in fatal[:3])
		return None, RecordProblem(contact_id, email, reason, snippet(raw), skipped=True)
	cleaned = dict(raw)
	drop_items: dict[str, set[int]] = {}
	for error in errors:
		loc = error["loc"]
		field_name = loc[0]
		value = cleaned.get(field_name)
		if len(loc) > 1 and isinstance(loc[1], int) and isinstance(value, list):
			drop_items.setdefault(field_name, set()).add(loc[1])
		else:
			cleaned.pop(field_name, None)
	for field_name, indexes in drop_items.items():
		if field_name in cleaned:
			cleaned[field_name] = [v for i, v in enumerate(cleaned[field_name]) if i not in indexes]
	try:
		contact = Contact.model_validate(cleaned)
	except PydanticValidationError as exc:
		reason = "; ".join(_describe(e) for e in exc.errors()[:3])
		return None, RecordProblem(contact_id, email, reason, snippet(raw), skipped=True)
	reason = "left out what could not be read: " + "; ".join(_describe(e) for e in errors[:5])
	return contact, RecordProblem(contact_id, email, reason, snippet(raw), skipped=False)


def _raw_address(raw: dict[str, Any]) -> str | None:
	email_address = raw.get("email_address")
	if isinstance(email_address, dict):
		address = email_address.get("address")
		return address if isinstance(address, str) else None
	return email_address if isinstance(email_address, str) else None


class ContactPage(CCModel):
	contacts: list[Contact] = Field(default_factory=list)
	contacts_count: OptInt = None
	next_href: str | None = None
	# Records of this page that were skipped or read in part, with the reason and a raw snippet.
	problems: list[RecordProblem] = Field(default_factory=list)

	@model_validator(mode="before")
	@classmethod
	def _lift_links(cls, data: Any) -> Any:
		if isinstance(data, dict) and "_links" in data and "next_href" not in data:
			return {**data, "next_href": link_href(data["_links"])}
		return data

	@model_validator(mode="before")
	@classmethod
	def _read_each_contact(cls, data: Any) -> Any:
		if not isinstance(data, dict) or not isinstance(data.get("contacts"), list):
			return data
		contacts: list[Contact] = []
		problems: list[RecordProblem] = []
		for raw in data["contacts"]:
			if isinstance(raw, Contact):
				contacts.append(raw)
				continue
			contact, problem = parse_contact(raw)
			if contact is not None:
				contacts.append(contact)
			if problem is not None:
				problems.append(problem)
		return {**data, "contacts": contacts, "problems": problems}


class ContactList(CCModel):
	list_id: str | None = None
	name: str | None = None
	description: str | None = None
	favorite: OptBool = None
	created_at: DateTime = None
	updated_at: DateTime = None
	deleted_at: DateTime = None
	membership_count: OptInt = None


class CustomField(CCModel):
	custom_field_id: str | None = None
	label: str | None = None
	# The `cf:<name>` key used by imports; built by CC from the label, read-only.
	name: str | None = None
	type: str | None = None
	metadata: dict[str, Any] | None = None
	version: OptInt = None
	choices: list[dict[str, Any]] | None = None
	created_at: DateTime = None
	updated_at: DateTime = None


class ActivityStatus(CCModel):
	items_total_count: OptInt = None
	items_completed_count: OptInt = None
	person_count: OptInt = None
	error_count: OptInt = None
	correctable_count: OptInt = None
	cannot_add_to_list_count: OptInt = None
	list_count: OptInt = None


class Activity(CCModel):
	activity_id: str | None = None
	state: str | None = None
	created_at: DateTime = None
	started_at: DateTime = None
	completed_at: DateTime = None
	updated_at: DateTime = None
	percent_done: OptInt = None
	source_file_name: str | None = None
	activity_errors: Annotated[list[str], BeforeValidator(_activity_errors)] = Field(default_factory=list)
	status: ActivityStatus | None = None
	self_href: str | None = None
	results_href: str | None = None

	@model_validator(mode="before")
	@classmethod
	def _lift_links(cls, data: Any) -> Any:
		if isinstance(data, dict) and "_links" in data:
			links = data["_links"]
			return {
				**data,
				"self_href": data.get("self_href") or link_href(links, "self"),
				"results_href": data.get("results_href") or link_href(links, "results"),
			}
		return data

	@property
	def is_finished(self) -> bool:
		"""No further state change will come: completed, cancelled, failed or timed out."""
		return self.state in FINISHED_STATES


class TokenSet(CCModel):
	access_token: str
	refresh_token: str | None = None
	expires_at: DateTime = None
	scope: str | None = None
	token_type: str | None = None

	@classmethod
	def from_token_response(cls, body: dict[str, Any], now: datetime) -> TokenSet:
		"""Build from the token endpoint's JSON, turning `expires_in` (seconds) into a UTC instant."""
		expires_in = opt_int(body.get("expires_in"))
		data = {k: v for k, v in body.items() if k != "expires_in"}
		if expires_in is not None:
			data["expires_at"] = now.astimezone(UTC) + timedelta(seconds=expires_in)
		return cls.model_validate(data)

	def expires_within(self, now: datetime, seconds: float) -> bool:
		"""True when the access token expires within `seconds` of `now` (unknown expiry: False)."""
		if self.expires_at is None:
			return False
		return self.expires_at - now <= timedelta(seconds=seconds)
