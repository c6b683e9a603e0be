"""API calls the deletes stream spends as the number of contacts CC ever deleted grows: a run with nothing
new should cost one call, and a new delete a few, whatever the size of the deleted list.

    python -m benchmarks.bench_deletes [--deleted 2000 20000 100000]

Each size: an account holding that many deleted contacts (and as many live ones), a first sync, then a
quiet Deletes run, a run after one new delete, and a run after 100 new deletes. Figures printed, nothing
asserted. The emulator stamps no `updated_at` on a delete (the worst case CC may have), so the cheap
"stamped since" read finds nothing and the whole deleted list is read: paged below the export threshold,
through CC's contact export above it.
"""

from __future__ import annotations

import argparse
import random
from datetime import datetime, timezone

from cc_sync.constant_contact.auth import StaticTokenProvider
from cc_sync.constant_contact.client import ConstantContactClient
from cc_sync.constant_contact.clock import FakeClock
from cc_sync.sync.config import SyncConfig
from cc_sync.sync.engine import SyncEngine
from cc_sync.sync.streams import STREAM_CHANGES, STREAM_DELETES
from cc_sync_testkit.emulator import ConstantContactEmulator
from cc_sync_testkit.memory import MemoryStore

START = datetime(2026, 11, 1, tzinfo=timezone.utc)


def quiet(rsps) -> None:
	"""`responses` keeps every request and response; a real transport keeps none."""
	rsps._calls.add = lambda *args, **kwargs: None
	for route in rsps.registered():
		route._calls.add = lambda *args, **kwargs: None


def deletes(deleted: int, seed: int = 1) -> None:
	clock = FakeClock(START)
	emu = ConstantContactEmulator(clock, rate_limit=None, daily_quota=None)
	ids = [emu.add_contact(f"c{i:07d}@example.com") for i in range(2 * deleted + 100)]
	for cc_id in ids[:deleted]:
		emu.delete_contact(cc_id)
	access, _ = emu.issue_tokens()
	emu.auth.access_token_ttl = 10**9
	client = ConstantContactClient(StaticTokenProvider(access), clock=clock, rng=random.Random(seed))
	store = MemoryStore(now=clock.now)
	engine = SyncEngine(client, store, SyncConfig(), clock)
	figures = {}
	with emu.mocked() as rsps:
		quiet(rsps)
		first = engine.run([STREAM_CHANGES, STREAM_DELETES])
		figures["first sync"] = first.streams[STREAM_DELETES].api_calls
		for _ in range(2):  # past the changes pull's overlap window
			clock.advance(3600)
			engine.run([STREAM_CHANGES, STREAM_DELETES])
		clock.advance(3600)
		figures["nothing new"] = engine.run([STREAM_DELETES]).streams[STREAM_DELETES].api_calls
		emu.delete_contact(ids[deleted])
		clock.advance(3600)
		figures["1 new delete"] = engine.run([STREAM_DELETES]).streams[STREAM_DELETES].api_calls
		for cc_id in ids[deleted + 1 : deleted + 101]:
			emu.delete_contact(cc_id)
		clock.advance(3600)
		figures["100 new deletes"] = engine.run([STREAM_DELETES]).streams[STREAM_DELETES].api_calls
	held = sum(1 for c in store.contacts.values() if c.cc_deleted)
	print(
		f"{deleted:>8,} deleted in CC: deletes-stream calls "
		+ ", ".join(f"{k} {v}" for k, v in figures.items())
		+ f"; site holds {held:,} as deleted"
	)


def main() -> None:
	parser = argparse.ArgumentParser()
	parser.add_argument("--deleted", type=int, nargs="+", default=[2_000, 20_000, 100_000])
	args = parser.parse_args()
	for n in args.deleted:
		deletes(n)


if __name__ == "__main__":
	main()
