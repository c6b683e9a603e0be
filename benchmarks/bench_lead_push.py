"""API calls a lead push spends, as the number of leads grows: they should grow with the leads, not their
square, and 1M leads should fit in one day's quota (10,000 calls) with room to spare.

    python -m benchmarks.bench_lead_push [--leads 10000 100000 1000000] [--chunk 5000]

    # against a real site (a Lead DocType: ERPNext's, or the test stand-in), from the bench's sites folder
    ../env/bin/python ../apps/cc_sync/benchmarks/bench_lead_push.py --site SITE --leads 10000 50000

Each size runs the scheduled Push job (which pulls opt-outs, changes and deletes first, pushes, and follows
the imports) against the in-process emulator until every lead is settled, then one scheduled Changes run
(which reads the contacts the imports created, as it would any contact CC created). Figures printed,
nothing asserted. CC's own pace (4 requests/s) is not waited out: the clock is virtual.

With `--site`, the leads are rows of the site's Lead table (inserted in SQL, removed afterwards with the
Contacts the Changes run made of them) and the site's own store runs the push; the site's share of the
time is printed too.
"""

from __future__ import annotations

import argparse
import base64
import os
import random
import sys
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import parse_qs

if __package__ in (None, ""):
	sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cc_sync.constant_contact.auth import StaticTokenProvider
from cc_sync.constant_contact.client import ConstantContactClient
from cc_sync.constant_contact.clock import FakeClock
from cc_sync.sync.config import ListMapping, SyncConfig
from cc_sync.sync.engine import SyncEngine
from cc_sync.sync.streams import STREAM_ACTIVITIES, STREAM_CHANGES, STREAM_OPTOUT_PUSH, STREAM_PUSH
from cc_sync_testkit.emulator import ConstantContactEmulator
from cc_sync_testkit.memory import MemoryStore

START = datetime(2026, 11, 1, tzinfo=timezone.utc)
DAILY_QUOTA = 10_000
PUSH_JOB = (STREAM_OPTOUT_PUSH, STREAM_ACTIVITIES, STREAM_PUSH)
READ_BACK_KEYS = ("created_after", "updated_after", "email")


def _kind(method: str, path: str, query: str) -> str:
	if path == "/v3/activities/contacts_json_import":
		return "import submits"
	if path.startswith("/v3/activities/"):
		return "import polls"
	if path == "/v3/activities":
		return "activity list"
	if path == "/v3/contacts":
		params = parse_qs(query)
		if "cursor" in params:
			return "read-backs" if _cursor_is_read_back(params["cursor"][0]) else "pulls"
		return "read-backs" if any(k in params for k in READ_BACK_KEYS) else "pulls"
	return f"{method} {path}"


def _cursor_is_read_back(cursor: str) -> bool:
	"""The emulator's cursor carries the first request's filters (base64 of a query string)."""
	raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
	return any(key in parse_qs(raw) for key in READ_BACK_KEYS)


def _quiet(rsps) -> None:
	"""`responses` keeps every request and response; a real transport keeps none."""
	rsps._calls.add = lambda *args, **kwargs: None
	for route in rsps.registered():
		route._calls.add = lambda *args, **kwargs: None


