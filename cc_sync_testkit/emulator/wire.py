"""What every endpoint of the emulator shares: CC's error answer, opaque cursors and query parameters."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs, urlencode

from .values import format_ts, parse_ts

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


def _page(
	kind: str, params: dict[str, str], items: list[Any], default: int, maximum: int
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
