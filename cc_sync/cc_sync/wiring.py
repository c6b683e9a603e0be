"""The engine as this site runs it, built from the settings: the CC client, its daily budget, the store.

API and auth hosts come from site config only (`CONF_API_BASE`, `CONF_AUTH_BASE`), so nobody can point a
production site at another host from the form. The client is watched (`WatchedClient`) so a run can show
its progress and tell an auth error by type.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import frappe
from frappe.utils import cint, getdate

from cc_sync.cc_sync.constants import CONF_API_BASE
from cc_sync.cc_sync.oauth import token_provider
from cc_sync.cc_sync.settings import (
	field_rules,
	push_filters,
	push_targets,
	require_connection,
	stored_values,
	sync_config,
	update_settings,
)
from cc_sync.constant_contact.client import DEFAULT_BASE_URL, ConstantContactClient
from cc_sync.constant_contact.errors import AuthError
from cc_sync.constant_contact.ratelimit import DailyBudget
from cc_sync.sync.engine import SyncEngine


class WatchedClient:
	"""The CC client as the engine sees it, plus two things the site wants: progress and auth state.

	It notes an `AuthError` by type (also one raised while a page iterator is consumed), so the
	settings page can say the connection needs attention without parsing messages, and it counts the
	contacts read so a running sync can say how far it has got: "X of N" while a read whose size CC
	gave (`include_count` on its first page, which an export that replaces the paging keeps) is under
	way. A one-contact count probe (`limit=1`) is not such a read.
	"""

	def __init__(
		self, client: ConstantContactClient, on_progress: Callable[[WatchedClient], None] | None = None
	) -> None:
		self._client = client
		self._on_progress = on_progress
		self.auth_error: AuthError | None = None
		self.contacts_read = 0
		# The current sized read: CC's count of what it selects, and how many of those were read.
		self.total: int | None = None
		self.done = 0

	def __getattr__(self, name: str) -> Any:
		attr = getattr(self._client, name)
		if name.startswith("_") or not callable(attr):
			return attr

		def call(*args: Any, **kwargs: Any) -> Any:
			try:
				result = attr(*args, **kwargs)
			except AuthError as exc:
				self.auth_error = exc
				raise
			self._progress()
			if isinstance(result, Iterator):
				return self._watch(result, self._scope(name, kwargs))
			return result

		return call

	def _progress(self) -> None:
		if self._on_progress:
			self._on_progress(self)

	def _scope(self, name: str, kwargs: dict[str, Any]) -> str | None:
		"""Which read this is: "pages" for one CC sizes, "export" for an export's rows (the same contacts)."""
		if name == "iter_contact_pages" and kwargs.get("include_count") and kwargs.get("limit") != 1:
			self.total, self.done = None, 0
			return "pages"
		if name == "read_contact_export":
			self.done = 0
			return "export"
		if name == "iter_contact_pages" and kwargs.get("limit") != 1:
			self.total, self.done = None, 0
		return None

	def _watch(self, items: Iterator[Any], scope: str | None = None) -> Iterator[Any]:
		try:
			for number, item in enumerate(items):
				contacts = getattr(item, "contacts", None)
				read = len(contacts) if contacts is not None else int(hasattr(item, "contact_id"))
				self.contacts_read += read
				if scope == "pages" and number == 0:
					self.total = getattr(item, "contacts_count", None)
				if scope:
					self.done += read
				self._progress()
				yield item
		except AuthError as exc:
			self.auth_error = exc
			raise


@dataclass
class Wiring:
	"""An engine ready to run, and what the runner reads back afterwards."""

	engine: SyncEngine
	client: WatchedClient
	budget: DailyBudget


def build_client(settings: Any, budget: DailyBudget | None = None) -> ConstantContactClient:
	"""A CC client for the connected account; the API host comes from site config only."""
	return ConstantContactClient(
		token_provider(settings),
		base_url=frappe.conf.get(CONF_API_BASE) or DEFAULT_BASE_URL,
		budget=budget,
	)


def build_budget(settings: Any) -> DailyBudget:
	"""Today's call count as stored, so the settings page shows what all runs spent together."""
	day = getdate(settings.api_calls_day) if settings.api_calls_day else None
	return DailyBudget(used=cint(settings.api_calls_today), day=day)


def build_store(settings: Any) -> Any:
	"""The Frappe store; with no pushed DocType chosen the push finds nothing to send."""
	from cc_sync.cc_sync.store import FrappeStore

	return FrappeStore(
		push_doctype=settings.push_doctype or "",
		push_filters=push_filters(settings),
		push_targets=push_targets(settings),
		site_fields=[rule.site_field for rule in field_rules(settings.field_map)],
	)


def build(settings: Any, on_progress: Callable[[WatchedClient], None] | None = None) -> Wiring:
	require_connection(settings)
	budget = build_budget(settings)
	client = WatchedClient(build_client(settings, budget), on_progress)
	engine = SyncEngine(client, build_store(settings), sync_config(settings))
	return Wiring(engine=engine, client=client, budget=budget)


def save_budget(client: Any, budget: DailyBudget) -> None:
	"""Add this run's calls to today's stored count (other runs may have added theirs meanwhile)."""
	spent = cint(getattr(client, "calls", 0))
	stored = stored_values(("api_calls_today", "api_calls_day"))
	today = budget.day
	total = spent
	if stored.get("api_calls_day") and getdate(stored["api_calls_day"]) == today:
		total += cint(stored.get("api_calls_today"))
	if budget.used >= budget.limit:
		# CC answered quota_exceeded: nothing is left until midnight UTC, whatever we counted.
		total = max(total, budget.limit)
	update_settings({"api_calls_today": total, "api_calls_day": today})
