"""The Constant Contact V3 API client: the endpoints cc_sync uses, and nothing else.

All HTTP goes through `_request`, which paces calls (4/s), counts them (10,000/day), refreshes the
token once on a 401, backs off on `throttled` 429s, 5xx and network errors, stops at once on
`quota_exceeded`, and turns every failure into a typed error from `errors`.

Deliberately absent: `POST /contacts/sign_up_form`. It marks an existing contact as having given
explicit permission, even one that unsubscribed, and revives deleted contacts; a sync must never
re-subscribe anyone. New leads go through `contacts_json_import`, which leaves unsubscribed
contacts unsubscribed.
"""

from __future__ import annotations

import json as jsonlib
import logging
import random
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime, timezone
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import requests
from pydantic import ValidationError as PydanticValidationError

from cc_sync.constant_contact.auth import TokenProvider
from cc_sync.constant_contact.clock import Clock, SystemClock
from cc_sync.constant_contact.errors import (
	AuthError,
	ConstantContactError,
	MalformedResponse,
	QuotaExceeded,
	ServerError,
	Throttled,
	TransportError,
	error_from_response,
)
from cc_sync.constant_contact.export_format import ExportReader, ExportRow
from cc_sync.constant_contact.models import (
	CORE_FIELDS,
	Activity,
	Contact,
	ContactList,
	ContactPage,
	CustomField,
	parse_contact,
)
from cc_sync.constant_contact.ratelimit import DailyBudget, Limiter, RateLimiter

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.cc.email/v3"

MAX_PAGE_SIZE = 500
MAX_CUSTOM_FIELD_PAGE_SIZE = 100
MAX_FILTER_LISTS = 25
MAX_FILTER_TAGS = 50
MAX_IMPORT_CONTACTS = 40_000
# CC silently drops whatever lies past 4 MB of an import body, so refuse instead.
MAX_IMPORT_BYTES = 4 * 1024 * 1024
MAX_ACTIVITY_LISTS = 50
MAX_ACTIVITY_CONTACT_IDS = 500
SEGMENT_POLL_SECONDS = 2.0
SEGMENT_POLL_ATTEMPTS = 30


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


def _csv(value: str | Iterable[str] | None) -> str | None:
	if value is None:
		return None
	if isinstance(value, str):
		return value
	return ",".join(str(v) for v in value)


def _count_csv(value: str | Iterable[str] | None) -> int:
	text = _csv(value)
	return len([v for v in text.split(",") if v.strip()]) if text else 0


def _check_limit(limit: int, maximum: int) -> None:
	if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= maximum:
		raise ValueError(f"limit must be an integer from 1 to {maximum}, got {limit!r}")


def _check_ids(name: str, ids: Sequence[str], maximum: int, minimum: int = 1) -> list[str]:
	if isinstance(ids, str):
		raise TypeError(f"{name} must be a sequence of ids, not a string")
	out = list(ids)
	if not minimum <= len(out) <= maximum:
		raise ValueError(f"{name}: between {minimum} and {maximum} ids allowed, got {len(out)}")
	return out


