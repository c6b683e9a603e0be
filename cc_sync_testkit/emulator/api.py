"""The HTTP-shaped surface of the emulator: `handle(method, url, headers, body)` and every endpoint.

The core knows no transport. `responses_mount` and `server` adapt it to `responses` and to a real
Werkzeug server; both turn `EmulatedTimeout` into their own notion of a timeout.
"""

from __future__ import annotations

import base64
import json
import re
from collections import deque
from collections.abc import Callable, Mapping
from datetime import timedelta, timezone
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit
from zoneinfo import ZoneInfo

from cc_sync.constant_contact.clock import Clock
from cc_sync.constant_contact.normalise import cc_address_part

from .auth import TokenAuthority
from .campaigns import CampaignsMixin, needed_scope
from .exports import ExportsMixin
from .faults import EmulatedTimeout, FaultConfig
from .state import (
	CORE_FIELDS,
	INCLUDES,
	MAX_LISTS_PER_CONTACT,
	PERMISSIONS,
	STATUSES,
	AccountState,
	contact_status,
	format_ts,
	parse_ts,
	valid_email,
)

API_PREFIX = "/v3"
AUTH_PREFIX = "/oauth2/default/v1"
IMPORT_MAX_BYTES = 4 * 1024 * 1024
IMPORT_MAX_ROWS = 40_000
QUEUE_CAP = 1000
ACTIVITY_RETENTION = timedelta(days=10)
IMPORT_ERROR_MODES = ("named", "counts")
PENDING = ("initialized", "processing")
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
OPTOUT_AFTER_MODES = ("filters", "ignored", "empty")

# JSON import keys: phones by kind, and the address parts of each address kind (plain = home).
IMPORT_CORE = ("first_name", "last_name", "job_title", "company_name", "anniversary")
IMPORT_PHONES = {
	"phone": "other",
	"home_phone": "home",
	"work_phone": "work",
	"mobile_phone": "mobile",
	"other_phone": "other",
}
IMPORT_ADDRESS_PREFIXES = {"": "home", "home_": "home", "work_": "work", "other_": "other"}
IMPORT_ADDRESS_PARTS = {
	"street": "street",
	"street2": "street2",
	"city": "city",
	"state": "state",
	"zip": "postal_code",
	"country": "country",
}

Response = tuple[int, dict[str, str], bytes]


class ApiError(Exception):
	"""An error answer. CC's general shape is an array of {error_key, error_message}; 401/429 are single."""

	def __init__(self, status: int, key: str, message: str, *, single: bool = False) -> None:
		super().__init__(message)
		self.status = status
		self.key = key
		self.message = message
		self.single = single

	def response(self) -> Response:
		item = {"error_key": self.key, "error_message": self.message}
		headers = {"Content-Type": "application/json"}
		if self.status == 401:
			headers["WWW-Authenticate"] = "Bearer realm=api.cc.email"
		return self.status, headers, json.dumps(item if self.single else [item]).encode()


def _invalid(message: str) -> ApiError:
	return ApiError(400, "contacts.api.validation.error", message)


class _Raw:
	def __init__(self, status: int, content_type: str, body: bytes) -> None:
		self.status, self.content_type, self.body = status, content_type, body


