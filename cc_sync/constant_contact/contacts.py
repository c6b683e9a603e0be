"""The contact endpoints: reading contacts page by page, one contact, an opt-out, lists, custom fields.

Deliberately absent: `POST /contacts/sign_up_form`. It marks an existing contact as having given
explicit permission, even one that unsubscribed, and revives deleted contacts; a sync must never
re-subscribe anyone. The only write to a contact is an opt-out (`unsubscribe_contact`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from datetime import date, datetime, timezone
from typing import Any
from urllib.parse import quote

from cc_sync.constant_contact.errors import MalformedResponse
from cc_sync.constant_contact.models import (
	CORE_FIELDS,
	Contact,
	ContactList,
	ContactPage,
	CustomField,
	Permission,
	parse_contact,
)
from cc_sync.constant_contact.params import check_limit, csv_param
from cc_sync.constant_contact.transport import MAX_PAGE_SIZE, Transport

log = logging.getLogger(__name__)

MAX_CUSTOM_FIELD_PAGE_SIZE = 100
# CC's `lists` filter takes at most this many list ids.
MAX_FILTER_LISTS = 25


def format_cc_datetime(value: datetime | date | str) -> str:
	"""UTC `YYYY-MM-DDTHH:MM:SS.fffZ`, the form CC's own examples use for date filters.

	Naive datetimes are refused: a site's local time taken for UTC would shift every watermark.
	"""
	if isinstance(value, str):
		return value
	if isinstance(value, datetime):
		if value.tzinfo is None or value.utcoffset() is None:
			raise ValueError(f"naive datetime {value!r}: pass a timezone-aware datetime")
		utc = value.astimezone(timezone.utc)
		return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
	if isinstance(value, date):
		return f"{value.isoformat()}T00:00:00.000Z"
	raise TypeError(f"not a date or datetime: {value!r}")


class ContactsAPI(Transport):
	"""The contact, list and custom-field endpoints."""

	@staticmethod
	def _contact(body: Any) -> Contact:
		"""One contact, read as tolerantly as a page reads each of its contacts."""
		contact, problem = parse_contact(body)
		if contact is None:
			assert problem is not None
			raise MalformedResponse(None, None, f"unreadable contact: {problem.reason}", problem.snippet)
		if problem is not None:
			# The raw record (personal data) goes to the sync log the site keeps, not to the worker's log.
			log.warning("CC contact %s: %s", problem.contact_id, problem.reason)
		return contact

	def iter_contact_pages(
		self,
		*,
		status: str | Sequence[str] | None = None,
		email: str | None = None,
		lists: Sequence[str] | None = None,
		updated_after: datetime | date | str | None = None,
		updated_before: datetime | date | str | None = None,
		created_after: datetime | date | str | None = None,
		created_before: datetime | date | str | None = None,
		optout_after: datetime | date | str | None = None,
		include: str | Sequence[str] | None = None,
		include_count: bool = False,
		limit: int = MAX_PAGE_SIZE,
	) -> Iterator[ContactPage]:
		"""Page through contacts matching the filters (those the sync uses; CC offers more).

		Without `status`, CC hides deleted contacts; pass `status="all"` to see them. Note that
		`updated_after` does not see unsubscribes (they move only `email_address.updated_at`):
		poll those with `status="all", optout_after=...`. `lists` selects the members of any of up to
		25 lists (a newly mapped list's fill).

		ref: https://developer.constantcontact.com/api_reference/index.html#!/Contacts/getContacts
		"""
		check_limit(limit, MAX_PAGE_SIZE)
		if lists is not None and not 1 <= len(lists) <= MAX_FILTER_LISTS:
			raise ValueError(f"lists: 1 to {MAX_FILTER_LISTS} list ids per query, got {len(lists)}")
		dates = {
			"updated_after": updated_after,
			"updated_before": updated_before,
			"created_after": created_after,
			"created_before": created_before,
			"optout_after": optout_after,
		}
		params: dict[str, Any] = {
			"status": csv_param(status),
			"email": email,
			"lists": csv_param(lists),
			"include": csv_param(include),
			"include_count": "true" if include_count else None,
			**{k: format_cc_datetime(v) for k, v in dates.items() if v is not None},
			"limit": limit,
		}
		for body in self._iter_pages("/contacts", params):
			yield self._model(ContactPage, body)

	def continue_contact_pages(self, next_href: str) -> Iterator[ContactPage]:
		"""Page on from a `next_href` an earlier page gave (its cursor carries the filters and limit).

		ref: https://developer.constantcontact.com/api_reference/index.html#!/Contacts/getContacts
		"""
		for body in self._iter_pages(next_href, {}):
			yield self._model(ContactPage, body)

	def iter_contacts(self, **filters: Any) -> Iterator[Contact]:
		"""Every contact matching the filters of `iter_contact_pages`, across all pages.

		ref: https://developer.constantcontact.com/api_reference/index.html#!/Contacts/getContacts
		"""
		for page in self.iter_contact_pages(**filters):
			yield from page.contacts

	def get_contact(self, contact_id: str, include: str | Sequence[str] | None = None) -> Contact:
		"""One contact by id (404 → NotFound).

		ref: https://developer.constantcontact.com/api_reference/index.html#!/Contacts/getContact
		"""
		body = self._request(
			"GET", f"/contacts/{quote(contact_id, safe='')}", params={"include": csv_param(include)}
		)
		return self._contact(body)

	def put_contact(self, contact_id: str, body: dict[str, Any]) -> Contact:
		"""Raw PUT. Core fields missing from `body` are nulled by CC, so send the whole contact.

		ref: https://developer.constantcontact.com/api_reference/index.html#!/Contacts/putContact
		"""
		if not body.get("update_source"):
			raise ValueError("update_source is required on PUT /contacts/{contact_id}")
		body = fit_put_text(contact_id, body)
		result = self._request("PUT", f"/contacts/{quote(contact_id, safe='')}", json=body)
		return self._contact(result)

	def unsubscribe_contact(
		self, contact_id: str, *, reason: str | None = None, update_source: str = "Account"
	) -> Contact:
		"""Opt the contact's email address out, keeping every other core field.

		An already unsubscribed contact is returned without a PUT, so the original opt-out
		(date, source) is never disturbed. `update_source="Contact"` only when the person asked
		for the opt-out themselves.

		ref: https://developer.constantcontact.com/api_reference/index.html#!/Contacts/putContact
		"""
		contact = self.get_contact(contact_id)
		if contact.email_address is None or not contact.email_address.address:
			raise ValueError(f"contact {contact_id} has no email address to unsubscribe")
		if contact.is_unsubscribed:
			return contact
		return self.put_contact(contact_id, _unsubscribe_body(contact, reason, update_source))

	# ---------------------------------------------------------------- lists and custom fields

	def get_contact_lists(
		self,
		include_membership_count: str | None = None,
		status: str | Sequence[str] | None = None,
		limit: int = MAX_PAGE_SIZE,
	) -> list[ContactList]:
		"""Every contact list (small collection, no date filter: always fetched whole).

		ref: https://developer.constantcontact.com/api_reference/index.html#!/Contact_Lists/getLists
		"""
		# The spec's text says 1-500 while its schema says 1000; stay inside both.
		check_limit(limit, MAX_PAGE_SIZE)
		params = {
			"include_membership_count": include_membership_count,
			"status": csv_param(status),
			"limit": limit,
		}
		out: list[ContactList] = []
		for body in self._iter_pages("/contact_lists", params):
			out.extend(self._model(ContactList, item) for item in body.get("lists") or [])
		return out

	def get_custom_fields(self) -> list[CustomField]:
		"""All custom fields; imports address them as `cf:<name>` (not the label).

		ref: https://developer.constantcontact.com/api_reference/index.html#!/Contacts_Custom_Fields/getCustomFields
		"""
		out: list[CustomField] = []
		for body in self._iter_pages("/contact_custom_fields", {"limit": MAX_CUSTOM_FIELD_PAGE_SIZE}):
			out.extend(self._model(CustomField, item) for item in body.get("custom_fields") or [])
		return out


# ContactPutRequest's maxLength for each name field: CC refuses the whole PUT (400) for one value past it.
PUT_TEXT_LIMITS = {"first_name": 50, "last_name": 50, "job_title": 50, "company_name": 50}


def fit_put_text(contact_id: str, body: dict[str, Any]) -> dict[str, Any]:
	"""`body` with each name field cut to CC's own limit.

	A PUT echoes what CC holds: should CC hold a value longer than its PUT accepts, the refused PUT would
	keep an opt-out (or a site edit) from ever reaching CC, so the value is cut instead.
	"""
	fitted = dict(body)
	for name, limit in PUT_TEXT_LIMITS.items():
		value = fitted.get(name)
		if isinstance(value, str) and len(value) > limit:
			fitted[name] = value[:limit]
			log.warning("contact %s: %s cut to CC's %d characters for the PUT", contact_id, name, limit)
	return fitted


def _unsubscribe_body(contact: Contact, reason: str | None, update_source: str) -> dict[str, Any]:
	"""A ContactPutRequest that keeps every core field of `contact` and opts its address out."""
	body: dict[str, Any] = {name: getattr(contact, name) for name in CORE_FIELDS}
	ea = contact.email_address
	assert ea is not None and ea.address
	email: dict[str, Any] = {"address": ea.address, "permission_to_send": Permission.UNSUBSCRIBED.value}
	if reason is not None:
		email["opt_out_reason"] = reason[:255]
	elif ea.opt_out_reason is not None:
		email["opt_out_reason"] = ea.opt_out_reason
	body["email_address"] = email
	body["update_source"] = update_source
	return {k: v for k, v in body.items() if v is not None}