class ConstantContactClient:
	"""A CC V3 client for one connected account. Not tied to any web framework."""

	def __init__(
		self,
		token_provider: TokenProvider,
		*,
		base_url: str = DEFAULT_BASE_URL,
		session: requests.Session | None = None,
		clock: Clock | None = None,
		limiter: Limiter | None = None,
		budget: DailyBudget | None = None,
		timeout: float | tuple[float, float] = (5, 30),
		max_retries: int = 4,
		backoff_base: float = 1.0,
		backoff_max: float = 60.0,
		rng: random.Random | None = None,
	) -> None:
		self.token_provider = token_provider
		self.base_url = base_url.rstrip("/")
		parts = urlsplit(self.base_url)
		if not parts.scheme or not parts.netloc:
			raise ValueError(f"base_url must be absolute: {base_url!r}")
		# Next-page links are root-relative (`/v3/contacts?cursor=...`), so they join the origin.
		self.origin = f"{parts.scheme}://{parts.netloc}"
		self.session = session or requests.Session()
		self.clock = clock or SystemClock()
		self.limiter = limiter if limiter is not None else RateLimiter(clock=self.clock)
		self.budget = budget
		self.timeout = timeout
		self.max_retries = max_retries
		self.backoff_base = backoff_base
		self.backoff_max = backoff_max
		self.rng = rng or random.Random()
		self.calls = 0

	# ---------------------------------------------------------------- transport

	def _url(self, path_or_url: str) -> str:
		if path_or_url.startswith(("http://", "https://")):
			if not path_or_url.startswith(self.origin + "/"):
				# Never send the bearer token to another host.
				raise MalformedResponse(None, None, f"link points off the API host: {path_or_url}")
			return path_or_url
		if path_or_url.startswith(self.base_url.removeprefix(self.origin) + "/"):
			return urljoin(self.origin, path_or_url)
		return self.base_url + "/" + path_or_url.lstrip("/")

	def _backoff(self, attempt: int) -> float:
		"""Exponential backoff with equal jitter: half fixed, half random."""
		ceiling = min(self.backoff_max, self.backoff_base * (2**attempt))
		return ceiling / 2 + self.rng.random() * ceiling / 2

	def _request(
		self,
		method: str,
		path_or_url: str,
		params: dict[str, Any] | None = None,
		json: Any = None,
		accept_csv: bool = False,
		*,
		retry_unsafe: bool | None = None,
	) -> Any:
		"""Send one API call with pacing, auth, retries and typed errors; return the parsed body.

		`retry_unsafe` says whether the call may be resent when CC may already have acted on it
		(5xx, read timeout, dropped connection). It defaults to True for everything but POST:
		the bulk activity POSTs have no idempotency key, so a blind resend could queue a second
		import. Such failures raise with `may_have_succeeded=True`; the caller checks
		`GET /activities` before submitting again. Connect timeouts and 429s are always resent,
		since CC never saw or never accepted the request.
		"""
		if retry_unsafe is None:
			retry_unsafe = method.upper() != "POST"
		url = self._url(path_or_url)
		clean_params = {k: v for k, v in (params or {}).items() if v is not None} or None
		data, headers = _body_and_headers(json, accept_csv)
		refreshed = False
		attempt = 0
		while True:
			try:
				resp = self._send(method, url, clean_params, data, headers)
			except requests.exceptions.RequestException as exc:
				error, resendable = self._transport_failure(exc, retry_unsafe)
			else:
				if 200 <= resp.status_code < 300:
					return self._parse_success(resp, accept_csv)
				if resp.status_code == 401 and not refreshed:
					# One refresh, then the same call again.
					refreshed = True
					self._token(self.token_provider.refresh, method, url)
					continue
				error, resendable = self._answer_failure(resp, retry_unsafe)
			if resendable and attempt < self.max_retries:
				self._sleep_before_retry(attempt, method, url, error)
				attempt += 1
				continue
			raise error

	def _send(
		self,
		method: str,
		url: str,
		params: dict[str, Any] | None,
		data: bytes | None,
		headers: dict[str, str],
	) -> requests.Response:
		"""One attempt: a token, a turn of the rate limiter, one call counted against the budgets."""
		# The token first: a failed proactive refresh must not count as an API call.
		headers["Authorization"] = f"Bearer {self._token(self.token_provider.access_token, method, url)}"
		self.limiter.acquire()
		if self.budget is not None:
			self.budget.spend()
		self.calls += 1
		return self.session.request(
			method, url, params=params, data=data, headers=headers, timeout=self.timeout
		)

	def _transport_failure(
		self, exc: requests.exceptions.RequestException, retry_unsafe: bool
	) -> tuple[ConstantContactError, bool]:
		"""The typed error for a request that got no answer, and whether it may be sent again."""
		if isinstance(exc, requests.exceptions.ConnectTimeout):
			# The connection never opened, so CC never saw the request: always safe to resend, and
			# not a call spent.
			self._uncount()
			return TransportError(None, "connect_timeout", str(exc)), True
		if isinstance(
			exc,
			(
				requests.exceptions.ConnectionError,
				requests.exceptions.Timeout,
				requests.exceptions.ChunkedEncodingError,
			),
		):
			if _never_connected(exc):
				# Refused or unresolvable: CC never saw it, so it is neither spent nor risky to resend.
				self._uncount()
				return TransportError(None, "unreachable", str(exc)), True
			# Sent, then lost (reset, read timeout, body cut short): CC may have acted on it.
			return TransportError(
				None, "transport", str(exc), may_have_succeeded=not retry_unsafe
			), retry_unsafe
		return TransportError(None, "transport", str(exc), may_have_succeeded=not retry_unsafe), False

	def _answer_failure(
		self, resp: requests.Response, retry_unsafe: bool
	) -> tuple[ConstantContactError, bool]:
		"""The typed error for a non-2xx answer, and whether the call may be sent again."""
		status = resp.status_code
		error = error_from_response(status, resp.text, now=self.clock.now())
		if status == 401:
			# Still refused after a refresh: a person has to reconnect.
			return AuthError(
				status, error.error_key, error.message or "access token rejected", error.body
			), False
		if isinstance(error, QuotaExceeded):
			# The daily quota is gone until 00:00 UTC; retrying only burns time.
			if self.budget is not None:
				self.budget.exhaust()
			return error, False
		if isinstance(error, Throttled):
			# 429 means CC refused the request, so even a POST is safe to resend.
			return error, True
		if isinstance(error, ServerError):
			error.may_have_succeeded = not retry_unsafe
			return error, retry_unsafe
		return error, False

	def _token(self, fetch: Any, method: str, url: str) -> str:
		"""A token from the provider; a throttled token endpoint is waited out like a throttled call.

		A 429 there says nothing about the grant, so it must not end as a broken connection.
		"""
		attempt = 0
		while True:
			try:
				return fetch()
			except Throttled as exc:
				if attempt >= self.max_retries:
					raise
				self._sleep_before_retry(attempt, method, url, exc)
				attempt += 1

	def _uncount(self) -> None:
		"""Take back the call counted for a request that never reached CC."""
		self.calls -= 1
		if self.budget is not None:
			self.budget.refund()

	def _sleep_before_retry(self, attempt: int, method: str, url: str, error: Exception) -> None:
		delay = self._backoff(attempt)
		log.info("CC %s %s failed (%s); retry %d in %.2fs", method, url, error, attempt + 1, delay)
		self.clock.sleep(delay)

	@staticmethod
	def _parse_success(resp: requests.Response, accept_csv: bool) -> Any:
		if accept_csv:
			# utf-8-sig drops the byte-order mark that spreadsheet-oriented exports often carry.
			return resp.content.decode("utf-8-sig", errors="replace")
		if resp.status_code == 204 or not resp.content.strip():
			return None
		try:
			return resp.json()
		except ValueError:
			raise MalformedResponse(
				resp.status_code, None, "response body is not JSON", resp.text[:300] if resp.text else None
			)

	def _iter_pages(self, path: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
		"""Yield each page body, following `_links.next.href` exactly as given until it is absent."""
		url: str = path
		page_params: dict[str, Any] | None = params
		seen: set[str] = set()
		while True:
			body = self._request("GET", url, params=page_params)
			if not isinstance(body, dict):
				raise MalformedResponse(200, None, f"expected a JSON object from {path}", str(body)[:300])
			yield body
			links = body.get("_links")
			nxt = links.get("next") if isinstance(links, dict) else None
			href = nxt.get("href") if isinstance(nxt, dict) else None
			if not href:
				return
			if href in seen:
				raise MalformedResponse(200, None, f"paging loop: {href} came back twice")
			seen.add(href)
			# The cursor carries the filters and limit; adding our own parameters would break it.
			url, page_params = href, None

	@staticmethod
	def _model(cls: type[Any], body: Any) -> Any:
		if not isinstance(body, dict):
			raise MalformedResponse(None, None, f"expected a JSON object for {cls.__name__}", str(body)[:300])
		try:
			return cls.model_validate(body)
		except PydanticValidationError as exc:
			raise MalformedResponse(None, None, f"unexpected {cls.__name__} shape: {exc}", str(body)[:300])

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

	# ---------------------------------------------------------------- contacts

	def iter_contact_pages(
		self,
		*,
		status: str | Sequence[str] | None = None,
		email: str | None = None,
		lists: str | Sequence[str] | None = None,
		segment_id: str | int | None = None,
		tags: str | Sequence[str] | None = None,
		updated_after: datetime | date | str | None = None,
		updated_before: datetime | date | str | None = None,
		created_after: datetime | date | str | None = None,
		created_before: datetime | date | str | None = None,
		optout_after: datetime | date | str | None = None,
		optout_before: datetime | date | str | None = None,
		include: str | Sequence[str] | None = None,
		include_count: bool = False,
		sms_status: str | Sequence[str] | None = None,
		limit: int = MAX_PAGE_SIZE,
	) -> Iterator[ContactPage]:
		"""Page through contacts matching the filters.

		Without `status`, CC hides deleted contacts; pass `status="all"` to see them. Note that
		`updated_after` does not see unsubscribes (they move only `email_address.updated_at`):
		poll those with `status="all", optout_after=...`.

		ref: https://developer.constantcontact.com/api_reference/index.html#!/Contacts/getContacts
		"""
		_check_limit(limit, MAX_PAGE_SIZE)
		if _count_csv(lists) > MAX_FILTER_LISTS:
			raise ValueError(f"lists: at most {MAX_FILTER_LISTS} list ids per query")
		if _count_csv(tags) > MAX_FILTER_TAGS:
			raise ValueError(f"tags: at most {MAX_FILTER_TAGS} tag ids per query")
		dates = {
			"updated_after": updated_after,
			"updated_before": updated_before,
			"created_after": created_after,
			"created_before": created_before,
			"optout_after": optout_after,
			"optout_before": optout_before,
		}
		params: dict[str, Any] = {
			"status": _csv(status),
			"email": email,
			"lists": _csv(lists),
			"tags": _csv(tags),
			"include": _csv(include),
			"sms_status": _csv(sms_status),
			"include_count": "true" if include_count else None,
			**{k: format_cc_datetime(v) for k, v in dates.items() if v is not None},
		}
		if segment_id is not None:
			if any(v is not None for v in params.values()):
				raise ValueError("segment_id can only be combined with limit")
			params = {"segment_id": str(segment_id)}
		params["limit"] = limit

		for body in self._iter_pages("/contacts", params):
			page = self._model(ContactPage, body)
			if segment_id is not None and page.status == "processing" and not page.contacts:
				yield from self._wait_for_segment(params)
				return
			yield page

	def continue_contact_pages(self, next_href: str) -> Iterator[ContactPage]:
		"""Page on from a `next_href` an earlier page gave (its cursor carries the filters and limit).

		ref: https://developer.constantcontact.com/api_reference/index.html#!/Contacts/getContacts
		"""
		for body in self._iter_pages(next_href, {}):
			yield self._model(ContactPage, body)

	def _wait_for_segment(self, params: dict[str, Any]) -> Iterator[ContactPage]:
		# A segment query answers 202 {"status": "processing"} until CC has computed it; the same
		# request is repeated until it returns contacts.
		for _ in range(SEGMENT_POLL_ATTEMPTS):
			self.clock.sleep(SEGMENT_POLL_SECONDS)
			first = self._model(ContactPage, self._request("GET", "/contacts", params=params))
			if first.status == "processing" and not first.contacts:
				continue
			yield first
			if first.next_href:
				for body in self._iter_pages(first.next_href, {}):
					yield self._model(ContactPage, body)
			return
		raise ServerError(202, "processing", "segment still processing after polling")

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
			"GET", f"/contacts/{quote(contact_id, safe='')}", params={"include": _csv(include)}
		)
		return self._contact(body)

	def put_contact(self, contact_id: str, body: dict[str, Any]) -> Contact:
		"""Raw PUT. Core fields missing from `body` are nulled by CC, so send the whole contact.

		ref: https://developer.constantcontact.com/api_reference/index.html#!/Contacts/putContact
		"""
		if not body.get("update_source"):
			raise ValueError("update_source is required on PUT /contacts/{contact_id}")
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
		_check_limit(limit, MAX_PAGE_SIZE)
		params = {
			"include_membership_count": include_membership_count,
			"status": _csv(status),
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

	# ---------------------------------------------------------------- bulk activities

	def import_contacts_json(
		self,
		import_data: list[dict[str, Any]],
		list_ids: Sequence[str],
		*,
		sms_permission_to_send: str | None = None,
	) -> Activity:
		"""Queue a JSON import. New contacts become `implicit`; unsubscribed ones stay out of lists.

		Not retried after a 5xx or a dropped connection (see `_request`).

		ref: https://developer.constantcontact.com/api_reference/index.html#!/Bulk_Activities/bulkImportContactsJSON
		"""
		lists = _check_ids("list_ids", list_ids, MAX_ACTIVITY_LISTS)
		if not 1 <= len(import_data) <= MAX_IMPORT_CONTACTS:
			raise ValueError(
				f"import_data: between 1 and {MAX_IMPORT_CONTACTS} contacts, got {len(import_data)}"
			)
		body: dict[str, Any] = {"import_data": import_data, "list_ids": lists}
		if sms_permission_to_send is not None:
			body["sms_permission_to_send"] = sms_permission_to_send
		size = len(jsonlib.dumps(body, separators=(",", ":")).encode("utf-8"))
		if size >= MAX_IMPORT_BYTES:
			raise ValueError(f"import body is {size} bytes; CC ignores everything past 4 MB")
		return self._model(Activity, self._request("POST", "/activities/contacts_json_import", json=body))

	def remove_list_memberships(self, contact_ids: Sequence[str], list_ids: Sequence[str]) -> Activity:
		"""Queue removing up to 500 contacts from up to 50 lists (this does not unsubscribe them).

		ref: https://developer.constantcontact.com/api_reference/index.html#!/Bulk_Activities/postListRemoveContact
		"""
		body = {
			"source": {"contact_ids": _check_ids("contact_ids", contact_ids, MAX_ACTIVITY_CONTACT_IDS)},
			"list_ids": _check_ids("list_ids", list_ids, MAX_ACTIVITY_LISTS),
		}
		return self._model(Activity, self._request("POST", "/activities/remove_list_memberships", json=body))

	def create_contact_export(
		self,
		*,
		contact_ids: Sequence[str] | None = None,
		list_ids: Sequence[str] | None = None,
		status: str | None = None,
		fields: Sequence[str] | None = None,
	) -> Activity:
		"""Queue a CSV export; with no filter every contact is exported.

		`contact_ids` and `list_ids` exclude each other; `status` combines with either. Ask for
		`email_address` in `fields` to get the email opt-in/opt-out columns.

		ref: https://developer.constantcontact.com/api_reference/index.html#!/Bulk_Activities/postContactsExport
		"""
		if contact_ids is not None and list_ids is not None:
			raise ValueError("contact_ids and list_ids cannot be combined in one export")
		body: dict[str, Any] = {}
		if contact_ids is not None:
			body["contact_ids"] = _check_ids("contact_ids", contact_ids, MAX_ACTIVITY_CONTACT_IDS)
		if list_ids is not None:
			body["list_ids"] = _check_ids("list_ids", list_ids, MAX_ACTIVITY_LISTS)
		if status is not None:
			body["status"] = status
		if fields is not None:
			body["fields"] = list(fields)
		return self._model(Activity, self._request("POST", "/activities/contact_exports", json=body))

	def read_contact_export(self, results_href_or_id: str, reader: ExportReader) -> Iterator[ExportRow]:
		"""A finished export's rows as `Contact`s, read from CC's human-readable headers by `reader`.

		Pass the activity's `results_href` as given (the spec example misspells the path) or the
		bare `file_export_id`.

		ref: https://developer.constantcontact.com/api_reference/index.html#!/Bulk_Activities/getContactsExport
		"""
		yield from reader.rows(self._export_text(results_href_or_id))

	def _export_text(self, results_href_or_id: str) -> str:
		target = results_href_or_id
		if not target.startswith(("/", "http://", "https://")):
			target = f"/contact_exports/{quote(target, safe='')}"
		return self._request("GET", target, accept_csv=True)

	def get_activity(self, activity_id: str) -> Activity:
		"""The state and counters of one bulk activity (kept by CC for 10 days).

		ref: https://developer.constantcontact.com/api_reference/index.html#!/Bulk_Activities/getActivity
		"""
		body = self._request("GET", f"/activities/{quote(activity_id, safe='')}")
		return self._model(Activity, body)

	def iter_activities(self, state: str | None = None, limit: int = 50) -> Iterator[Activity]:
		"""Activities of the last 10 days; used to find an import whose POST outcome is unknown.

		ref: https://developer.constantcontact.com/api_reference/index.html#!/Bulk_Activities/getActivityStatusCollection
		"""
		_check_limit(limit, MAX_PAGE_SIZE)
		for body in self._iter_pages("/activities", {"state": state, "limit": limit}):
			for item in body.get("activities") or []:
				yield self._model(Activity, item)


def _body_and_headers(json: Any, accept_csv: bool) -> tuple[bytes | None, dict[str, str]]:
	"""The encoded JSON body, if any, and the headers every attempt of the call sends."""
	headers = {"Accept": "text/csv" if accept_csv else "application/json"}
	if json is None:
		return None, headers
	# Any body without exactly this content type is answered with 415.
	headers["Content-Type"] = "application/json"
	return jsonlib.dumps(json, separators=(",", ":")).encode("utf-8"), headers


def _unsubscribe_body(contact: Contact, reason: str | None, update_source: str) -> dict[str, Any]:
	"""A ContactPutRequest that keeps every core field of `contact` and opts its address out."""
	body: dict[str, Any] = {name: getattr(contact, name) for name in CORE_FIELDS}
	ea = contact.email_address
	assert ea is not None and ea.address
	email: dict[str, Any] = {"address": ea.address, "permission_to_send": "unsubscribed"}
	if reason is not None:
		email["opt_out_reason"] = reason[:255]
	elif ea.opt_out_reason is not None:
		email["opt_out_reason"] = ea.opt_out_reason
	body["email_address"] = email
	body["update_source"] = update_source
	return {k: v for k, v in body.items() if v is not None}


def _never_connected(exc: BaseException) -> bool:
	"""True when the connection itself failed (refused, DNS), so no byte of the request reached CC."""
	from urllib3.exceptions import NewConnectionError

	seen: set[int] = set()
	stack: list[BaseException | None] = [exc]
	while stack:
		current = stack.pop()
		if current is None or id(current) in seen:
			continue
		seen.add(id(current))
		if isinstance(current, NewConnectionError | ConnectionRefusedError):
			return True
		stack += [getattr(current, "reason", None), current.__cause__, current.__context__]
		stack += [a for a in getattr(current, "args", ()) if isinstance(a, BaseException)]
	return False