def _encode_cursor(params: Mapping[str, str], pos: int) -> str:
	"""Opaque like CC's (base64 of `limit=..&next=..`), and carrying every filter of the first request."""
	return base64.urlsafe_b64encode(urlencode({**params, "next": pos}).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[dict[str, str], int]:
	try:
		raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
		params = {k: v[-1] for k, v in parse_qs(raw, keep_blank_values=True).items()}
		pos = int(params.pop("next"))
	except (ValueError, KeyError, UnicodeDecodeError):
		raise ApiError(400, "http.status.bad_request", "The cursor is invalid.")
	return params, pos


def _limit(params: Mapping[str, str], default: int, maximum: int) -> int:
	raw = params.get("limit")
	if raw is None or raw == "":
		return default
	try:
		value = int(raw)
	except ValueError:
		raise _invalid(f"limit must be an integer between 1 and {maximum}")
	if not 1 <= value <= maximum:
		raise _invalid(f"limit must be an integer between 1 and {maximum}")
	return value


def _csv(params: Mapping[str, str], key: str) -> list[str]:
	raw = params.get(key) or ""
	return [part.strip() for part in raw.split(",") if part.strip()]


def _bool(params: Mapping[str, str], key: str) -> bool:
	return (params.get(key) or "").lower() == "true"


def _bound(params: Mapping[str, str], key: str) -> tuple[str, bool] | None:
	"""A date filter as (whole-second wire string, had a fraction): stored stamps are whole seconds."""
	raw = params.get(key)
	if not raw:
		return None
	try:
		when = parse_ts(raw)
	except ValueError:
		raise _invalid(f"{key} must be an ISO-8601 date-time")
	return format_ts(when), bool(when.microsecond)


def _after(field: str, bound: tuple[str, bool]) -> Callable[[Mapping[str, Any]], bool]:
	# Both bounds are exclusive (CC leaves this undocumented): the harsher choice for a client that
	# advances a watermark without an overlap window.
	text = bound[0]
	return lambda r: r[field] is not None and r[field] > text


def _before(field: str, bound: tuple[str, bool]) -> Callable[[Mapping[str, Any]], bool]:
	text, fraction = bound
	if fraction:
		return lambda r: r[field] is not None and r[field] <= text
	return lambda r: r[field] is not None and r[field] < text


class ConstantContactEmulator(CampaignsMixin, ExportsMixin, AccountState):
	"""A stateful emulator of the CC V3 endpoints cc_sync uses, with CC's real quirks and limits.

	Switches: `rate_limit` (requests per 1 s window, None = off), `daily_quota` (None = off),
	`require_auth`, `activity_steps` (polls until an activity completes), `activity_seconds` (or clock
	time until it completes), `oversize_import` ("truncate" as CC does, or "reject"), `faults`.

	Where CC's behaviour is uncertain, a switch picks it:
	- `optout_after`: "filters" (as the reference documents), "ignored" (the filter has no effect, as
	  CC support's "the API is not able to retrieve opt outs from after a certain date" would mean), or
	  "empty" (such a query returns no contacts at all);
	- `refresh_tokens`: "rotating" (each refresh invalidates the old token) or "long_lived" (the same
	  refresh token comes back unchanged, as recorded for long-lived tokens);
	- `normalise_addresses`: CC rewrites `CA` to `California`, `US` to `United States` on write
	  (recorded); off stores addresses as sent;
	- `export_tz`: the account's time zone, in which export CSV dates are written;
	- `import_errors`: "named" writes a per-row message naming the address into an import's
	  `activity_errors`; "counts" leaves them out and reports only `error_count` (CC support says the API
	  does not list per-contact import errors; whether `activity_errors` ever names addresses is unknown);
	- `count_header_row`: an import's `items_total_count` counts a header row, as CC documents (on by
	  default), so it is one more than the rows sent.

	Recorded CC behaviour it follows without a switch: entries of `GET /activities` carry no activity type
	and a `_links.self.href` that does not lead to the entry; `GET /activities/{id}` answers 404 once the
	activity is older than CC's retention (10 days), as the list already forgets it.
	"""

	def __init__(
		self,
		clock: Clock | None = None,
		*,
		seed: int = 0,
		rate_limit: int | None = 4,
		daily_quota: int | None = 10_000,
		access_token_ttl: float = 86400.0,
		activity_steps: int = 2,
		activity_seconds: float | None = None,
		require_auth: bool = True,
		client_id: str = "cc-sync-emulator-client",
		client_secret: str = "cc-sync-emulator-secret",
		redirect_uris: list[str] | None = None,
		faults: FaultConfig | None = None,
		oversize_import: str = "truncate",
		optout_after: str = "filters",
		refresh_tokens: str = "rotating",
		normalise_addresses: bool = True,
		export_tz: str = "America/New_York",
		import_errors: str = "named",
		count_header_row: bool = True,
	) -> None:
		super().__init__(clock, seed=seed)
		if optout_after not in OPTOUT_AFTER_MODES:
			raise ValueError(f"optout_after must be one of {OPTOUT_AFTER_MODES}")
		if import_errors not in IMPORT_ERROR_MODES:
			raise ValueError(f"import_errors must be one of {IMPORT_ERROR_MODES}")
		self.auth = TokenAuthority(
			self.clock,
			client_id=client_id,
			client_secret=client_secret,
			redirect_uris=redirect_uris,
			access_token_ttl=access_token_ttl,
			refresh_tokens=refresh_tokens,
		)
		self.optout_after = optout_after
		self.normalise_addresses = normalise_addresses
		self.export_tz = ZoneInfo(export_tz)
		self.faults = faults or FaultConfig(seed=seed)
		self.rate_limit = rate_limit
		self.daily_quota = daily_quota
		self.require_auth = require_auth
		self.activity_steps = activity_steps
		self.activity_seconds = activity_seconds
		self.oversize_import = oversize_import
		self.import_errors = import_errors
		self.count_header_row = count_header_row
		self.calls = 0
		self.calls_today = 0
		self.call_log: list[tuple[str, str, str]] = []
		self.throttled = 0
		self.sign_up_form_calls = 0
		self.put_resubscribes = 0
		self.import_truncations = 0
		self._quota_day: str | None = None
		self._window: deque[float] = deque()
		self._activities: dict[str, dict[str, Any]] = {}
		self._count_cache: dict[tuple[str, int], int] = {}
		self._init_campaigns()
		self._routes = self._build_routes()

	# -- conveniences for tests -------------------------------------------------------------------------

	@property
	def client_id(self) -> str:
		return self.auth.client_id

	@property
	def client_secret(self) -> str:
		return self.auth.client_secret

	def issue_tokens(self, scope: str = "contact_data offline_access") -> tuple[str, str]:
		"""A fresh (access, refresh) pair, as after a completed authorization."""
		with self._lock:
			return self.auth.issue_tokens(scope)

	def expire_access_tokens(self) -> None:
		with self._lock:
			self.auth.expire_access_tokens()

	def inject(self, kind: str | int, count: int = 1, path_prefix: str | None = None) -> None:
		"""Queue deterministic faults for the next matching requests (see `FaultConfig.inject`)."""
		with self._lock:
			self.faults.inject(kind, count, path_prefix)

	def calls_to(self, path_prefix: str, method: str | None = None) -> int:
		"""How many API calls hit paths starting with `path_prefix` (e.g. "/v3/contacts/sign_up_form")."""
		return sum(
			1 for m, p, _ in self.call_log if p.startswith(path_prefix) and (method is None or m == method)
		)

	def activity(self, activity_id: str) -> dict[str, Any]:
		"""An activity's current JSON, without counting as a poll."""
		with self._lock:
			return self._activity_json(self._activities[activity_id])

	@property
	def activities(self) -> list[dict[str, Any]]:
		with self._lock:
			return [self._activity_json(a) for a in self._activities.values()]

	def complete_activities(self) -> None:
		"""Finish every queued activity now, in creation order."""
		with self._lock:
			for act in list(self._activities.values()):
				if act["state"] in PENDING:
					self._complete(act)

	# -- transports ----------------------------------------------------------------------------------

	def mount(
		self,
		rsps: Any,
		api_base: str = "https://api.cc.email/v3",
		auth_base: str = "https://authz.constantcontact.com/oauth2/default/v1",
	) -> None:
		"""Register this emulator on a `responses.RequestsMock` for both hosts."""
		from .responses_mount import mount

		mount(self, rsps, api_base, auth_base)

	def mocked(
		self,
		api_base: str = "https://api.cc.email/v3",
		auth_base: str = "https://authz.constantcontact.com/oauth2/default/v1",
	) -> Any:
		"""`with emu.mocked() as rsps:` runs the block with `requests` routed to this emulator."""
		from .responses_mount import mocked

		return mocked(self, api_base, auth_base)

	@property
	def wsgi_app(self) -> Any:
		from .server import EmulatorApp

		return EmulatorApp(self)

	def start_server(self, host: str = "127.0.0.1", port: int = 0, quiet: bool = True) -> Any:
		"""Serve over HTTP in a background thread (port 0 picks a free port); call `.stop()` after."""
		from .server import EmulatorServer

		return EmulatorServer(self, host, port, quiet).start()

	def serve(self, host: str = "127.0.0.1", port: int = 8765, quiet: bool = False) -> None:
		"""Serve over HTTP in the foreground, loopback only."""
		from .server import serve

		serve(self, host, port, quiet)

	# -- the core entry point -------------------------------------------------------------------------

	def handle(self, method: str, url: str, headers: Mapping[str, str], body: bytes | None) -> Response:
		"""Answer one request: (status, headers, body). Raises `EmulatedTimeout` for injected timeouts."""
		if isinstance(body, str):
			body = body.encode()
		with self._lock:
			self._tick()
			parts = urlsplit(url)
			path = parts.path or "/"
			lower = {k.lower(): v for k, v in headers.items()}
			if path.startswith(AUTH_PREFIX + "/"):
				return self._handle_auth(method.upper(), path, parts.query, lower, body)
			status, out_headers, out_body = self._handle_api(method.upper(), path, parts.query, lower, body)
			# CC dates every answer by its own clock, in whole seconds.
			return (
				status,
				{
					**out_headers,
					"Date": format_datetime(self.clock.now().astimezone(timezone.utc), usegmt=True),
				},
				out_body,
			)

	def _handle_auth(
		self, method: str, path: str, query: str, headers: dict[str, str], body: bytes | None
	) -> Response:
		fault = self.faults.pick(method, path)
		if fault in ("500", "503"):
			return ApiError(int(fault), "server_error", "Service unavailable.", single=True).response()
		if fault in ("timeout", "connect_timeout"):
			raise EmulatedTimeout(connect=fault == "connect_timeout")
		endpoint = path[len(AUTH_PREFIX) :]
		if endpoint == "/authorize" and method == "GET":
			return self.auth.authorize({k: v[-1] for k, v in parse_qs(query).items()})
		if endpoint == "/token" and method == "POST":
			return self.auth.token(headers, body)
		return 404, {"Content-Type": "application/json"}, b'{"error":"not_found"}'

	def _handle_api(
		self, method: str, path: str, query: str, headers: dict[str, str], body: bytes | None
	) -> Response:
		fault = self.faults.pick(method, path)
		if fault == "connect_timeout":
			raise EmulatedTimeout(connect=True)  # never reached the server: not counted, not applied
		self.calls += 1
		self.call_log.append((method, path, query))
		try:
			self._meter()
			if self.require_auth:
				auth = headers.get("authorization", "")
				token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
				if not self.auth.access_valid(token):
					# CC quirk: 401 is a single object, not the usual array.
					raise ApiError(401, "unauthorized", "Unauthorized", single=True)
				scope = needed_scope(path)
				if scope and scope not in self.auth.scopes(token):
					raise ApiError(
						403,
						"unauthorized",
						f"Forbidden request. The access token lacks the {scope} scope this endpoint needs.",
					)
			if fault == "500":
				raise ApiError(500, "server_error", "There was a problem with our internal service.")
			if fault == "503":
				raise ApiError(503, "service_unavailable", "Our internal service is temporarily unavailable.")
			if fault == "timeout" and not (method in WRITE_METHODS and self.faults.applied_before_timeout):
				raise EmulatedTimeout(connect=False)
			response = self._dispatch(method, path, query, headers, body)
		except ApiError as err:
			return err.response()
		if fault == "timeout":
			raise EmulatedTimeout(connect=False, response=response)
		if fault == "malformed":
			status, out_headers, out_body = response
			return status, out_headers, out_body[: max(1, len(out_body) // 2)]
		return response

	def _meter(self) -> None:
		"""The per-second throttle and the daily budget, on the emulator clock."""
		if self.rate_limit is not None:
			t = self.clock.monotonic()
			window = self._window
			while window and window[0] <= t - 1.0:
				window.popleft()
			if len(window) >= self.rate_limit:
				self.throttled += 1
				raise ApiError(429, "throttled", "Too Many Requests", single=True)
			window.append(t)
		day = self.clock.now().date().isoformat()  # CC quirk: the budget resets at 00:00 UTC
		if day != self._quota_day:
			self._quota_day = day
			self.calls_today = 0
		if self.daily_quota is not None and self.calls_today >= self.daily_quota:
			raise ApiError(429, "quota_exceeded", "Limit Exceeded", single=True)
		self.calls_today += 1

	def _dispatch(
		self, method: str, path: str, query: str, headers: dict[str, str], body: bytes | None
	) -> Response:
		params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
		path_matched = False
		for route_method, pattern, handler in self._routes:
			match = pattern.fullmatch(path)
			if match is None:
				continue
			path_matched = True
			if route_method != method:
				continue
			payload: Any = None
			if method in ("POST", "PUT"):
				content_type = headers.get("content-type", "")
				if "application/json" not in content_type.lower():
					# CC quirk: a body without application/json is refused with 415.
					raise ApiError(
						415,
						"http.status.unsupported_media_type",
						f"Content type '{content_type or 'none'}' not supported.",
					)
				try:
					payload = json.loads(body or b"")
				except ValueError:
					raise ApiError(400, "http.status.bad_request", "Bad request.")
			result = handler(params, payload, *match.groups())
			if isinstance(result, _Raw):
				return result.status, {"Content-Type": result.content_type}, result.body
			status, data = result
			if data is None:
				return status, {}, b""
			return (
				status,
				{"Content-Type": "application/json"},
				json.dumps(data, separators=(",", ":")).encode(),
			)
		if path_matched:
			raise ApiError(405, "http.status.method_not_allowed", "Method not allowed.")
		raise ApiError(404, "http.status.not_found", "The requested resource was not found.")

	def _build_routes(self) -> list[tuple[str, re.Pattern[str], Callable[..., Any]]]:
		uid = r"([^/]+)"
		table = [
			("GET", "/v3/contacts", self._get_contacts),
			("POST", "/v3/contacts", self._post_contact),
			("POST", "/v3/contacts/sign_up_form", self._sign_up_form),
			("GET", "/v3/contacts/counts", self._contact_counts),
			("GET", f"/v3/contacts/{uid}", self._get_contact),
			("PUT", f"/v3/contacts/{uid}", self._put_contact),
			("DELETE", f"/v3/contacts/{uid}", self._delete_contact),
			("GET", "/v3/contact_lists", self._get_lists),
			("POST", "/v3/contact_lists", self._post_list),
			("GET", f"/v3/contact_lists/{uid}", self._get_list),
			("GET", "/v3/contact_custom_fields", self._get_fields),
			("GET", f"/v3/contact_custom_fields/{uid}", self._get_field),
			("POST", "/v3/activities/contacts_json_import", self._post_import),
			("POST", "/v3/activities/add_list_memberships", self._post_add_members),
			("POST", "/v3/activities/remove_list_memberships", self._post_remove_members),
			("POST", "/v3/activities/contact_exports", self._post_export),
			("POST", "/v3/activities/contact_delete", self._post_contact_delete),
			("GET", "/v3/activities", self._get_activities),
			("GET", f"/v3/activities/{uid}", self._get_activity),
			("GET", f"/v3/contact_exports/{uid}", self._get_export_file),
			*self._campaign_routes(),
		]
		return [(m, re.compile(p), h) for m, p, h in table]

	# -- contacts: reads ------------------------------------------------------------------------------

	def _get_contacts(self, params: dict[str, str], _body: Any) -> tuple[int, Any]:
		pos = 0
		if params.get("cursor"):
			# The cursor carries the filters; anything else on a next-page URL is ignored, as with CC.
			params, pos = _decode_cursor(params["cursor"])
		limit = _limit(params, 50, 500)
		statuses = _csv(params, "status")
		for status in statuses:
			if status not in STATUSES:
				raise _invalid(f"status {status} is not valid")
		includes = frozenset(_csv(params, "include"))
		for inc in includes:
			if inc not in INCLUDES:
				raise _invalid(f"include {inc} is not valid")
		lists = _csv(params, "lists")
		if len(lists) > 25:
			raise _invalid("lists accepts at most 25 list ids")
		predicate = self._contact_filter(params, statuses, lists)
		email = (params.get("email") or "").strip().lower()
		if email:
			rec = self._by_email.get(email)
			candidates = [rec] if rec is not None and rec["seq"] >= pos else []
			page = [r for r in candidates if predicate(r)]
			more = None
		else:
			page, more = self._scan(pos, limit, predicate)
		out: dict[str, Any] = {"contacts": [self.resource(r, includes) for r in page]}
		if _bool(params, "include_count"):
			out["contacts_count"] = self._count(params, predicate, email)
		if more is not None:
			carried = {k: v for k, v in params.items() if k != "cursor"}
			carried["limit"] = str(limit)
			out["_links"] = {"next": {"href": f"/v3/contacts?cursor={_encode_cursor(carried, more)}"}}
		return 200, out

	def _contact_filter(
		self, params: Mapping[str, str], statuses: list[str], lists: list[str]
	) -> Callable[[Mapping[str, Any]], bool]:
		checks: list[Callable[[Mapping[str, Any]], bool]] = []
		if not statuses:
			# CC quirk: with no status, deleted contacts are left out.
			checks.append(lambda r: not r["deleted_at"])
		elif "all" not in statuses:
			wanted = frozenset(statuses)
			checks.append(lambda r: contact_status(r) in wanted)
		if lists:
			wanted_lists = frozenset(lists)
			checks.append(lambda r: not wanted_lists.isdisjoint(r["lists"]))
		# CC quirk: updated_after/before look at the TOP-LEVEL updated_at only, which an unsubscribe or any
		# other permission change never moves.
		for key, field in (("updated", "updated_at"), ("created", "created_at"), ("optout", "opt_out_date")):
			after = _bound(params, f"{key}_after")
			before = _bound(params, f"{key}_before")
			if key == "optout" and (after or before) and self.optout_after != "filters":
				if self.optout_after == "empty":
					return lambda r: False
				continue  # "ignored": the opt-out bounds have no effect
			if after:
				checks.append(_after(field, after))
			if before:
				checks.append(_before(field, before))
		if not checks:
			return lambda r: True
		if len(checks) == 1:
			return checks[0]
		return lambda r: all(check(r) for check in checks)

	def _scan(
		self, pos: int, limit: int, predicate: Callable[[Mapping[str, Any]], bool]
	) -> tuple[list[dict[str, Any]], int | None]:
		"""Walk the stable order from `pos`; the next cursor starts at the first match past this page."""
		order = self._order
		page: list[dict[str, Any]] = []
		n = len(order)
		i = pos
		while i < n:
			rec = order[i]
			if predicate(rec):
				if len(page) == limit:
					return page, i
				page.append(rec)
			i += 1
		return page, None

	def _count(
		self, params: Mapping[str, str], predicate: Callable[[Mapping[str, Any]], bool], email: str
	) -> int:
		if email:
			rec = self._by_email.get(email)
			return int(rec is not None and predicate(rec))
		key = (
			urlencode(sorted((k, v) for k, v in params.items() if k not in ("cursor", "limit"))),
			self.version,
		)
		if key not in self._count_cache:
			self._count_cache = {key: sum(1 for r in self._order if predicate(r))}
		return self._count_cache[key]

	def _find(self, contact_id: str) -> dict[str, Any]:
		rec = self._by_id.get(contact_id)
		if rec is None:
			raise ApiError(404, "contacts.api.not_found", f"Contact {contact_id} not found.")
		return rec

	def _get_contact(self, params: dict[str, str], _body: Any, contact_id: str) -> tuple[int, Any]:
		includes = frozenset(_csv(params, "include"))
		for inc in includes:
			if inc not in INCLUDES:
				raise _invalid(f"include {inc} is not valid")
		# Deleted contacts are still returned by id, carrying deleted_at.
		return 200, self.resource(self._find(contact_id), includes)

	def _contact_counts(self, params: dict[str, str], _body: Any) -> tuple[int, Any]:
		live = [r for r in self._order if not r["deleted_at"]]
		perms = [r["permission"] for r in live]
		return 200, {
			"total": len(live),
			"explicit": perms.count("explicit"),
			"implicit": perms.count("implicit"),
			"pending": perms.count("pending_confirmation"),
			"unsubscribed": perms.count("unsubscribed"),
		}

	# -- contacts: writes -----------------------------------------------------------------------------

	def _core_from(self, body: Mapping[str, Any]) -> dict[str, Any]:
		core = {key: body.get(key) for key in CORE_FIELDS}
		for key in ("first_name", "last_name", "job_title", "company_name"):
			value = core[key]
			if value is not None and (not isinstance(value, str) or len(value) > 50):
				raise _invalid(f"{key} must be a string of at most 50 characters")
			if value == "":
				core[key] = None
		month, day = core["birthday_month"], core["birthday_day"]
		if (month is None) != (day is None):
			raise _invalid("birthday_month and birthday_day must be sent together")
		if month is not None and (
			not isinstance(month, int)
			or not isinstance(day, int)
			or not 1 <= month <= 12
			or not 1 <= day <= 31
		):
			raise _invalid("birthday_month or birthday_day is not valid")
		if core["anniversary"] is not None and (
			not isinstance(core["anniversary"], str) or len(core["anniversary"]) > 10
		):
			raise _invalid("anniversary is not valid")
		return core

	def _subresources(self, body: Mapping[str, Any]) -> dict[str, Any]:
		"""Validate the subresources present in a POST/PUT body; absent ones are left out."""
		out: dict[str, Any] = {}
		if body.get("custom_fields") is not None:
			fields = body["custom_fields"]
			if not isinstance(fields, list) or len(fields) > 25:
				raise _invalid("custom_fields accepts at most 25 values")
			values = {}
			for item in fields:
				fid = item.get("custom_field_id") if isinstance(item, dict) else None
				if fid not in self._fields:
					raise _invalid(f"custom_field_id {fid} does not exist")
				values[fid] = str(item.get("value", ""))
			out["custom_fields"] = values
		if body.get("list_memberships") is not None:
			lists = body["list_memberships"]
			if not isinstance(lists, list) or len(lists) > MAX_LISTS_PER_CONTACT:
				raise _invalid("list_memberships accepts at most 50 list ids")
			for lid in lists:
				if lid not in self._lists:
					raise _invalid(f"list_id {lid} does not exist")
			out["list_memberships"] = list(dict.fromkeys(lists))
		for key, limit in (("phone_numbers", 3), ("street_addresses", 3)):
			if body.get(key) is not None:
				items = body[key]
				if (
					not isinstance(items, list)
					or len(items) > limit
					or not all(isinstance(i, dict) for i in items)
				):
					raise _invalid(f"{key} accepts at most {limit} objects")
				out[key] = items
		if body.get("taggings") is not None:
			out["taggings"] = list(body["taggings"])
		if body.get("notes") is not None:
			out["notes"] = list(body["notes"])
		return out

	def _apply_subresources(self, rec: dict[str, Any], subs: Mapping[str, Any], now: str) -> bool:
		"""Replace the given subresources; True when contact details (not lists or tags) changed."""
		changed = False
		if "custom_fields" in subs and subs["custom_fields"] != rec["custom_fields"]:
			rec["custom_fields"] = dict(subs["custom_fields"])
			changed = True
		if "list_memberships" in subs:
			wanted = subs["list_memberships"]
			for lid in list(rec["lists"]):
				if lid not in wanted:
					self._unlink(rec, self._lists[lid])
			for lid in wanted:
				self._link(rec, self._lists[lid])
		if "phone_numbers" in subs:
			old = [(p["kind"], p["phone_number"]) for p in rec["phone_numbers"]]
			new = [(p.get("kind") or "other", p.get("phone_number")) for p in subs["phone_numbers"]]
			if old != new:
				rec["phone_numbers"] = []
				for phone in subs["phone_numbers"]:
					self._set_phone(
						rec, {"kind": phone.get("kind"), "phone_number": phone.get("phone_number")}, now
					)
				changed = True
		if "street_addresses" in subs:
			keys = ("kind", "street", "city", "state", "postal_code", "country")
			old = [tuple(a.get(k) for k in keys) for a in rec["street_addresses"]]
			norm = cc_address_part if self.normalise_addresses else (lambda _k, v: v)
			new = [tuple(norm(k, a.get(k)) for k in keys) for a in subs["street_addresses"]]
			if old != new:
				rec["street_addresses"] = []
				for address in subs["street_addresses"]:
					self._set_address(rec, address, now)
				changed = True
		if "taggings" in subs:
			rec["taggings"] = subs["taggings"]
		if "notes" in subs:
			rec["notes"] = [
				{
					"note_id": n.get("note_id") or self.new_id(),
					"created_at": n.get("created_at") or now,
					"content": n.get("content"),
				}
				for n in subs["notes"]
				if isinstance(n, dict)
			]
		return changed

	def _post_contact(self, _params: dict[str, str], body: Any) -> tuple[int, Any]:
		if not isinstance(body, dict):
			raise _invalid("The request body must be a JSON object.")
		source = body.get("create_source")
		if source not in ("Account", "Contact"):
			raise _invalid("create_source is required and must be Account or Contact")
		email = body.get("email_address")
		# SMS-only contacts are outside what this emulator models, so an email address is required.
		if not isinstance(email, dict) or not valid_email(email.get("address")):
			raise _invalid("email_address.address is missing or not a valid email address")
		address = email["address"]
		existing = self._by_email.get(address.lower())
		if existing is not None:
			# CC quirk: the address is taken in ANY state, deleted and unsubscribed included.
			raise ApiError(
				409,
				"contacts.api.conflict",
				f"Validation failed: Email already exists for contact {existing['contact_id']}",
			)
		# Recorded CC: a contact the person created (create_source Contact) is explicit; one the account
		# added is implicit.
		permission = email.get("permission_to_send") or ("explicit" if source == "Contact" else "implicit")
		if permission not in PERMISSIONS:
			raise _invalid("email_address.permission_to_send is not valid")
		core = self._core_from(body)
		subs = self._subresources(body)
		now = self.now()
		rec = self._insert(
			address,
			permission=permission,
			created_at=now,
			updated_at=now,
			create_source=source,
			opt_in_source=source,
		)
		rec.update(core)
		if permission == "unsubscribed":
			rec.update(opt_out_date=now, opt_out_source=source, opt_out_reason=email.get("opt_out_reason"))
		self._apply_subresources(rec, subs, now)
		self.version += 1
		return 201, self.resource(rec, frozenset(INCLUDES))

	def _put_contact(self, _params: dict[str, str], body: Any, contact_id: str) -> tuple[int, Any]:
		rec = self._find(contact_id)
		if not isinstance(body, dict):
			raise _invalid("The request body must be a JSON object.")
		source = body.get("update_source")
		if source not in ("Account", "Contact"):
			raise _invalid("update_source is required and must be Account or Contact")
		email = body.get("email_address")
		if not isinstance(email, dict) or not email.get("address"):
			raise _invalid("email_address.address is required")
		address = email["address"]
		if not valid_email(address):
			raise _invalid("email_address.address is not a valid email address")
		other = self._by_email.get(address.lower())
		if other is not None and other is not rec:
			raise ApiError(
				409,
				"contacts.api.conflict",
				f"Validation failed: Email already exists for contact {other['contact_id']}",
			)
		if rec["deleted_at"] and source != "Account":
			# SPEC: restoring a deleted contact through PUT needs update_source Account.
			raise _invalid("update_source must be Account to restore a deleted contact")
		permission = email.get("permission_to_send")
		if permission is not None and permission not in PERMISSIONS:
			raise _invalid("email_address.permission_to_send is not valid")
		core = self._core_from(body)
		subs = self._subresources(body)
		now = self.now()
		# CC quirk: PUT is a full replace of the core fields; anything left out becomes null.
		changed = any(rec[key] != value for key, value in core.items())
		rec.update(core)
		if address != rec["address"]:
			self._change_address(rec, address, now)
			changed = True
		if permission is not None and permission != rec["permission"]:
			# CC quirk: a permission change moves email_address.updated_at, never the top-level one.
			if permission == "unsubscribed":
				rec.update(
					opt_out_date=now, opt_out_source=source, opt_out_reason=email.get("opt_out_reason")
				)
			else:
				if rec["permission"] == "unsubscribed":
					# Allowed by the API but against CC policy unless the person asked; counted so tests can
					# prove the sync never does it.
					self.put_resubscribes += 1
				rec.update(opt_out_date=None, opt_out_source=None, opt_out_reason=None, opt_in_date=now)
			rec["permission"] = permission
			rec["email_updated_at"] = now
		if self._apply_subresources(rec, subs, now):
			changed = True
		if rec["deleted_at"]:
			# A PUT revives a deleted contact.
			rec["deleted_at"] = None
			changed = True
		if changed:
			rec["updated_at"] = now
			rec["update_source"] = source
		self.version += 1
		return 200, self.resource(rec, frozenset(INCLUDES))

	def _delete_contact(self, _params: dict[str, str], _body: Any, contact_id: str) -> tuple[int, Any]:
		rec = self._find(contact_id)
		if not rec["deleted_at"]:
			self._delete(rec)
			self.version += 1
		return 204, None

	def _sign_up_form(self, _params: dict[str, str], body: Any) -> tuple[int, Any]:
		"""Create-or-update as CC's sign-up forms do; the sync must never call it (see the counter)."""
		self.sign_up_form_calls += 1
		if not isinstance(body, dict):
			raise _invalid("The request body must be a JSON object.")
		lists = body.get("list_memberships")
		if not isinstance(lists, list) or not 1 <= len(lists) <= 50:
			raise _invalid("list_memberships is required (1 to 50 list ids)")
		for lid in lists:
			if lid not in self._lists:
				raise _invalid(f"list_id {lid} does not exist")
		address = body.get("email_address")  # a plain string here, not an object
		if not isinstance(address, str) or len(address) > 50 or not valid_email(address):
			raise _invalid("email_address is missing or not a valid email address")
		given = {k: body[k] for k in CORE_FIELDS if body.get(k) is not None}
		now = self.now()
		rec = self._by_email.get(address.lower())
		if rec is None:
			rec = self._insert(
				address,
				permission="explicit",
				created_at=now,
				updated_at=now,
				create_source="Contact",
				opt_in_source="Contact",
			)
			status, action = 201, "created"
		else:
			status, action = 200, "updated"
			if any(rec[k] != v for k, v in given.items()):
				rec["updated_at"] = now
				rec["update_source"] = "Contact"
			if rec["permission"] != "explicit":
				# CC quirk (the danger): an existing contact becomes explicit, even an unsubscribed one.
				rec.update(
					permission="explicit",
					opt_in_date=now,
					opt_out_date=None,
					opt_out_source=None,
					opt_out_reason=None,
					email_updated_at=now,
				)
			if rec["deleted_at"]:
				rec["deleted_at"] = None  # and it revives a deleted contact
				rec["updated_at"] = now
		rec.update(given)
		if isinstance(body.get("phone_number"), str):
			self._set_phone(rec, {"phone_number": body["phone_number"], "kind": "other"}, now)
		if isinstance(body.get("street_address"), dict):
			self._set_address(rec, body["street_address"], now)
		for item in body.get("custom_fields") or []:
			if isinstance(item, dict) and item.get("custom_field_id") in self._fields:
				rec["custom_fields"][item["custom_field_id"]] = str(item.get("value", ""))
		for lid in lists:
			self._link(rec, self._lists[lid])
		self.version += 1
		return status, {"contact_id": rec["contact_id"], "action": action}

	# -- lists and custom fields ---------------------------------------------------------------------

	def _page(
		self, kind: str, params: dict[str, str], items: list[Any], default: int, maximum: int
	) -> tuple[list[Any], dict[str, Any] | None, dict[str, str]]:
		pos = 0
		if params.get("cursor"):
			params, pos = _decode_cursor(params["cursor"])
		limit = _limit(params, default, maximum)
		page = items[pos : pos + limit]
		links = None
		if pos + limit < len(items):
			carried = {k: v for k, v in params.items() if k != "cursor"}
			carried["limit"] = str(limit)
			links = {"next": {"href": f"/v3/{kind}?cursor={_encode_cursor(carried, pos + limit)}"}}
		return page, links, params

	def _get_lists(self, params: dict[str, str], _body: Any) -> tuple[int, Any]:
		if params.get("cursor"):
			params = {**_decode_cursor(params["cursor"])[0], "cursor": params["cursor"]}
		membership = params.get("include_membership_count")
		if membership not in (None, "", "all", "active"):
			raise _invalid("include_membership_count does not have a valid value")
		lists = list(self._lists.values())
		if params.get("name"):
			lists = [lst for lst in lists if lst["name"] == params["name"]]
		# The schema allows 1000 though the text says 500: accept the schema's maximum.
		page, links, params = self._page("contact_lists", params, lists, 50, 1000)
		out: dict[str, Any] = {"lists": [self.list_resource(lst, membership or None) for lst in page]}
		if _bool(params, "include_count"):
			out["lists_count"] = len(lists)
		if links:
			out["_links"] = links
		return 200, out

	def _get_list(self, params: dict[str, str], _body: Any, list_id: str) -> tuple[int, Any]:
		lst = self._lists.get(list_id)
		if lst is None:
			raise ApiError(404, "contact_lists.api.not_found", f"List {list_id} not found.")
		return 200, self.list_resource(lst, params.get("include_membership_count") or None)

	def _post_list(self, _params: dict[str, str], body: Any) -> tuple[int, Any]:
		if not isinstance(body, dict) or not isinstance(body.get("name"), str) or not body["name"]:
			raise _invalid("name is required")
		if any(lst["name"] == body["name"] for lst in self._lists.values()):
			raise ApiError(409, "contact_lists.api.conflict", "A list with this name already exists.")
		list_id = self.create_list(
			body["name"], description=body.get("description"), favorite=bool(body.get("favorite"))
		)
		return 201, self.list_resource(self._lists[list_id], None)

	def _get_fields(self, params: dict[str, str], _body: Any) -> tuple[int, Any]:
		# CC quirk: custom fields page at most 100 at a time.
		page, links, _ = self._page("contact_custom_fields", params, list(self._fields.values()), 50, 100)
		out: dict[str, Any] = {"custom_fields": [dict(f) for f in page]}
		if links:
			out["_links"] = links
		return 200, out

	def _get_field(self, _params: dict[str, str], _body: Any, field_id: str) -> tuple[int, Any]:
		field = self._fields.get(field_id)
		if field is None:
			raise ApiError(404, "contact_custom_fields.api.not_found", f"Custom field {field_id} not found.")
		return 200, dict(field)

	# -- activities -----------------------------------------------------------------------------------

	def _new_activity(self, kind: str, payload: dict[str, Any], status: dict[str, int]) -> dict[str, Any]:
		queued = sum(1 for a in self._activities.values() if a["state"] in PENDING)
		if queued >= QUEUE_CAP:
			raise ApiError(
				429,
				"too_many_requests",
				"You exceeded 1,000 queued activities for this user account",
				single=True,
			)
		now = self.now()
		act = {
			"activity_id": self.new_id(),
			"kind": kind,
			"state": "initialized",
			"created_at": now,
			"updated_at": now,
			"started_at": None,
			"completed_at": None,
			"polls": 0,
			"created_mono": self.clock.monotonic(),
			"payload": payload,
			"status": status,
			"errors": [],
			"csv": None,
		}
		self._activities[act["activity_id"]] = act
		if self.activity_steps <= 0:
			self._complete_through(act)
		return act

	def _activity_json(self, act: Mapping[str, Any]) -> dict[str, Any]:
		out: dict[str, Any] = {
			"activity_id": act["activity_id"],
			"state": act["state"],
			"created_at": act["created_at"],
		}
		for key in ("started_at", "completed_at"):
			if act[key]:
				out[key] = act[key]
		out["updated_at"] = act["updated_at"]
		out["percent_done"] = {"initialized": 0, "processing": 50}.get(act["state"], 100)
		out["activity_errors"] = list(act["errors"])
		out["status"] = dict(act["status"])
		links: dict[str, Any] = {"self": {"href": f"/v3/activities/{act['activity_id']}"}}
		if act["kind"] == "export":
			# Recorded CC: the 201 already carries the results link (the file answers 404 until the export
			# completes). The spec example says /v3/contacts_exports/; the real path is /v3/contact_exports/.
			links["results"] = {"href": f"/v3/contact_exports/{act['activity_id']}"}
		out["_links"] = links
		return out

	def _tick(self) -> None:
		"""Clock-driven completion, when `activity_seconds` is set: as real CC, which finishes an activity
		in its own time whether or not anyone polls it. Each is stamped with the time it finished.
		Campaign opt-outs whose time has come are applied first."""
		if self._work_time is None:
			self._campaign_tick()
		if self.activity_seconds is None or self._work_time is not None:
			return
		t = self.clock.monotonic()
		for act in list(self._activities.values()):
			late = t - act["created_mono"] - self.activity_seconds
			if act["state"] in PENDING and late >= 0:
				self._work_time = self.clock.now() - timedelta(seconds=late)
				try:
					self._complete_through(act)
				finally:
					self._work_time = None

	def _poll(self, act: dict[str, Any]) -> None:
		self._tick()
		if act["state"] not in PENDING:
			return
		act["polls"] += 1
		if act["polls"] >= self.activity_steps:
			self._complete_through(act)
		else:
			now = self.now()
			act["state"] = "processing"
			act["started_at"] = act["started_at"] or now
			act["updated_at"] = now

	def _complete_through(self, target: dict[str, Any]) -> None:
		"""Activities run serially in creation order: finishing one finishes every earlier one first."""
		for act in list(self._activities.values()):
			if act["state"] in PENDING:
				self._complete(act)
			if act is target:
				break

	def _complete(self, act: dict[str, Any]) -> None:
		now = self.now()
		act["started_at"] = act["started_at"] or now
		{
			"import": self._apply_import,
			"add_members": self._apply_add_members,
			"remove_members": self._apply_remove_members,
			"export": self._apply_export,
			"delete": self._apply_contact_delete,
		}[act["kind"]](act)
		act["state"] = "completed"
		act["completed_at"] = now
		act["updated_at"] = now
		self.version += 1

	def _get_activity(self, _params: dict[str, str], _body: Any, activity_id: str) -> tuple[int, Any]:
		act = self._activities.get(activity_id)
		oldest = (self.clock.now() - ACTIVITY_RETENTION).strftime("%Y-%m-%dT%H:%M:%SZ")
		if act is None or act["created_at"] < oldest:
			raise ApiError(404, "activities.api.not_found", f"Activity {activity_id} not found.")
		self._poll(act)
		return 200, self._activity_json(act)

	def _get_activities(self, params: dict[str, str], _body: Any) -> tuple[int, Any]:
		self._tick()
		if params.get("cursor"):
			params = {**_decode_cursor(params["cursor"])[0], "cursor": params["cursor"]}
		state = params.get("state")
		if state not in (None, "", "processing", "completed", "cancelled", "failed", "timed_out"):
			raise ApiError(400, "activities.api.validation.error", "state is not valid")
		cutoff = self.clock.now() - ACTIVITY_RETENTION
		oldest = cutoff.strftime("%Y-%m-%dT%H:%M:%SZ")
		# Kept for 10 days, newest first.
		acts = [a for a in reversed(self._activities.values()) if a["created_at"] >= oldest]
		if state:
			acts = [a for a in acts if a["state"] == state]
		page, links, _ = self._page("activities", params, acts, 50, 500)
		entries = []
		for act in page:
			entry = self._activity_json(act)
			# Recorded: list entries' self links do not lead to the entry.
			entry["_links"] = {"self": {"href": "/v3/activities"}}
			entries.append(entry)
		out: dict[str, Any] = {"activities": entries}
		if links:
			out["_links"] = links
		return 200, out

	# -- JSON import ------------------------------------------------------------------------------------

	def _post_import(self, _params: dict[str, str], body: Any) -> tuple[int, Any]:
		if not isinstance(body, dict):
			raise _invalid("The request body must be a JSON object.")
		rows = body.get("import_data")
		lists = body.get("list_ids")
		if not isinstance(rows, list) or not rows:
			raise _invalid("import_data is required")
		if not isinstance(lists, list) or not 1 <= len(lists) <= 50:
			raise _invalid("list_ids is required (1 to 50 list ids)")
		for lid in lists:
			if lid not in self._lists:
				raise _invalid(f"list_id {lid} does not exist")
		if len(rows) > IMPORT_MAX_ROWS:
			raise _invalid("import_data accepts at most 40,000 contacts")
		rows = self._fit_import(rows, lists)
		act = self._new_activity(
			"import",
			{"rows": rows, "list_ids": list(dict.fromkeys(lists))},
			{
				"items_total_count": len(rows) + (1 if self.count_header_row else 0),
				"items_completed_count": 0,
				"person_count": 0,
				"error_count": 0,
				"correctable_count": 0,
				"cannot_add_to_list_count": 0,
			},
		)
		return 201, self._activity_json(act)

	def _fit_import(self, rows: list[Any], lists: list[str]) -> list[Any]:
		"""CC quirk: past 4 MB the rest of a JSON import is silently dropped; keep the rows that fit.

		Sizes are measured on compact JSON, so whitespace in the caller's body does not count. With
		`oversize_import="reject"` an oversize payload is refused with 400 instead.
		"""
		sizes = [len(json.dumps(row, separators=(",", ":"))) + 1 for row in rows]
		base = len(json.dumps({"import_data": [], "list_ids": lists}, separators=(",", ":")))
		if base + sum(sizes) <= IMPORT_MAX_BYTES:
			return rows
		if self.oversize_import == "reject":
			raise _invalid("The import payload exceeds 4 MB")
		self.import_truncations += 1
		total, kept = base, 0
		for size in sizes:
			if total + size > IMPORT_MAX_BYTES:
				break
			total += size
			kept += 1
		return rows[:kept]

	def _apply_import(self, act: dict[str, Any]) -> None:
		status = act["status"]
		lists = [self._lists[lid] for lid in act["payload"]["list_ids"] if lid in self._lists]
		now = self.now()
		for index, row in enumerate(act["payload"]["rows"], start=1):
			status["items_completed_count"] += 1
			email = row.get("email") if isinstance(row, dict) else None
			# CC quirk: import addresses are limited to 50 characters; bad ones are correctable errors.
			if not isinstance(email, str) or len(email) > 50 or not valid_email(email.strip()):
				status["error_count"] += 1
				status["correctable_count"] += 1
				if self.import_errors == "named":
					act["errors"].append(f"Row {index}: invalid email address '{email}'")
				continue
			email = email.strip()
			rec = self._by_email.get(email.lower())
			created = rec is None
			if created:
				# CC quirk: new contacts arrive implicit, opted in by the Account.
				rec = self._insert(
					email,
					permission="implicit",
					created_at=now,
					updated_at=now,
					create_source="Account",
					opt_in_source="Account",
				)
			changed = self._import_fields(rec, row, now, act["errors"], email)
			if changed and not created:
				# An existing contact gets only the fields sent; nothing is cleared.
				rec["updated_at"] = now
				rec["update_source"] = "Account"
			status["person_count"] += 1
			if rec["permission"] == "unsubscribed":
				# CC quirk: a previously unsubscribed contact stays unsubscribed and out of the lists.
				status["cannot_add_to_list_count"] += 1
				continue
			if rec["deleted_at"]:
				rec["deleted_at"] = None  # importing a deleted contact revives it
				rec["updated_at"] = now
				rec["update_source"] = "Account"
			for lst in lists:
				self._link(rec, lst)

	def _import_fields(
		self, rec: dict[str, Any], row: Mapping[str, Any], now: str, errors: list[str], email: str
	) -> bool:
		changed = False
		for key in IMPORT_CORE:
			value = row.get(key)
			if value not in (None, "") and rec[key] != value:
				rec[key] = value
				changed = True
		month, day = row.get("birthday_month"), row.get("birthday_day")
		if month not in (None, "") and day not in (None, ""):
			try:
				month, day = int(month), int(day)
			except (TypeError, ValueError):
				month = day = None
			if month and day and (rec["birthday_month"], rec["birthday_day"]) != (month, day):
				rec["birthday_month"], rec["birthday_day"] = month, day
				changed = True
		for key, kind in IMPORT_PHONES.items():
			value = row.get(key)
			if value not in (None, ""):
				changed |= self._set_phone(rec, {"phone_number": str(value), "kind": kind}, now)
		for prefix, kind in IMPORT_ADDRESS_PREFIXES.items():
			parts = {
				target: str(row[prefix + key])
				for key, target in IMPORT_ADDRESS_PARTS.items()
				if row.get(prefix + key) not in (None, "")
			}
			if parts:
				street2 = parts.pop("street2", None)
				if street2:
					# StreetAddress has one street line: the second line is appended to it.
					parts["street"] = f"{parts.get('street', '')}, {street2}".strip(", ")
				changed |= self._set_address(rec, {"kind": kind, **parts}, now)
		for key, value in row.items():
			if not key.startswith("cf:") or value in (None, ""):
				continue
			field = self._fields_by_name.get(key[3:])
			if field is None:
				# The field must already exist, looked up by its name (not its label).
				named = f" (contact {email})" if self.import_errors == "named" else ""
				errors.append(f"Custom field '{key[3:]}' does not exist{named}")
				continue
			if rec["custom_fields"].get(field["custom_field_id"]) != str(value):
				rec["custom_fields"][field["custom_field_id"]] = str(value)
				changed = True
		return changed

	# -- list membership and delete activities ------------------------------------------------------

	def _membership_source(self, body: Any, *, allow_all: bool = True) -> dict[str, Any]:
		if not isinstance(body, dict):
			raise _invalid("The request body must be a JSON object.")
		source = body.get("source")
		targets = body.get("list_ids")
		if not isinstance(targets, list) or not 1 <= len(targets) <= 50:
			raise _invalid("list_ids is required (1 to 50 list ids)")
		for lid in targets:
			if lid not in self._lists:
				raise _invalid(f"list_id {lid} does not exist")
		if not isinstance(source, dict):
			raise _invalid("source is required")
		keys = [k for k in ("contact_ids", "list_ids", "all_active_contacts") if source.get(k)]
		if len(keys) != 1:
			raise _invalid("source takes exactly one of contact_ids, list_ids, all_active_contacts")
		if "contact_ids" in keys and (
			not isinstance(source["contact_ids"], list) or len(source["contact_ids"]) > 500
		):
			raise _invalid("source.contact_ids accepts at most 500 contact ids")
		if "list_ids" in keys and (not isinstance(source["list_ids"], list) or len(source["list_ids"]) > 50):
			raise _invalid("source.list_ids accepts at most 50 list ids")
		exclude = set((body.get("exclude") or {}).get("contact_ids") or [])
		return {
			"source": {keys[0]: source[keys[0]]},
			"list_ids": list(dict.fromkeys(targets)),
			"exclude": list(exclude),
		}

	def _source_records(self, payload: Mapping[str, Any]) -> list[dict[str, Any]]:
		source = payload["source"]
		exclude = set(payload.get("exclude") or ())
		if "contact_ids" in source:
			recs = [self._by_id[cid] for cid in dict.fromkeys(source["contact_ids"]) if cid in self._by_id]
			exclude = set()  # exclude applies only to list and all_active sources
		elif "list_ids" in source:
			members: set[str] = set()
			for lid in source["list_ids"]:
				if lid in self._lists:
					members |= self._lists[lid]["members"]
			recs = [self._by_id[cid] for cid in members]
			recs.sort(key=lambda r: r["seq"])
		else:
			recs = [r for r in self._order if contact_status(r) == "active"]
		return [r for r in recs if r["contact_id"] not in exclude]

	def _post_add_members(self, _params: dict[str, str], body: Any) -> tuple[int, Any]:
		payload = self._membership_source(body)
		total = len(payload["source"].get("contact_ids") or [])
		act = self._new_activity(
			"add_members",
			payload,
			{"items_total_count": total, "items_completed_count": 0, "list_count": len(payload["list_ids"])},
		)
		return 201, self._activity_json(act)

	def _post_remove_members(self, _params: dict[str, str], body: Any) -> tuple[int, Any]:
		payload = self._membership_source(body)
		total = len(payload["source"].get("contact_ids") or [])
		act = self._new_activity(
			"remove_members",
			payload,
			{"items_total_count": total, "items_completed_count": 0, "list_count": len(payload["list_ids"])},
		)
		return 201, self._activity_json(act)

	def _apply_add_members(self, act: dict[str, Any]) -> None:
		recs = self._source_records(act["payload"])
		lists = [self._lists[lid] for lid in act["payload"]["list_ids"] if lid in self._lists]
		act["status"]["items_total_count"] = len(recs)
		for rec in recs:
			act["status"]["items_completed_count"] += 1
			# Unsubscribed and deleted contacts are never added to lists. Membership changes do not move
			# the top-level updated_at (the worst case, as with list-tool edits).
			if rec["deleted_at"] or rec["permission"] == "unsubscribed":
				continue
			for lst in lists:
				self._link(rec, lst)

	def _apply_remove_members(self, act: dict[str, Any]) -> None:
		recs = self._source_records(act["payload"])
		act["status"]["items_total_count"] = len(recs)
		for rec in recs:
			act["status"]["items_completed_count"] += 1
			for lid in act["payload"]["list_ids"]:
				if lid in self._lists:
					self._unlink(rec, self._lists[lid])

	def _post_contact_delete(self, _params: dict[str, str], body: Any) -> tuple[int, Any]:
		if not isinstance(body, dict) or bool(body.get("contact_ids")) == bool(body.get("list_ids")):
			raise _invalid("Send exactly one of contact_ids or list_ids")
		if len(body.get("contact_ids") or []) > 500 or len(body.get("list_ids") or []) > 50:
			raise _invalid("contact_ids accepts at most 500 ids, list_ids at most 50")
		payload = {"contact_ids": body.get("contact_ids"), "list_ids": body.get("list_ids")}
		act = self._new_activity(
			"delete",
			payload,
			{
				"items_total_count": len(body.get("contact_ids") or []),
				"items_completed_count": 0,
				"list_count": len(body.get("list_ids") or []),
			},
		)
		return 201, self._activity_json(act)

	def _apply_contact_delete(self, act: dict[str, Any]) -> None:
		payload = act["payload"]
		if payload["contact_ids"]:
			recs = [self._by_id[c] for c in payload["contact_ids"] if c in self._by_id]
		else:
			recs = self._source_records({"source": {"list_ids": payload["list_ids"]}})
		act["status"]["items_total_count"] = len(recs)
		for rec in recs:
			act["status"]["items_completed_count"] += 1
			if not rec["deleted_at"]:
				self._delete(rec)
