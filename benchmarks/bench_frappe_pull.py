"""The Frappe store's speed in a real site: a first pull of generated CC contacts, then a re-pull of the
same unchanged contacts.

    cd frappe-bench/sites && ../env/bin/python -m benchmarks.bench_frappe_pull --site cc.test
    (or: ../env/bin/python /path/to/cc_sync/benchmarks/bench_frappe_pull.py --site cc.test)

The emulator runs in-process on a fake clock (no rate-limit sleeps). Printed: contacts/s end to end
and inside the store alone, for the first pull (creates) and the re-pull (which must write nothing:
the SQL write statements it ran are counted). Targets: ≥ 2,000 contacts/s applied; a re-pull with no
change writes no row. Everything the run created is deleted afterwards.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
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
from cc_sync.sync.streams import STREAM_CHANGES
from cc_sync_testkit.emulator import ConstantContactEmulator, generate_account

DOMAIN = "ccbench.test"
GROUP_PREFIX = "CC Bench List"
WRITE_COUNTERS = ("Com_insert", "Com_update", "Com_delete", "Com_replace", "Com_insert_select")


def write_statements(frappe) -> int:
	rows = frappe.db.sql(
		"show session status where Variable_name in %(names)s", {"names": WRITE_COUNTERS}, as_list=True
	)
	return sum(int(value) for _name, value in rows)


def cleanup(frappe, groups: list[str]) -> None:
	delete_people(frappe, f"%@{DOMAIN}")
	for group in groups:
		frappe.db.sql("delete from `tabEmail Group Member` where email_group = %s", group)
		frappe.db.sql("delete from `tabEmail Group` where name = %s", group)
	frappe.db.commit()


def main() -> None:
	parser = argparse.ArgumentParser()
	parser.add_argument("--site", default=os.environ.get("CC_SYNC_SITE"))
	parser.add_argument(
		"--sites-path", default=os.environ.get("CC_SYNC_BENCH") and f"{os.environ['CC_SYNC_BENCH']}/sites"
	)
	parser.add_argument("--contacts", type=int, default=10_000)
	args = parser.parse_args()
	if not args.site:
		parser.error("name the site: --site or CC_SYNC_SITE")

	import frappe

	from cc_sync.cc_sync.constants import SETTINGS
	from cc_sync.cc_sync.store import FrappeStore

	frappe.init(site=args.site, sites_path=args.sites_path or os.getcwd())
	frappe.connect()
	frappe.set_user("Administrator")

	clock = FakeClock(datetime.now(timezone.utc).replace(microsecond=0))
	emu = ConstantContactEmulator(clock, rate_limit=None, daily_quota=None)
	generate_account(emu, contacts=args.contacts, lists=3, custom_fields=0, seed=7, domain=DOMAIN)
	access, _ = emu.issue_tokens()
	emu.auth.access_token_ttl = 10**9
	client = ConstantContactClient(StaticTokenProvider(access), clock=clock, rng=random.Random(7))

	groups = [f"{GROUP_PREFIX} {i + 1}" for i in range(len(emu.list_ids()))]
	watermark_field = f"{STREAM_CHANGES}_watermark"
	saved_watermark = frappe.db.get_single_value(SETTINGS, watermark_field, cache=False)
	if saved_watermark and saved_watermark.year <= 1:
		saved_watermark = None
	cleanup(frappe, groups)
	try:
		for group in groups:
			frappe.get_doc({"doctype": "Email Group", "title": group}).insert(ignore_permissions=True)
		frappe.db.commit()
		config = SyncConfig(
			list_mappings=tuple(
				ListMapping(lid, g, "pull") for lid, g in zip(emu.list_ids(), groups, strict=True)
			),
			export_threshold=0,  # the paged pull, as before the export path existed
		)
		store = TimedStore(FrappeStore())
		engine = SyncEngine(client, store, config, clock)

		def pull(label: str) -> None:
			frappe.db.set_single_value(SETTINGS, watermark_field, None, update_modified=False)
			frappe.db.commit()
			store.seconds = 0.0
			store.applied = 0
			writes_before = write_statements(frappe)
			with emu.mocked():
				t0 = time.perf_counter()
				report = engine.run([STREAM_CHANGES])
				seconds = time.perf_counter() - t0
			writes = write_statements(frappe) - writes_before
			stream = report.streams[STREAM_CHANGES]
			assert stream.status == "success", stream.traceback or stream.error
			print(
				f"{label}: {stream.fetched:,} contacts in {seconds:.2f} s = {stream.fetched / seconds:,.0f} contacts/s "
				f"end to end (emulator, HTTP mock, parsing, engine, site)"
			)
			print(
				f"  store alone: {store.seconds:.2f} s = {stream.fetched / store.seconds:,.0f} contacts/s; "
				f"created {stream.created:,}, updated {stream.updated:,}, unchanged {stream.unchanged:,}, "
				f"skipped {len(stream.skips):,}"
			)
			print(
				f"  contact writes asked of the store: {store.applied:,}; SQL write statements: {writes} "
				"(2 of them move the watermark)"
			)

		clock.advance(60)
		pull("first pull")
		contacts = frappe.db.sql(
			"select count(*) from `tabContact Email` where email_id like %s", f"%@{DOMAIN}"
		)[0][0]
		members = frappe.db.sql(
			"select count(*) from `tabEmail Group Member` where email like %s", f"%@{DOMAIN}"
		)[0][0]
		print(f"  site now holds {contacts:,} of these contacts and {members:,} Email Group Member rows")
		clock.advance(900)
		pull("re-pull, nothing changed")
	finally:
		cleanup(frappe, groups)
		frappe.db.set_single_value(SETTINGS, watermark_field, saved_watermark, update_modified=False)
		frappe.db.commit()
		frappe.destroy()


if __name__ == "__main__":
	main()