class SiteLeads:
	"""Leads in a real site's Lead table, pushed by the site's own store (see `--site`)."""

	def __init__(self, site: str) -> None:
		from benchmarks.bench_frappe_scale import connect

		self.frappe = connect(site, None)
		self.domain = f"{int(time.time()):x}.leadbench.test"

	def store(self, leads: int):
		from benchmarks.bench_frappe_scale import TimedStore
		from cc_sync.cc_sync.constants import IMPORT, LEAD, SETTINGS, WATERMARK_FIELD
		from cc_sync.cc_sync.store import FrappeStore

		frappe = self.frappe
		if not frappe.db.table_exists(LEAD):
			raise SystemExit(f"{LEAD} is not a DocType on this site: install ERPNext (or the test stand-in)")
		columns = set(frappe.db.get_table_columns(LEAD))
		now = frappe.utils.now()
		base = {"creation": now, "modified": now, "owner": "Administrator", "modified_by": "Administrator"}
		for start in range(0, leads, 5000):
			rows = []
			for i in range(start, min(leads, start + 5000)):
				row = {
					**base,
					"name": f"LB-{self.domain[:8]}-{i:07d}",
					"lead_name": f"First{i} Lead",
					"first_name": f"First{i}",
					"last_name": "Lead",
					"company_name": "Co",
					"email_id": f"lead{i:07d}@{self.domain}",
					"status": "Lead",
				}
				rows.append({k: v for k, v in row.items() if k in columns})
			names = list(rows[0])
			frappe.db.sql(
				f"insert into `tab{LEAD}` ({', '.join(f'`{n}`' for n in names)}) values "
				+ ", ".join(["(" + ", ".join(["%s"] * len(names)) + ")"] * len(rows)),
				[r[n] for r in rows for n in names],
			)
		frappe.db.sql(f"delete from `tab{IMPORT}`")
		frappe.db.set_single_value(SETTINGS, WATERMARK_FIELD[STREAM_PUSH], None, update_modified=False)
		frappe.db.set_single_value(SETTINGS, WATERMARK_FIELD[STREAM_CHANGES], None, update_modified=False)
		frappe.db.commit()
		store = FrappeStore(push_filters=[[LEAD, "email_id", "like", f"%@{self.domain}"]])
		return TimedStore(store)

	def statuses(self) -> Counter:
		from cc_sync.cc_sync.constants import LEAD, LEAD_PUSH_STATUS

		rows = self.frappe.db.sql(
			f"select `{LEAD_PUSH_STATUS}`, count(*) from `tab{LEAD}` where email_id like %s group by 1",
			f"%@{self.domain}",
		)
		return Counter({status or "(none)": count for status, count in rows})

	def cleanup(self) -> None:
		from benchmarks.bench_frappe_scale import cleanup
		from cc_sync.cc_sync.constants import IMPORT, LEAD

		frappe = self.frappe
		frappe.db.sql(f"delete from `tab{LEAD}` where email_id like %s", f"%@{self.domain}")
		frappe.db.sql(f"delete from `tab{IMPORT}`")
		frappe.db.commit()
		cleanup(frappe, self.domain)


def push(leads: int, chunk: int, seed: int = 1, site: SiteLeads | None = None) -> dict[str, int]:
	clock = FakeClock(START)
	emu = ConstantContactEmulator(clock, rate_limit=None, daily_quota=None, activity_steps=2)
	list_id = emu.create_list("Leads")
	access, _ = emu.issue_tokens()
	emu.auth.access_token_ttl = 10**9
	client = ConstantContactClient(StaticTokenProvider(access), clock=clock, rng=random.Random(seed))
	if site is None:
		store = MemoryStore(now=clock.now)
		for i in range(leads):
			store.add_lead(
				f"lead{i:07d}@example.com", first_name=f"First{i}", last_name="Lead", company_name="Co"
			)
		store.commit()
	else:
		store = site.store(leads)
	config = SyncConfig(
		list_mappings=(ListMapping(list_id, "Leads", "push"),),
		chunk_max_contacts=chunk,
		activity_poll_interval=2.0,
	)
	engine = SyncEngine(client, store, config, clock)
	t0 = time.perf_counter()
	runs = 0
	with emu.mocked() as rsps:
		_quiet(rsps)
		while True:
			engine.run(PUSH_JOB)
			runs += 1
			if not store.open_activities() or runs >= 20:
				break
			clock.advance(900)
		push_calls = Counter(_kind(*entry) for entry in emu.call_log)
		emu.call_log.clear()
		clock.advance(900)
		engine.run([STREAM_CHANGES])
		after = Counter(_kind(*entry) for entry in emu.call_log)
	seconds = time.perf_counter() - t0
	statuses = site.statuses() if site else Counter(lead.push_status for lead in store.leads.values())
	total = sum(push_calls.values())
	imports = push_calls["import submits"]
	print(
		f"{leads:>9,} leads, {chunk:,} a chunk: push job {total:,} calls over {runs} run(s) "
		f"({100 * total / DAILY_QUOTA:.1f} % of a day's quota): "
		+ ", ".join(f"{k} {v:,}" for k, v in sorted(push_calls.items()))
	)
	per_import = (total - push_calls["pulls"] - imports) / imports if imports else 0
	print(
		f"{'':>9}  {imports} imports; {per_import:.1f} polls + read-backs + list looks per import; "
		f"leads {dict(statuses)}; next Changes run {sum(after.values()):,} calls; {seconds:.1f} s wall"
		+ (f", {store.seconds:.1f} s of it the site's" if site else "")
	)
	if site:
		site.cleanup()
	return dict(push_calls)


def main() -> None:
	parser = argparse.ArgumentParser()
	parser.add_argument("--leads", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
	parser.add_argument("--chunk", type=int, default=SyncConfig().chunk_max_contacts)
	parser.add_argument("--site", default=os.environ.get("CC_SYNC_SITE"), help="push a real site's Leads")
	args = parser.parse_args()
	for n in args.leads:
		push(n, args.chunk, site=SiteLeads(args.site) if args.site else None)


if __name__ == "__main__":
	main()
