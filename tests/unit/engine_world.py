"""A world for engine tests: the emulator, the real client, the in-memory store, one fake clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from cc_sync.constant_contact.auth import OAuthClient, OAuthTokenProvider
from cc_sync.constant_contact.client import ConstantContactClient
from cc_sync.constant_contact.clock import FakeClock
from cc_sync.constant_contact.emulator import ConstantContactEmulator
from cc_sync.constant_contact.models import TokenSet
from cc_sync.sync.config import ListMapping, SyncConfig
from cc_sync.sync.engine import SyncEngine
from cc_sync.sync.memory_store import MemoryStore

START = datetime(2024, 6, 1, 12, 0, tzinfo=timezone.utc)


@dataclass
class World:
	clock: FakeClock
	emu: ConstantContactEmulator
	client: ConstantContactClient
	store: MemoryStore
	config: SyncConfig
	engine: SyncEngine
	list_id: str
	# Consent events that took effect, in order: (email, "in" | "out").
	consent_events: list[tuple[str, str]] = field(default_factory=list)

	def run(self, *streams: str, dry_run: bool = False):
		return self.engine.run(streams or None, dry_run=dry_run)


def make_world(start: datetime = START, *, rng_seed: int = 0, **emu_kwargs) -> World:
	import random

	clock = FakeClock(start)
	emu_kwargs.setdefault("rate_limit", 4)
	emu = ConstantContactEmulator(clock, **emu_kwargs)
	access, refresh = emu.issue_tokens()
	# The real OAuth provider: tests that jump days ahead go through CC's rotating refresh.
	oauth = OAuthClient(emu.client_id, emu.client_secret, "https://site.example/callback", clock=clock)
	tokens = TokenSet(
		access_token=access, refresh_token=refresh, expires_at=clock.now() + timedelta(hours=24)
	)
	persisted: list[TokenSet] = []
	provider = OAuthTokenProvider(oauth, tokens, persisted.append, clock=clock)
	client = ConstantContactClient(provider, clock=clock, rng=random.Random(rng_seed))
	store = MemoryStore(now=clock.now)
	list_id = emu.create_list("Newsletter")
	config = SyncConfig(
		list_mappings=(ListMapping(list_id, "Newsletter", "both"),),
		activity_poll_interval=1.0,
	)
	engine = SyncEngine(client, store, config, clock)
	return World(clock, emu, client, store, config, engine, list_id)
