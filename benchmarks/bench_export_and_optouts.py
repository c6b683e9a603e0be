"""What a whole-account read costs through CC's export and through paging, and how the opt-out stream's
self-check behaves with `optout_after` working, ignored, and returning nothing.

    python -m benchmarks.bench_export_and_optouts [--contacts 100000] [--optout-contacts 10000]

Figures printed, nothing asserted. Three parts:
1. API calls each path spends for 10k, 100k and 1M contacts (from the paths' own arithmetic), and what
   that means against CC's limits (4 calls/s, 10,000 calls/day shared by every site on the API key).
2. A measured first sync (backfill) of `--contacts` contacts from the emulator, once through the export
   and once through paging: API calls, wall time of this code, and the time CC's 4 calls/s would add.
3. The opt-out self-check against the emulator switched to each `optout_after` behaviour: what the
   stream concludes, whether a person's CC opt-out still reaches the site, and the calls per opt-out run.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

from benchmarks.common import account, timed
from cc_sync.sync.config import ListMapping, SyncConfig
from cc_sync.sync.engine import SyncEngine
from cc_sync.sync.exports import export_calls, paging_calls
from cc_sync.sync.optouts import STATE
from cc_sync.sync.streams import STREAM_CHANGES, STREAM_OPTOUT_PUSH, STREAM_OPTOUT_SCAN, STREAM_OPTOUTS
from cc_sync_testkit.memory import MemoryStore

RATE = 4  # CC's calls per second per API key
DAILY = 10_000


def poll_count(export_seconds: float, first: float = 2.0, cap: float = 30.0) -> int:
	"""Polls the export path makes while CC takes `export_seconds` to build the file (2 s, doubling, ≤30 s)."""
	waited, delay, polls = 0.0, first, 0
	while waited < export_seconds:
		waited += delay
		delay = min(delay * 2, cap)
		polls += 1
	return max(polls, 1)


def call_table() -> None:
	print("1. API calls for one whole-account read (backfill or full reconcile)")
	print(
		f"   {'contacts':>10}  {'paging':>7}  {'export (CC builds in 30 s / 5 min / 20 min)':>44}  paging share of a day"
	)
	for n in (10_000, 100_000, 1_000_000):
		# Paging: one call per 500 contacts, plus the custom-field lookup the field map needs.
		paging = paging_calls(n) + 1
		# Export: the counting first page, then POST, polls, list and field lookups, download.
		exports = [1 + export_calls(poll_count(s)) for s in (30, 300, 1200)]
		print(
			f"   {n:>10,}  {paging:>7,}  {' / '.join(str(e) for e in exports):>44}  "
			f"{paging / DAILY:.1%} of 10,000/day; {paging / RATE:,.0f} s at 4 calls/s"
		)


def fallback_table() -> None:
	print("\n   If optout_after proves unreliable, each opt-out run (every 15 min: 96 a day) scans every")
	print("   unsubscribed and deleted contact (5% + 2% of the account here): paged below the export")
	print("   threshold, one export above it")
	for n in (10_000, 100_000, 1_000_000):
		unsubscribed = n * 5 // 100
		paged = paging_calls(unsubscribed) + paging_calls(n * 2 // 100)
		# The unsubscribed count (first page) decides: above the default threshold of 5,000, an export.
		per_run = paged if unsubscribed <= 5_000 else 1 + export_calls(poll_count(30))
		print(
			f"   {n:>10,} contacts: {per_run} calls a run, {per_run * 96:,} a day (paged it would be {paged * 96:,})"
		)


def backfill(contacts: int, threshold: int) -> tuple[int, float, float, float, int]:
	"""(API calls, wall seconds, CPU seconds, CPU seconds of the emulator answering, site contacts)."""
	emu, client, clock = account(contacts)
	served = [0.0]
	handle = emu.handle

	def timed_handle(*args, **kwargs):
		t0 = time.process_time()
		try:
			return handle(*args, **kwargs)
		finally:
			served[0] += time.process_time() - t0

	emu.handle = timed_handle
	lists = emu.list_ids()
	config = SyncConfig(
		list_mappings=tuple(ListMapping(lid, f"Group {i}", "pull") for i, lid in enumerate(lists)),
		export_threshold=threshold,
	)
	store = MemoryStore(now=clock.now)
	engine = SyncEngine(client, store, config, clock)
	with emu.mocked():
		cpu0 = time.process_time()
		report, seconds = timed(lambda: engine.run([STREAM_CHANGES]))
		cpu = time.process_time() - cpu0
	stream = report.streams[STREAM_CHANGES]
	assert stream.status == "success", stream.error
	return stream.api_calls, seconds, cpu, served[0], len(store.contacts)


def measured_backfill(contacts: int) -> None:
	print(f"\n2. First sync (backfill) of {contacts:,} contacts from the emulator (deleted ones are left to")
	print("   the deletes stream on the export path, as CC's export holds no deleted contacts)")
	for label, threshold in (("export", 5_000), ("paging", 0)):
		calls, seconds, cpu, served, created = backfill(contacts, threshold)
		print(
			f"   {label:>7}: {calls:>4} API calls; {seconds:6.2f} s wall, {cpu:.2f} s CPU of which {served:5.2f} s "
			f"the emulator answering and {cpu - served:5.2f} s this code (client, parsing, engine, store); "
			f"CC's 4 calls/s adds at least {calls / RATE:.1f} s; {created:,} site contacts"
		)


def optout_world(contacts: int, mode: str):
	from tests.world import make_world

	w = make_world(rate_limit=None, optout_after=mode)
	w.engine.config = replace(w.config, export_threshold=0)
	from cc_sync_testkit.emulator import generate_account

	generate_account(w.emu, contacts=contacts, lists=0, custom_fields=0, seed=3)
	return w


def optout_behaviour(contacts: int) -> None:
	print(f"\n3. The opt-out self-check, {contacts:,} contacts (5% unsubscribed), per optout_after behaviour")
	job = (STREAM_OPTOUTS, STREAM_OPTOUT_PUSH)
	for mode in ("filters", "ignored", "empty"):
		w = optout_world(contacts, mode)
		with w.emu.mocked():
			first = w.run(*job).streams[STREAM_OPTOUTS]
			# A site opt-out, pushed to CC by the job; the next job must see it come back.
			w.clock.advance(600)
			person = next(
				c for c in w.emu.contacts if c["email_address"]["permission_to_send"] != "unsubscribed"
			)
			w.store.add_contact(person["email_address"]["address"])
			w.store.unsubscribe_locally(person["email_address"]["address"])
			w.store.commit()
			w.run(*job)
			# Meanwhile a person unsubscribes in CC.
			other = next(
				c
				for c in w.emu.contacts
				if c["email_address"]["permission_to_send"] != "unsubscribed"
				and c is not person
				and not c.get("deleted_at")
			)
			w.clock.advance(900)
			w.emu.unsubscribe(other["contact_id"])
			w.clock.advance(900)
			check = w.run(*job).streams[STREAM_OPTOUTS]
			w.clock.advance(900)
			steady = w.run(*job).streams[STREAM_OPTOUTS]
			w.clock.advance(86_400)
			scan = w.run(STREAM_OPTOUT_SCAN).streams[STREAM_OPTOUT_SCAN]
		state = w.store.get_state(STATE)
		reached = w.store.contact_by_email(other["email_address"]["address"])
		print(f"   optout_after {mode}:")
		print(f"     first run: {first.api_calls} calls, {first.unsubscribed} opt-outs applied")
		print(
			f"     after every run: optout_after reliable={state['reliable']}; reason: {state.get('reason') or '-'}"
		)
		print(f"     the person's CC opt-out reached the site: {bool(reached and reached.unsubscribed)}")
		print(
			f"     run after the pushed opt-out: {check.api_calls} calls; steady run: {steady.api_calls} calls"
		)
		print(f"     settings page: {steady.notice}")
		print(f"     daily safety scan: {scan.notice}")


def main() -> None:
	parser = argparse.ArgumentParser()
	parser.add_argument("--contacts", type=int, default=100_000)
	parser.add_argument("--optout-contacts", type=int, default=10_000)
	args = parser.parse_args()
	call_table()
	fallback_table()
	measured_backfill(args.contacts)
	optout_behaviour(args.optout_contacts)


if __name__ == "__main__":
	main()
