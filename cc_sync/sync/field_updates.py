"""Site-owned fields of people CC already holds reach CC even when no import can carry them.

An import adds every row it carries to its lists (CC requires one to fifty), and the push adds no list
to a contact CC holds (it cannot tell a list they left from one they never joined). So a lead CC holds
whose push may use no list (the mapping is push-only, they left the list in CC, or left its group) has
its site-owned fields written with a read-modify-write `PUT /contacts/{id}` instead: CC's core fields
with the site's values over them (a PUT nulls every core field it is not sent), the phone, address and
custom-field entries it changes merged into CC's own, and the email address without a permission (the
PUT never writes consent) and without list memberships (the PUT leaves subresources it is not sent
alone). A contact deleted in CC, or unsubscribed there, is left alone: a PUT would revive a deleted one.

Two calls a person (the read and the PUT; none when CC holds the values already), so a run sends at
most `SyncConfig.field_update_max` of them; the rest stay Pending and the next push looks again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cc_sync.constant_contact.errors import (
	AuthError,
	ConstantContactError,
	QuotaExceeded,
	Throttled,
	TransportError,
)
from cc_sync.constant_contact.models import CORE_FIELDS, Contact, Permission
from cc_sync.sync.context import RunContext
from cc_sync.sync.fieldmap import FieldRule, _empty, _same, in_cc_form
from cc_sync.sync.matching import normalise_email
from cc_sync.sync.records import PushOutcome, PushStatus
from cc_sync.sync.streams import STREAM_PUSH

SENT = "site-owned fields sent to CC (its permission and lists untouched)"
HELD = "in CC already, with the site-owned values"
NOTHING_OWN = "in CC already; every field edited here is CC's (nothing of the site's own to send)"
INCLUDE = ["custom_fields", "phone_numbers", "street_addresses"]


@dataclass
class FieldUpdate:
	"""One person CC holds whose site-owned values go by PUT; every lead of the address follows it."""

	email: str
	cc_contact_id: str | None
	values: dict[str, Any]
	keys: list[str] = field(default_factory=list)


def site_owned_values(fields: Mapping[str, Any], rules: Iterable[FieldRule]) -> dict[str, Any]:
	"""The site's non-empty values of the fields the site owns, by CC field name."""
	out: dict[str, Any] = {}
	for rule in rules:
		value = fields.get(rule.site_field)
		if rule.owner == "site" and not _empty(value):
			out[rule.cc_field] = value.strip() if isinstance(value, str) else value
	return out


def send(ctx: RunContext, updates: list[FieldUpdate], now: Any) -> list[PushOutcome]:
	"""Write each person's site-owned values into CC (at most `field_update_max` this run); returns the
	outcomes of their leads. A failure that concerns one person fails their leads only."""
	report = ctx.report.stream(STREAM_PUSH)
	limit = ctx.config.field_update_max
	outcomes: list[PushOutcome] = []
	cf_ids: dict[str, str] | None = None
	for n, update in enumerate(updates):
		if n >= limit:
			reason = f"waiting: at most {limit} field updates go to CC in one run; sent by the next push"
			outcomes.extend(PushOutcome(k, PushStatus.PENDING, reason, at=now) for k in update.keys)
			continue
		if ctx.dry_run:
			report.pushed += 1
			report.plan.append(
				{"action": "update in CC", "email": update.email, "fields": sorted(update.values)}
			)
			continue
		if cf_ids is None:
			cf_ids = {name: cf_id for cf_id, name in ctx.cf_names().items()}
		try:
			status, reason, cc_id = _send_one(ctx, update, cf_ids)
		except (AuthError, QuotaExceeded, Throttled, TransportError):
			raise
		except ConstantContactError as exc:
			status, reason, cc_id = PushStatus.FAILED, f"CC did not take the field update: {exc}", None
			report.fail(update.email, reason)
		if status == PushStatus.PUSHED and reason == SENT:
			report.pushed += 1
		elif status == PushStatus.PUSHED:
			report.unchanged += 1
		elif status == PushStatus.SKIPPED:
			report.skip(update.email, reason)
		outcomes.extend(
			PushOutcome(k, status, reason, cc_contact_id=cc_id or update.cc_contact_id, at=now)
			for k in update.keys
		)
	return outcomes


