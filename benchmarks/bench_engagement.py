"""The engagement stream's API calls and site time for one campaign sent to a whole account.

    python -m benchmarks.bench_engagement --contacts 100000                # calls (in-memory store)
    cd frappe-bench/sites && ../env/bin/python -m benchmarks.bench_engagement --site cc.test  # + site time

An account of N contacts all on one list gets one campaign at typical rates (25 % unique opens, 3.5 %
clicks, 1.5 % bounces, 0.2 % opt-outs), arriving over two days on the emulator's fake clock. Printed: the
calls of the first read (after two hours, and after two days: everything at once), the calls of each
hourly run meanwhile (the most and the total), and with `--site`, the time the Frappe store spent
writing (events, their people's summaries, campaign counts), measured around each store call.
Targets: a first read of at most 100 calls, a steady hourly run of at most 10.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

if __package__ in (None, ""):
	sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.site_rows import delete_people
from benchmarks.timing import TimedStore
from cc_sync.constant_contact.auth import StaticTokenProvider
from cc_sync.constant_contact.client import ConstantContactClient
from cc_sync.constant_contact.clock import FakeClock
from cc_sync.sync.config import ListMapping, SyncConfig
from cc_sync.sync.engine import SyncEngine
from cc_sync.sync.streams import STREAM_CHANGES, STREAM_ENGAGEMENT
from cc_sync_testkit.emulator import ConstantContactEmulator
from cc_sync_testkit.memory import MemoryStore

DOMAIN = "ccengage.test"
GROUP = "CC Engagement Bench"
RATES = {"open_rate": 0.25, "click_rate": 0.035, "bounce_rate": 0.015, "optout_rate": 0.002}
STORE_WRITES = ("add_engagement", "save_campaigns", "set_state", "commit")


def run(
	engine: SyncEngine, emu: ConstantContactEmulator, store: TimedStore
) -> tuple[int, float, float, object]:
	calls, store.seconds = emu.calls, 0.0
	with emu.mocked():
		t0 = time.perf_counter()
		report = engine.run([STREAM_ENGAGEMENT])
		seconds = time.perf_counter() - t0
	stream = report.streams[STREAM_ENGAGEMENT]
	assert stream.status == "success", stream.traceback or stream.error
	return emu.calls - calls, seconds, store.seconds, stream


def main() -> None:
	parser = argparse.ArgumentParser()
	parser.add_argument("--contacts", type=int, default=100_000)
	parser.add_argument("--site", default=os.environ.get("CC_SYNC_SITE"))
	parser.add_argument(
		"--sites-path", default=os.environ.get("CC_SYNC_BENCH") and f"{os.environ['CC_SYNC_BENCH']}/sites"
	)
	parser.add_argument("--first-after-hours", type=float, default=2.0)
	args = parser.parse_args()

	clock = FakeClock(datetime.now(timezone.utc).replace(microsecond=0))
	emu = ConstantContactEmulator(clock, rate_limit=None, daily_quota=None)
	list_id = emu.create_list("Everyone")
	t0 = time.perf_counter()
	for i in range(args.contacts):
		emu.add_contact(f"p{i}@{DOMAIN}", first_name=f"P{i}", list_ids=[list_id])
	emu.send_campaign(list_id, name="Bench campaign", **RATES)
	print(
		f"account of {args.contacts:,} contacts and one campaign to all of them: {time.perf_counter() - t0:.0f} s"
	)
	emu.auth.access_token_ttl = 10**9
	access, _ = emu.issue_tokens("contact_data campaign_data offline_access")
	client = ConstantContactClient(StaticTokenProvider(access), clock=clock, rng=random.Random(7))
	config = SyncConfig(list_mappings=(ListMapping(list_id, GROUP, "pull"),), campaign_data=True)

	frappe = None
	if args.site:
		import frappe

		from cc_sync.cc_sync.store import FrappeStore

		frappe.init(site=args.site, sites_path=args.sites_path or os.getcwd())
		frappe.connect()
		frappe.set_user("Administrator")
		saved = {
			f: frappe.db.get_single_value("Constant Contact Settings", f, cache=False)
			for f in ("sync_state", "changes_watermark")
		}
		cleanup(frappe)
		if not frappe.db.exists("Email Group", GROUP):
			frappe.get_doc({"doctype": "Email Group", "title": GROUP}).insert(ignore_permissions=True)
		frappe.db.commit()
		inner = FrappeStore()
	else:
		inner = MemoryStore(now=clock.now)
	store = TimedStore(inner, only=STORE_WRITES)
	engine = SyncEngine(client, store, replace(config, export_threshold=0), clock)
	try:
		if frappe is not None:
			# The site holds the account's contacts first, as it would after its first sync.
			t0 = time.perf_counter()
			with emu.mocked():
				engine.run([STREAM_CHANGES])
			print(f"site filled with the {args.contacts:,} contacts in {time.perf_counter() - t0:.0f} s")
			inner.set_state("engagement", {})
			inner.commit()
		clock.advance(args.first_after_hours * 3600)
		calls, seconds, site, stream = run(engine, emu, store)
		print(
			f"first read, {args.first_after_hours:g} h after the send: {calls} calls, {stream.fetched:,} rows, "
			f"{stream.created:,} events; {seconds:.1f} s end to end, site {site:.1f} s"
		)
		hourly = []
		for _ in range(int(48 - args.first_after_hours)):
			clock.advance(3600)
			hourly.append(run(engine, emu, store))
		print(
			f"hourly runs to two days: at most {max(h[0] for h in hourly)} calls a run "
			f"({sum(h[0] for h in hourly)} in {len(hourly)} runs); at most {max(h[1] for h in hourly):.1f} s "
			f"end to end, site at most {max(h[2] for h in hourly):.1f} s; "
			f"{sum(h[3].created for h in hourly):,} events"
		)
		clock.advance(3600)
		calls, seconds, site, stream = run(engine, emu, store)
		print(f"a run once nothing arrives: {calls} calls")
		# Everything at once: a new connection reading the same campaign two days after it was sent.
		emu2_store = TimedStore(MemoryStore(now=clock.now), only=STORE_WRITES)
		engine2 = SyncEngine(client, emu2_store, config, clock)
		calls, seconds, _site, stream = run(engine2, emu, emu2_store)
		print(
			f"first read two days after the send (all engagement in, in-memory store): {calls} calls, "
			f"{stream.fetched:,} rows in {seconds:.1f} s"
		)
	finally:
		if frappe is not None:
			cleanup(frappe)
			frappe.db.set_single_value("Constant Contact Settings", saved, update_modified=False)
			frappe.db.commit()
			frappe.destroy()


def cleanup(frappe) -> None:
	"""Remove what the benchmark made on the site: its contacts, their events, its campaign."""
	pattern = f"%@{DOMAIN}"
	frappe.db.sql("delete from `tabConstant Contact Engagement` where email like %s", pattern)
	frappe.db.sql(
		"""delete from `tabConstant Contact Campaign` where name not in
		(select distinct campaign from `tabConstant Contact Engagement` where campaign is not null)"""
	)
	delete_people(frappe, pattern)
	frappe.db.sql("delete from `tabEmail Group` where name = %s", GROUP)
	frappe.db.commit()


if __name__ == "__main__":
	main()
