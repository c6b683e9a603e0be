"""Contact reads as CC's V3 reference groups them: `GET /contacts`, `GET /contacts/{id}` and
`GET /contacts/counts`, with CC's recorded quirks; the writes are in `contact_writes`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode

from .values import INCLUDES, STATUSES, contact_status
from .wire import (
	ApiError,
	_after,
	_before,
	_bool,
	_bound,
	_csv,
	_decode_cursor,
	_encode_cursor,
	_invalid,
	_limit,
)


class ContactsMixin:
	"""The contact read endpoints of `ConstantContactEmulator` (which supplies the account state)."""

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
