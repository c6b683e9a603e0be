"""The HTTP-shaped surface of the emulator: `handle(method, url, headers, body)` and its route table.

The core knows no transport. `responses_mount` and `server` adapt it to `responses` and to a real
Werkzeug server; both turn `EmulatedTimeout` into their own notion of a timeout. The endpoints live with
their CC resource: `contacts` (reads) and `contact_writes`, `lists` (and custom fields), `activities` (with
list memberships and deletes), `imports`, `exports`, `campaigns` and `reports`; `auth` answers the OAuth
host; `wire` holds what they share (the error answer, cursors, query parameters).
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Callable, Mapping
from datetime import timezone
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from cc_sync.constant_contact.clock import Clock

from .activities import PENDING, ActivitiesMixin
from .auth import TokenAuthority
from .campaigns import CampaignsMixin, needed_scope
from .contact_writes import ContactWritesMixin
from .contacts import ContactsMixin
from .exports import ExportsMixin
from .faults import EmulatedTimeout, FaultConfig
from .imports import ImportsMixin
from .lists import ListsMixin
from .reports import ReportsMixin
from .state import AccountState
from .wire import ApiError, Response, _Raw

API_PREFIX = "/v3"
AUTH_PREFIX = "/oauth2/default/v1"
IMPORT_ERROR_MODES = ("named", "counts")
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
OPTOUT_AFTER_MODES = ("filters", "ignored", "empty")


class ConstantContactEmulator(
	ContactsMixin,
	ContactWritesMixin,
	ListsMixin,
	ActivitiesMixin,
	ImportsMixin,
	CampaignsMixin,
	ReportsMixin,
	ExportsMixin,
	AccountState,
):
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

	def imported_rows(self, email: str | None = None) -> list[dict[str, Any]]:
		"""The rows of every import sent so far, in order; of one address only when given."""
		with self._lock:
			acts = [a for a in self._activities.values() if a["kind"] == "import"]
		rows = [row for act in acts for row in act["payload"]["rows"]]
		if email is None:
			return rows
		return [row for row in rows if (row.get("email") or "").strip().lower() == email.strip().lower()]

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
