"""How every call to the CC V3 API travels: pacing, counting, auth, retries, typed errors and paging.

All HTTP goes through `Transport._request`, which paces calls (4/s), counts them (10,000/day), refreshes
the token once on a 401, backs off on `throttled` 429s, 5xx and network errors, stops at once on
`quota_exceeded`, and turns every failure into a typed error from `errors`. The endpoints themselves are
in `contacts` and `bulk`; `client.ConstantContactClient` puts them together.
"""

from __future__ import annotations

import io
import json as jsonlib
import logging
import random
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any, TextIO
from urllib.parse import urljoin, urlsplit

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
from cc_sync.constant_contact.ratelimit import DailyBudget, Limiter, RateLimiter

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.cc.email/v3"
MAX_PAGE_SIZE = 500
# The longest answer a retry note keeps (a network error's text can run long).
MAX_ANSWER_IN_NOTE = 200


@dataclass(frozen=True, slots=True)
class Retry:
	"""One call sent again: which call (method and path, never the query, which may hold an address),
	what CC answered, and how long the client waited before sending it again."""

	call: str
	answer: str
	waited: float

	def __str__(self) -> str:
		return f"{self.call}: {self.answer}; waited {self.waited:.1f} s"


# How much of a downloaded file is read at a time.
DOWNLOAD_CHUNK = 1 << 20


class Transport:
	"""One connected account's way to the API; not tied to any web framework."""

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
		self._scheme, self._netloc = parts.scheme.lower(), parts.netloc.lower()
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
		# Every call sent again, in order, so a run can say which of its calls were retried and why.
		self.retries: list[Retry] = []
		# CC's clock as its last answer's `Date` header gave it, and when that answer came (monotonic).
		self._cc_date: tuple[datetime, float] | None = None

	def _url(self, path_or_url: str) -> str:
		"""The URL to call for an API path or a link CC gave, which must stay on the API's scheme and host.

		A link naming any host, protocol-relative (`//host/...`) included, is refused unless it is the
		API's own scheme and host: the bearer token is never sent anywhere else.
		"""
		parts = urlsplit(path_or_url)
		if parts.scheme or parts.netloc or path_or_url.lstrip().startswith(("//", "\\\\", "/\\", "\\/")):
			if (parts.scheme.lower(), parts.netloc.lower()) != (self._scheme, self._netloc):
				raise MalformedResponse(None, None, f"link points off the API host: {path_or_url}")
			return path_or_url
		if path_or_url.startswith(self.base_url.removeprefix(self.origin) + "/"):
			return urljoin(self.origin, path_or_url)
		return self.base_url + "/" + path_or_url.lstrip("/")

	def cc_now(self) -> datetime | None:
		"""CC's clock now, from its last answer's `Date` header plus the time since (None without one).

		`Date` is in whole seconds, cut down, and stamped before the answer travelled, so this is never
		ahead of CC's clock: a watermark taken from it never skips what CC stamped before it.
		"""
		if self._cc_date is None:
			return None
		date, at = self._cc_date
		return date + timedelta(seconds=max(0.0, self.clock.monotonic() - at))

	def _note_cc_date(self, resp: requests.Response) -> None:
		value = resp.headers.get("Date") if resp.headers is not None else None
		if not value:
			return
		try:
			date = parsedate_to_datetime(value)
		except (TypeError, ValueError, IndexError):
			return  # an unreadable Date says nothing about CC's clock
		if date is None:
			return
		if date.tzinfo is None:
			date = date.replace(tzinfo=timezone.utc)
		self._cc_date = (date.astimezone(timezone.utc), self.clock.monotonic())

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
				resp = self._send(method, url, clean_params, data, headers, stream=accept_csv)
				if 200 <= resp.status_code < 300:
					self._note_cc_date(resp)
					# A CSV body is read here, as it arrives: a dropped download is resent like a call.
					return self._parse_success(resp, accept_csv)
			except requests.exceptions.RequestException as exc:
				error, resendable = self._transport_failure(exc, retry_unsafe)
			else:
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
		*,
		stream: bool = False,
	) -> requests.Response:
		"""One attempt: a token, a turn of the rate limiter, one call counted against the budgets."""
		# The token first: a failed proactive refresh must not count as an API call.
		headers["Authorization"] = f"Bearer {self._token(self.token_provider.access_token, method, url)}"
		self.limiter.acquire()
		if self.budget is not None:
			self.budget.spend()
		self.calls += 1
		return self.session.request(
			method, url, params=params, data=data, headers=headers, timeout=self.timeout, stream=stream
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
		call = f"{method} {urlsplit(url).path or url}"
		self.retries.append(Retry(call, _answer_text(error), delay))
		self.clock.sleep(delay)

	@staticmethod
	def _parse_success(resp: requests.Response, accept_csv: bool) -> Any:
		if accept_csv:
			return _spooled_text(resp)
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


def _answer_text(error: Exception) -> str:
	"""What CC answered, as a retry note says it: `HTTP 503: service_unavailable: ...`, or the lost
	connection's kind."""
	text = str(error) or type(error).__name__
	if isinstance(error, TransportError) and error.status is None:
		text = f"no answer ({text})"
	return text if len(text) <= MAX_ANSWER_IN_NOTE else text[: MAX_ANSWER_IN_NOTE - 1] + "…"


def _spooled_text(resp: requests.Response) -> TextIO:
	"""A CSV body written to a temporary file as it arrives and handed back as text from its start, so a
	million-row export never sits whole in memory. The caller closes it (the file then goes)."""
	spool = tempfile.TemporaryFile()
	try:
		for chunk in resp.iter_content(chunk_size=DOWNLOAD_CHUNK):
			spool.write(chunk)
		spool.seek(0)
	except BaseException:
		spool.close()
		raise
	finally:
		resp.close()
	# utf-8-sig drops the byte-order mark that spreadsheet-oriented exports often carry; newline="" leaves
	# line ends inside quoted cells to the CSV reader.
	return io.TextIOWrapper(spool, encoding="utf-8-sig", errors="replace", newline="")


def _body_and_headers(json: Any, accept_csv: bool) -> tuple[bytes | None, dict[str, str]]:
	"""The encoded JSON body, if any, and the headers every attempt of the call sends."""
	headers = {"Accept": "text/csv" if accept_csv else "application/json"}
	if json is None:
		return None, headers
	# Any body without exactly this content type is answered with 415.
	headers["Content-Type"] = "application/json"
	return jsonlib.dumps(json, separators=(",", ":")).encode("utf-8"), headers


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
