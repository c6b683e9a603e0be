"""Typed errors for the Constant Contact V3 API.

The sync engine decides what to do from the type alone: stop the run cleanly on `QuotaExceeded`,
show a broken connection on `AuthError`, skip one record on `ValidationError` or `Conflict`, and
retry later on `ServerError` / `TransportError`.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from cc_sync.constant_contact.ratelimit import next_utc_midnight

# Longest slice of a non-JSON body kept in an error message (HTML error pages can be large).
_MAX_BODY_IN_MESSAGE = 300


class ConstantContactError(Exception):
	"""Base class: anything that went wrong talking to Constant Contact."""

	def __init__(
		self,
		status: int | None = None,
		error_key: str | None = None,
		message: str = "",
		body: str | None = None,
	) -> None:
		self.status = status
		self.error_key = error_key
		self.message = message
		self.body = body
		super().__init__(self.__str__())

	def __str__(self) -> str:
		parts = []
		if self.status is not None:
			parts.append(f"HTTP {self.status}")
		if self.error_key:
			parts.append(self.error_key)
		if self.message:
			parts.append(self.message)
		return ": ".join(parts) or type(self).__name__


class AuthError(ConstantContactError):
	"""The connection needs a person to reconnect: a 401 survived a refresh, or the refresh failed."""


class Refused(ConstantContactError):
	"""CC answered and refused this request (a 4xx other than 401 and 429): sending it again unchanged
	fails again. A push or opt-out push fails the records it carried, and only those."""


class PermissionDenied(Refused):
	"""403: missing scope, missing user privilege, or the application was deactivated."""


class NotFound(Refused):
	"""404: unknown or malformed id."""


class Conflict(Refused):
	"""409: e.g. the email already belongs to another contact (even a deleted or unsubscribed one)."""


class ValidationError(Refused):
	"""400 / 415: the request itself is wrong; resending it unchanged will fail again."""


class Throttled(ConstantContactError):
	"""429 `throttled` (4 requests/s per application) that outlasted every retry."""


class QuotaExceeded(ConstantContactError):
	"""429 `quota_exceeded`: the 10,000 calls/day of the application are spent until 00:00 UTC."""

	def __init__(
		self,
		status: int | None = 429,
		error_key: str | None = "quota_exceeded",
		message: str = "",
		body: str | None = None,
		*,
		resets_at: datetime | None = None,
	) -> None:
		self.resets_at = resets_at
		super().__init__(status, error_key, message, body)


class ServerError(ConstantContactError):
	"""5xx that outlasted every retry, or a 5xx on a request that must not be blindly resent.

	`may_have_succeeded` is true when the server may have acted on the request (a bulk activity
	POST): look at `GET /activities` before submitting it again.
	"""

	def __init__(self, *args: Any, may_have_succeeded: bool = False, **kwargs: Any) -> None:
		self.may_have_succeeded = may_have_succeeded
		super().__init__(*args, **kwargs)


class TransportError(ConstantContactError):
	"""Connection error or timeout that outlasted every retry (or was not safe to retry)."""

	def __init__(self, *args: Any, may_have_succeeded: bool = False, **kwargs: Any) -> None:
		self.may_have_succeeded = may_have_succeeded
		super().__init__(*args, **kwargs)


class MalformedResponse(ConstantContactError):
	"""A success status whose body is not JSON, or not the shape the contract promises."""


def parse_error_body(body_text: str | None) -> tuple[str | None, str]:
	"""Pull (error_key, message) out of any of the error bodies CC sends.

	CC answers most errors with a JSON array of `{error_key, error_message}`, but 401 and 429 with
	a single object, and the OAuth token endpoint with `{error, error_description}`.
	"""
	if not body_text:
		return None, ""
	try:
		data = json.loads(body_text)
	except ValueError:
		return None, body_text.strip()[:_MAX_BODY_IN_MESSAGE]
	items = data if isinstance(data, list) else [data]
	keys: list[str] = []
	messages: list[str] = []
	for item in items:
		if not isinstance(item, dict):
			continue
		key = item.get("error_key") or item.get("error")
		msg = item.get("error_message") or item.get("error_description") or item.get("message")
		if key:
			keys.append(str(key))
		if msg:
			messages.append(str(msg))
	if not keys and not messages:
		return None, body_text.strip()[:_MAX_BODY_IN_MESSAGE]
	return (keys[0] if keys else None), "; ".join(messages)


_BY_STATUS: dict[int, type[ConstantContactError]] = {
	400: ValidationError,
	401: AuthError,
	403: PermissionDenied,
	404: NotFound,
	409: Conflict,
	415: ValidationError,
}


def error_from_response(
	status: int, body_text: str | None, *, now: datetime | None = None
) -> ConstantContactError:
	"""Build the typed error for a non-2xx answer. `now` dates `QuotaExceeded.resets_at`."""
	key, message = parse_error_body(body_text)
	if status == 429:
		if key == "quota_exceeded":
			when = now or datetime.now(timezone.utc)
			return QuotaExceeded(status, key, message, body_text, resets_at=next_utc_midnight(when))
		return Throttled(status, key, message, body_text)
	if status >= 500:
		return ServerError(status, key, message, body_text)
	cls = _BY_STATUS.get(status) or (Refused if 400 <= status < 500 else ConstantContactError)
	return cls(status, key, message, body_text)
