"""The engine's speed and memory: a first pull into the in-memory store, the engine alone, and an
incremental run with nothing changed.

    python -m benchmarks.bench_engine_pull [--contacts 100000]

Figures printed, nothing asserted. Targets: the engine applies ≥ 20,000 contacts/s on one core (CC
serves at most 2,000/s: 500 per page, 4 pages/s); transient memory stays flat as the account grows;
a no-change run costs one call per stream.
"""

from __future__ import annotations

import argparse
import time

from benchmarks.common import account, forget_calls, max_rss, mib, timed, traced_peak
from cc_sync.sync.apply import PageApplier
from cc_sync.sync.config import ListMapping, SyncConfig
from cc_sync.sync.engine import SyncEngine
from cc_sync.sync.report import StreamReport
from cc_sync.sync.streams import STREAM_CHANGES, STREAM_DELETES, STREAM_OPTOUTS
from cc_sync_testkit.memory import MemoryStore

PULLS = (STREAM_OPTOUTS, STREAM_DELETES, STREAM_CHANGES)


def first_pull(contacts: int) -> None:
	emu, client, clock = account(contacts)
	lists = emu.list_ids()
	config = SyncConfig(
		list_mappings=tuple(ListMapping(lid, f"Group {i}", "pull") for i, lid in enumerate(lists)),
		# Paging measured here; bench_export_and_optouts compares it with CC's export.
		export_threshold=0,
	)
	store = MemoryStore(now=clock.now)
	engine = SyncEngine(client, store, config, clock)
	with emu.mocked():
		rss_before = max_rss()
		report, seconds = timed(lambda: engine.run(PULLS))
		changes = report.streams[STREAM_CHANGES]
		print(
			f"first pull, {contacts:,} contacts: {seconds:.2f} s, {changes.fetched / seconds:,.0f} contacts/s "
			"end to end (emulator serving, HTTP mock, parsing, engine, store)"
		)
		print(
			f"  created {len(store.contacts):,} site contacts, {len(store.members):,} group rows; "
			f"peak RSS grew {mib(max_rss() - rss_before)} (the in-memory store holds every contact)"
		)
		# The engine alone: the same pages, already fetched and parsed, applied to a fresh store.
		pages = [
			p.contacts
			for p in client.iter_contact_pages(status="all", include=list(config.include), limit=500)
		]
		fresh = MemoryStore(now=clock.now)
		applier = PageApplier(fresh, config, StreamReport(STREAM_CHANGES), now=clock.now)
		t0 = time.perf_counter()
		for page in pages:
			applier.apply(page)
			fresh.commit()
		engine_seconds = time.perf_counter() - t0
		print(
			f"  engine alone (decide + apply, parsed pages in hand): {contacts / engine_seconds:,.0f} contacts/s"
		)
		t0 = time.perf_counter()
		for page in pages:
			applier.apply(page)
		again = time.perf_counter() - t0
		print(f"  engine alone on unchanged data (no writes): {contacts / again:,.0f} contacts/s")
		planner = PageApplier(
			MemoryStore(now=clock.now), config, StreamReport(STREAM_CHANGES), now=clock.now, dry_run=True
		)
		t0 = time.perf_counter()
		for page in pages:
			planner.apply(page)
		decide = time.perf_counter() - t0
		print(
			f"  engine decisions alone (matching, consent, fields, groups; no store): {contacts / decide:,.0f} contacts/s"
		)

		clock.advance(900)
		calls_before = client.calls
		t0 = time.perf_counter()
		report = engine.run(PULLS)
		seconds = time.perf_counter() - t0
		calls = {name: report.streams[name].api_calls for name in PULLS}
		print(
			f"no-change incremental run: {client.calls - calls_before} API calls {calls}, {seconds * 1000:.0f} ms"
		)


def resume_after_failure(contacts: int, at: float = 0.9) -> None:
	"""An incremental read of `contacts` changed contacts whose site fails part way: the calls the next run
	spends carrying on from the last applied page, and (the old behaviour: the resume point dropped)
	reading from the first page again."""
	for label, keep in (("carrying on from the last applied page", True), ("starting over (old)", False)):
		emu, client, clock = account(contacts)
		config = SyncConfig(
			list_mappings=tuple(
				ListMapping(lid, f"Group {i}", "pull") for i, lid in enumerate(emu.list_ids())
			)
		)
		store = MemoryStore(now=clock.now)
		engine = SyncEngine(client, store, config, clock)
		with emu.mocked():
			engine.run([STREAM_CHANGES])
			clock.advance(900)
			for contact in list(emu.contacts):
				emu.edit_contact(contact["contact_id"], job_title="Changed")
			clock.advance(60)
			pages = -(-contacts // config.page_limit)
			fail_at = max(1, int(pages * at))
			applied = 0

			def before_write(operation: str) -> None:
				nonlocal applied
				if operation == "apply_contacts":
					applied += 1
					if applied == fail_at:
						raise RuntimeError("the site failed")

			store.before_write = before_write
			failed = engine.run([STREAM_CHANGES])
			store.before_write = None
			if not keep:
				store.states.clear()
				store.commit()
			clock.advance(900)
			again = engine.run([STREAM_CHANGES])
		print(
			f"  {contacts:,} changed contacts, failure at page {fail_at:,} of {pages:,}: that run spent "
			f"{failed.streams[STREAM_CHANGES].api_calls:,} calls; the next, {label}: "
			f"{again.streams[STREAM_CHANGES].api_calls:,} calls"
		)


def streaming_memory(sizes: list[int]) -> None:
	"""Peak memory of paging alone as the account grows: flat when pages are streamed."""
	for n in sizes:
		emu, client, _ = account(n)
		with emu.mocked() as rsps:

			def walk(client=client, rsps=rsps) -> int:
				count = 0
				for page in client.iter_contact_pages(status="all", include=["list_memberships"], limit=500):
					count += len(page.contacts)
					forget_calls(rsps)
				return count

			_, peak = traced_peak(walk)
		print(f"  paging {n:>7,} contacts: peak traced memory {mib(peak)}")


def main() -> None:
	parser = argparse.ArgumentParser()
	parser.add_argument("--contacts", type=int, default=100_000)
	args = parser.parse_args()
	first_pull(args.contacts)
	print("an incremental read that fails part way:")
	resume_after_failure(min(args.contacts, 100_000))
	print("streamed paging memory as the account grows:")
	streaming_memory([args.contacts // 4, args.contacts // 2, args.contacts])


if __name__ == "__main__":
	main()