def _send_one(
	ctx: RunContext, update: FieldUpdate, cf_ids: Mapping[str, str]
) -> tuple[PushStatus, str, str | None]:
	contact = _find(ctx, update)
	if contact is None:
		return PushStatus.SKIPPED, "no longer in CC: nothing to update there", None
	email_address = contact.email_address
	if contact.deleted_at is not None:
		return PushStatus.SKIPPED, "deleted in CC: never pushed (a PUT would revive it)", contact.contact_id
	if email_address is None or email_address.permission_to_send == Permission.UNSUBSCRIBED:
		return PushStatus.SKIPPED, "unsubscribed in CC: nothing sent", contact.contact_id
	body, unknown = put_body(contact, update.values, cf_ids)
	for name in unknown:
		ctx.report.stream(STREAM_PUSH).warn(update.email, f"CC has no custom field {name!r}: not sent")
	if body is None:
		return PushStatus.PUSHED, HELD, contact.contact_id
	ctx.client.put_contact(contact.contact_id, body)
	return PushStatus.PUSHED, SENT, contact.contact_id


def _find(ctx: RunContext, update: FieldUpdate) -> Contact | None:
	"""CC's copy of the person, with the subresources a PUT may have to merge into."""
	if update.cc_contact_id:
		try:
			contact = ctx.client.get_contact(update.cc_contact_id, include=INCLUDE)
		except ConstantContactError as exc:
			if getattr(exc, "status", None) != 404:
				raise
			contact = None
		if contact is not None and contact.email == update.email:
			return contact
	for contact in ctx.client.iter_contacts(email=update.email, status="all", include=INCLUDE, limit=1):
		if normalise_email(contact.email) == update.email:
			return contact
	return None


def put_body(
	contact: Contact, values: Mapping[str, Any], cf_ids: Mapping[str, str]
) -> tuple[dict[str, Any] | None, list[str]]:
	"""The PUT that sets `values` (by CC field name) on CC's copy and keeps everything else; None when
	CC holds them already. Also returns the custom field names CC does not have."""
	body: dict[str, Any] = {name: getattr(contact, name) for name in CORE_FIELDS}
	phones = [{"kind": p.kind, "phone_number": p.phone_number} for p in contact.phone_numbers or ()]
	addresses = [
		{k: getattr(a, k) for k in ("kind", "street", "city", "state", "postal_code", "country")}
		for a in contact.street_addresses or ()
	]
	customs = [{"custom_field_id": c.custom_field_id, "value": c.value} for c in contact.custom_fields or ()]
	touched: set[str] = set()
	unknown: list[str] = []
	for cc_field, value in values.items():
		if cc_field in CORE_FIELDS:
			if cc_field.startswith("birthday_") and isinstance(value, str) and value.isdigit():
				value = int(value)
			if not _same(body.get(cc_field), value):
				body[cc_field] = value
				touched.add("core")
		elif cc_field.startswith("phone:"):
			if _set_entry(phones, {"kind": cc_field[6:]}, "phone_number", value):
				touched.add("phone_numbers")
		elif cc_field.startswith("address:"):
			kind, _, part = cc_field[8:].partition(".")
			if _set_entry(addresses, {"kind": kind}, part, in_cc_form(cc_field, value)):
				touched.add("street_addresses")
		elif cc_field.startswith("cf:"):
			cf_id = cf_ids.get(cc_field[3:])
			if cf_id is None:
				unknown.append(cc_field[3:])
			elif _set_entry(customs, {"custom_field_id": cf_id}, "value", str(value)):
				touched.add("custom_fields")
	if not touched:
		return None, unknown
	if "birthday_month" in values or "birthday_day" in values:
		# CC takes the two together or neither.
		if body.get("birthday_month") is None or body.get("birthday_day") is None:
			body["birthday_month"] = body["birthday_day"] = None
	out = {k: v for k, v in body.items() if v is not None}
	out["email_address"] = {"address": contact.email_address.address}
	out["update_source"] = "Account"
	for name, entries in (
		("phone_numbers", phones),
		("street_addresses", addresses),
		("custom_fields", customs),
	):
		if name in touched:
			out[name] = entries
	return out, unknown


def _set_entry(entries: list[dict[str, Any]], match: dict[str, Any], key: str, value: Any) -> bool:
	"""Set `key` on the entry matching `match` (a new entry when none does); True when it changed."""
	for entry in entries:
		if all(entry.get(k) == v for k, v in match.items()):
			if _same(entry.get(key), value):
				return False
			entry[key] = value
			return True
	entries.append({**match, key: value})
	return True
