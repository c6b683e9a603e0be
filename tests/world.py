"""One world for the sync's tests, on either tier: the emulator, the real client, a store, one fake clock.

Tier 1 uses the in-memory store; tier 2 passes the Frappe store and the site it writes
(`tests/integration/test_frappe_scenarios.make_world`). Everything else is built the same way.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any

from cc_sync.constant_contact.auth import OAuthClient, OAuthTokenProvider, StaticTokenProvider
from cc_sync.constant_contact.client import ConstantContactClient
from cc_sync.constant_contact.clock import FakeClock
from cc_sync.constant_contact.models import TokenSet
from cc_sync.sync.config import ListMapping, SyncConfig
from cc_sync.sync.engine import SyncEngine
from cc_sync_testkit.emulator import ConstantContactEmulator
from cc_sync_testkit.memory import MemoryStore

START = datetime(2024, 6, 1, 12, 0, tzinfo=timezone.utc)


@dataclass
class World:
	clock: FakeClock
	emu: ConstantContactEmulator
	client: ConstantContactClient
	store: Any
	config: SyncConfig
	engine: SyncEngine
	list_id: str
	# The site the store writes, where there is one (tier 2).
	site: Any = None
	# A run with a failed stream fails the test (tier 2 scenarios, where a failure is never expected).
	strict: bool = False
	# Consent events that took effect, in order: (email, "in" | "out").
	consent_events: list[tuple[str, str]] = field(default_factory=list)

	def map_lists(self, *mappings: ListMapping) -> None:
		"""The settings' list mappings change (a list mapped, remapped to another group, its direction
		changed, or unmapped): the engine runs with them from now on, and the site records group leaves
		against them."""
		self.config = replace(self.config, list_mappings=tuple(mappings))
		self.engine.config = self.config
		if self.site is not None and hasattr(self.site, "map_lists"):
			self.site.map_lists(self.config.list_mappings)
		else:
			self.store.list_mappings = self.config.list_mappings

	def run(self, *streams: str, dry_run: bool = False):
		report = self.engine.run(streams or None, dry_run=dry_run)
		if self.strict:
			failed = {n: s.error for n, s in report.streams.items() if s.status == "failed"}
			assert not failed, failed
		return report


def make_world(
	start: datetime = START,
	*,
	rng_seed: int = 0,
	store: Any = None,
	group: str = "Newsletter",
	static_token: bool = False,
	site: Any = None,
	strict: bool = False,
	scope: str = "contact_data offline_access",
	**emu_kwargs: Any,
) -> World:
	"""The emulator with one list mapped both ways to `group`, and an engine over `store` (in-memory when
	none is given). `static_token` skips CC's token refresh (a token that outlives any clock jump); `scope`
	is what the connection was granted."""
	clock = FakeClock(start)
	if static_token:
		emu_kwargs.setdefault("access_token_ttl", 10 * 365 * 86400.0)
	emu = ConstantContactEmulator(clock, **emu_kwargs)
	access, refresh = emu.issue_tokens(scope)
	if static_token:
		provider: Any = StaticTokenProvider(access)
	else:
		# The real OAuth provider: tests that jump days ahead go through CC's rotating refresh.
		oauth = OAuthClient(emu.client_id, emu.client_secret, "https://site.example/callback", clock=clock)
		tokens = TokenSet(
			access_token=access, refresh_token=refresh, expires_at=clock.now() + timedelta(hours=24)
		)
		persisted: list[TokenSet] = []
		provider = OAuthTokenProvider(oauth, tokens, persisted.append, clock=clock)
	client = ConstantContactClient(provider, clock=clock, rng=random.Random(rng_seed))
	if store is None:
		store = MemoryStore(now=clock.now)
	list_id = emu.create_list("Newsletter")
	config = SyncConfig(list_mappings=(ListMapping(list_id, group, "both"),), activity_poll_interval=1.0)
	engine = SyncEngine(client, store, config, clock)
	if isinstance(store, MemoryStore):
		store.list_mappings = config.list_mappings
	return World(clock, emu, client, store, config, engine, list_id, site=site, strict=strict)
