"""The Frappe store as the site grows: the old row names and the time-ordered ones, side by side.

    cd frappe-bench/sites
    ../env/bin/python ../apps/cc_sync/benchmarks/bench_frappe_scale.py --site SITE \\
        [--sizes 0,100000,250000,1000000] [--batch 10000] [--first-pulls 10000,100000] [--keep]
    ../env/bin/python ../apps/cc_sync/benchmarks/bench_frappe_scale.py --site LARGE_SITE \\
        --pair-small SMALL_SITE [--pools 128M,256M,384M,512M --find-pool --db-root-password PW]

Parts, each printing figures (nothing is asserted):

1. first pull of 10k and 100k contacts into the site, end to end (in-process emulator on a fake clock,
   so no rate-limit sleeps) and the site's part alone; then an unchanged re-pull (SQL writes counted)
   and an incremental mix (edits, opt-outs, deletes, new contacts: 1 % of the account);
2. 10k-contact batches applied into a site already holding each of `--sizes` contacts, with each
   naming scheme in turn (old, new, new, old), with MariaDB's buffer-pool disk reads per batch;
3. with `--pair-small SITE`, instead: batches taken in turn on SITE (about 100,000 contacts) and on
   `--site` (about a million), for each buffer pool of `--pools` (resized online as root), with the
   ratio of the mean rates; `--find-pool` stops at the first pool whose ratio reaches 0.75.

Each batch's lists are mapped as already filled, so a batch measures the write path alone.

The site is filled to each size straight in SQL, the way the old code named rows (`Ada Lang-17`
Contacts, random 10-hex child and member names), which is what a site that synced before holds; the
fill inserts in name order so it takes minutes, not hours. Everything the run created is deleted
afterwards unless `--keep` (then a later run, for example after restarting MariaDB with another
buffer pool, reuses the fill).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import sys
import time
from datetime import datetime, timedelta, timezone
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
from cc_sync.sync.fill import STATE as FILL_STATE
from cc_sync.sync.streams import STREAM_CHANGES, STREAM_DELETES, STREAM_OPTOUTS
from cc_sync_testkit.emulator import ConstantContactEmulator, generate_account
from cc_sync_testkit.emulator.generator import FIRST, LAST

DOMAIN = "ccbench.test"
FILL_DOMAIN = f"fill.{DOMAIN}"
GROUPS = ("CC Bench List 1", "CC Bench List 2", "CC Bench List 3")
FILL_CHUNK = 250_000
# Batches of this run get addresses of their own, so a run on a kept fill creates what it measures.
RUN = f"{int(time.time()):x}"


def connect(site: str, sites_path: str | None):
	import frappe

	frappe.init(site=site, sites_path=sites_path or os.getcwd())
	frappe.connect()
	frappe.set_user("Administrator")
	return frappe


def status(frappe, *names: str) -> dict[str, int]:
	rows = frappe.db.sql("show global status where Variable_name in %(n)s", {"n": names}, as_list=True)
	return {name: int(value) for name, value in rows}


def load() -> str:
	one, five, _ = os.getloadavg()
	return f"load {one:.1f}/{five:.1f}"


def FrappeStore():
	"""The Frappe store, imported only once frappe is initialised."""
	from cc_sync.cc_sync.store import FrappeStore as Store

	return Store()


def naming(scheme: str):
	"""The row names a run uses: the old scheme (person-named Contacts, random child names) or today's."""
	if scheme == "old":
		from benchmarks.legacy_naming import LegacyNaming

		return LegacyNaming()
	return contextlib.nullcontext()


def emulator(contacts: int, seed: int, domain: str):
	clock = FakeClock(datetime.now(timezone.utc).replace(microsecond=0))
	# Ids from the batch's own seed: every batch creates contacts of its own, none a batch before made.
	emu = ConstantContactEmulator(clock, seed=seed, rate_limit=None, daily_quota=None)
	generate_account(emu, contacts=contacts, lists=len(GROUPS), custom_fields=0, seed=seed, domain=domain)
	access, _ = emu.issue_tokens()
	emu.auth.access_token_ttl = 10**9
	client = ConstantContactClient(StaticTokenProvider(access), clock=clock, rng=random.Random(seed))
	config = SyncConfig(
		list_mappings=tuple(
			ListMapping(lid, g, "pull") for lid, g in zip(emu.list_ids(), GROUPS, strict=True)
		)
	)
	return emu, client, clock, config


def reset_watermarks(frappe) -> None:
	from cc_sync.cc_sync.constants import SETTINGS

	for stream in (STREAM_CHANGES, STREAM_OPTOUTS, STREAM_DELETES):
		frappe.db.set_single_value(SETTINGS, f"{stream}_watermark", None, update_modified=False)
	frappe.db.set_single_value(SETTINGS, "deleted_count", 0, update_modified=False)
	frappe.db.set_single_value(SETTINGS, "sync_state", None, update_modified=False)
	frappe.db.commit()


def run_streams(frappe, engine, emu, streams) -> tuple[object, float]:
	with emu.mocked():
		t0 = time.perf_counter()
		report = engine.run(streams)
		seconds = time.perf_counter() - t0
	frappe.db.commit()
	for name, stream in report.streams.items():
		if stream.status == "failed":
			raise RuntimeError(f"{name} failed: {stream.error}\n{stream.traceback}")
	return report, seconds


def held(frappe) -> int:
	return frappe.db.sql("select count(*) from `tabContact`")[0][0]


# -- part 1: first pull, re-pull, incremental mix ------------------------------------------------------
def first_pull(frappe, contacts: int, scheme: str, mix: bool) -> None:
	domain = f"p{contacts}{scheme}.{DOMAIN}"
	emu, client, clock, config = emulator(contacts, seed=11, domain=domain)
	reset_watermarks(frappe)
	store = TimedStore(FrappeStore())
	engine = SyncEngine(client, store, config, clock)
	clock.advance(60)
	before = status(frappe, "Innodb_buffer_pool_reads", "Com_insert", "Com_update", "Com_delete")
	with naming(scheme):
		report, seconds = run_streams(frappe, engine, emu, [STREAM_CHANGES])
	after = status(frappe, "Innodb_buffer_pool_reads", "Com_insert", "Com_update", "Com_delete")
	changes = report.streams[STREAM_CHANGES]
	print(
		f"  first pull {contacts:>7,} [{scheme}]: {changes.fetched / seconds:6,.0f}/s end to end, "
		f"{changes.fetched / store.seconds:6,.0f}/s site ({store.seconds:.1f} s); "
		f"pool disk reads {after['Innodb_buffer_pool_reads'] - before['Innodb_buffer_pool_reads']:,}; {load()}"
	)
	if not mix:
		return
	clock.advance(900)
	reset_watermarks(frappe)
	store.seconds = 0.0
	before = status(frappe, "Com_insert", "Com_update", "Com_delete", "Com_replace")
	report, seconds = run_streams(frappe, engine, emu, [STREAM_CHANGES])
	after = status(frappe, "Com_insert", "Com_update", "Com_delete", "Com_replace")
	writes = sum(after.values()) - sum(before.values())
	print(
		f"  re-pull of the same {contacts:,}, unchanged: {contacts / seconds:,.0f}/s end to end, "
		f"site {store.seconds:.1f} s; SQL writes {writes} (the watermark's own included)"
	)
	# Incremental mix: 1 % of the account, the streams a scheduled run reads, each past its first run.
	clock.advance(900)
	run_streams(frappe, engine, emu, [STREAM_OPTOUTS, STREAM_DELETES, STREAM_CHANGES])
	rng = random.Random(5)
	ids = [c["contact_id"] for c in emu.contacts if not c.get("deleted_at")]
	picks = rng.sample(ids, contacts // 100)
	quarter = len(picks) // 4
	clock.advance(60)
	for cc_id in picks[:quarter]:
		emu.edit_contact(cc_id, first_name="Changed")
	for cc_id in picks[quarter : 2 * quarter]:
		emu.unsubscribe(cc_id)
	for cc_id in picks[2 * quarter : 3 * quarter]:
		emu.delete_contact(cc_id)
	for i in range(quarter):
		emu.add_contact(f"new{i}@{domain}", first_name="New", list_ids=[emu.list_ids()[0]])
	clock.advance(900)
	store.seconds = 0.0
	report, seconds = run_streams(frappe, engine, emu, [STREAM_OPTOUTS, STREAM_DELETES, STREAM_CHANGES])
	calls = ", ".join(f"{n} {s.api_calls}" for n, s in report.streams.items())
	counts = report.totals()
	print(
		f"  incremental run after {len(picks):,} edits/opt-outs/deletes/new: {seconds:.1f} s end to end, "
		f"site {store.seconds:.1f} s; calls: {calls}; created {counts['created']}, updated {counts['updated']}, "
		f"unsubscribed {counts['unsubscribed']}, deleted {counts['deleted']}"
	)


# -- part 2: batches into a growing site ------------------------------------------------------------
def fill(frappe, start: int, stop: int) -> None:
	"""Contacts `start`..`stop - 1` of the fill, named as the old code named them, in name order.

	Child and member names are 40 random bits, as the old code's were; a million of them collide a few
	times (the very bug the time-ordered names fix), and the fill skips those few rows."""
	from cc_sync.cc_sync.constants import (
		CONTACT_CC_DELETED,
		CONTACT_CC_EMAIL_UPDATED_AT,
		CONTACT_CC_ID,
		CONTACT_CC_PERMISSION,
		CONTACT_CC_UPDATED_AT,
		CONTACT_LAST_SYNCED,
	)

	bases = len(FIRST) * len(LAST)
	firsts = ", ".join(frappe.db.escape(f) for f in FIRST)
	lasts = ", ".join(frappe.db.escape(v) for v in LAST)
	now = frappe.utils.now()
	for lo in range(start, stop, FILL_CHUNK):
		hi = min(stop, lo + FILL_CHUNK) - 1
		# Numbered past every `Base-N` already held (batches named the old way took some), never plain.
		taken = frappe.db.sql(
			"""select coalesce(max(cast(substring_index(name, '-', -1) as unsigned)), 0)
			from `tabContact` where name like '% %-%'"""
		)[0][0]
		source = f"""(select seq, elt(1 + mod(seq, {len(FIRST)}), {firsts}) as first,
			elt(1 + mod(seq, {bases}) div {len(FIRST)}, {lasts}) as last,
			{int(taken) + 1} + (seq - {lo}) div {bases} as n
			from seq_{lo}_to_{hi}) s"""
		email = f"concat(lower(first), '.', lower(last), seq, '@{FILL_DOMAIN}')"
		base = "concat(first, ' ', last)"
		name = f"if(n = 0, {base}, concat({base}, '-', n))"
		common = f"'{now}', '{now}', 'Administrator', 'Administrator', 0"
		frappe.db.sql(
			f"""insert into `tabContact` (name, creation, modified, owner, modified_by, docstatus,
			first_name, last_name, full_name, email_id, status, unsubscribed, `{CONTACT_CC_ID}`,
			`{CONTACT_CC_PERMISSION}`, `{CONTACT_CC_UPDATED_AT}`, `{CONTACT_CC_EMAIL_UPDATED_AT}`,
			`{CONTACT_LAST_SYNCED}`, `{CONTACT_CC_DELETED}`)
			select {name}, {common}, first, last, {base}, {email}, 'Passive', 0,
			insert(insert(insert(insert(md5(concat('cc', seq)), 9, 0, '-'), 14, 0, '-'), 19, 0, '-'), 24, 0, '-'),
			'implicit', '{now}', '{now}', '{now}', 0 from {source} order by 1"""
		)
		frappe.db.sql(
			f"""insert ignore into `tabContact Email` (name, creation, modified, owner, modified_by, docstatus,
			parent, parenttype, parentfield, idx, email_id, is_primary)
			select substr(md5(concat('e', seq)), 1, 10), {common}, {name}, 'Contact', 'email_ids', 1,
			{email}, 1 from {source} order by 1"""
		)
		frappe.db.sql(
			f"""insert ignore into `tabEmail Group Member` (name, creation, modified, owner, modified_by, docstatus,
			email_group, email, unsubscribed)
			select substr(md5(concat('g', seq, '-', g.grp)), 1, 10), {common},
			elt(g.grp, %s, %s, %s), {email}, 0 from {source}
			join (select 1 as grp union all select 2) g on g.grp = 1 or mod(seq, 4) = 0 order by 1""",
			GROUPS[:3],
		)
		frappe.db.commit()


def batch(frappe, scheme: str, number: int, size: int) -> str:
	return batch_run(frappe, scheme, number, size)["line"]


def batch_run(frappe, scheme: str, number: int, size: int) -> dict:
	"""One batch of `size` new contacts through the changes stream: the site's rate and a printable line.

	The batch's lists are mapped as already filled (as on a site that synced before), so the run
	measures the write path alone: a freshly mapped list would be filled in the same run, reading every
	contact a second time."""
	emu, client, clock, config = emulator(
		size, seed=int(RUN, 16) + number, domain=f"b{number}-{RUN}.{DOMAIN}"
	)
	reset_watermarks(frappe)
	store = TimedStore(FrappeStore())
	# An incremental read (the changes stream paging `updated_after`), not a first sync's export.
	store.set_watermark(STREAM_CHANGES, clock.now() - timedelta(days=1100))
	store.set_state(FILL_STATE, {"filled": dict(config.group_by_list)})
	store.commit()
	engine = SyncEngine(client, store, config, clock)
	clock.advance(60)
	before = status(frappe, "Innodb_buffer_pool_reads", "Innodb_data_written")
	with naming(scheme) as names:
		report, seconds = run_streams(frappe, engine, emu, [STREAM_CHANGES])
	after = status(frappe, "Innodb_buffer_pool_reads", "Innodb_data_written")
	changes = report.streams[STREAM_CHANGES]
	lookup = f", name lookups {names.namer.seconds:.2f} s" if names is not None else ""
	rate = changes.created / store.seconds
	reads = after["Innodb_buffer_pool_reads"] - before["Innodb_buffer_pool_reads"]
	line = (
		f"[{scheme}] {rate:6,.0f}/s site ({store.seconds:5.2f} s{lookup}), "
		f"{changes.fetched / seconds:6,.0f}/s end to end; pool disk reads "
		f"{reads:>6,}, written "
		f"{(after['Innodb_data_written'] - before['Innodb_data_written']) / 2**20:5.0f} MiB; {load()}"
	)
	return {"rate": rate, "reads": reads, "created": changes.created, "line": line}


def table_sizes(frappe) -> str:
	rows = frappe.db.sql(
		"""select sum(data_length + index_length) from information_schema.tables
		where table_schema = database() and table_name in
		('tabContact', 'tabContact Email', 'tabEmail Group Member', 'tabDynamic Link')"""
	)
	return f"{(rows[0][0] or 0) / 2**20:,.0f} MiB"


def warm(frappe) -> None:
	"""Read every index of the contact tables once, so a pool just sized up starts warm, not cold."""
	for table in ("tabContact", "tabContact Email", "tabEmail Group Member", "tabDynamic Link"):
		for index in frappe.db.sql_list(
			"""select distinct index_name from information_schema.statistics
			where table_schema = database() and table_name = %s""",
			table,
		):
			frappe.db.sql(f"select count(*) from `{table}` force index (`{index}`)")


def cleanup(frappe, domain: str = DOMAIN) -> None:
	"""Delete the contacts (and their rows) whose address ends in `domain`."""
	delete_people(frappe, f"%{domain}")


def ensure_groups(frappe) -> None:
	for group in GROUPS:
		if not frappe.db.exists("Email Group", group):
			frappe.get_doc({"doctype": "Email Group", "title": group}).insert(ignore_permissions=True)
	frappe.db.commit()


# -- part 3: the write rate at 100,000 and at a million, back to back, and the pool it needs ---------
def on_site(site: str, sites_path: str | None):
	"""Connect this process to `site` (the one connected before is let go)."""
	import frappe

	if getattr(frappe.local, "site", None):
		frappe.db.commit()
		frappe.destroy()
	return connect(site, sites_path)


def set_pool(frappe, size: int, root_password: str) -> int:
	"""Resize MariaDB's buffer pool online (as root) and wait until it took the new size."""
	import pymysql

	conf = frappe.conf
	root = pymysql.connect(
		host=conf.db_host or "127.0.0.1", port=int(conf.db_port or 3306), user="root", password=root_password
	)
	try:
		with root.cursor() as cursor:
			cursor.execute(f"set global innodb_buffer_pool_size = {int(size)}")
			for _ in range(600):
				cursor.execute("show global status like 'Innodb_buffer_pool_resize_status'")
				row = cursor.fetchone()
				cursor.execute("select @@innodb_buffer_pool_size")
				now = int(cursor.fetchone()[0])
				if now >= size and (not row or "Completed" in row[1] or not row[1]):
					return now
				time.sleep(1)
			return now
	finally:
		root.close()


def pool_bytes(text: str) -> int:
	units = {"K": 2**10, "M": 2**20, "G": 2**30}
	text = text.strip().upper()
	return int(float(text[:-1]) * units[text[-1]]) if text[-1] in units else int(text)


def rate_pair(args) -> None:
	"""Batches into a site holding about 100,000 contacts (`--pair-small`, filled to `--pair-size` the
	way the old code named rows, if it holds fewer) and into `--site` (about a million), taken in turn,
	for each pool of `--pools`: each batch's rate, and the mean rate at a million over the mean at
	100,000. With `--find-pool` the pools are tried in order until that ratio reaches `--target`."""
	sites = {"small": args.pair_small, "large": args.site}
	frappe = on_site(args.pair_small, args.sites_path)
	ensure_groups(frappe)
	filled = frappe.db.sql("select count(*) from `tabContact` where email_id like %s", f"%@{FILL_DOMAIN}")[0][
		0
	]
	if filled < args.pair_size:
		t0 = time.perf_counter()
		fill(frappe, filled, args.pair_size)
		print(
			f"  ({args.pair_small}: filled {filled:,} → {args.pair_size:,} in {time.perf_counter() - t0:.0f} s)"
		)
	number = 0
	found = None
	for pool in [pool_bytes(p) for p in args.pools.split(",") if p]:
		frappe = on_site(args.site, args.sites_path)
		ensure_groups(frappe)
		if args.db_root_password:
			set_pool(frappe, pool, args.db_root_password)
		size = frappe.db.sql("select @@innodb_buffer_pool_size")[0][0]
		print(f"buffer pool {size / 2**20:,.0f} MiB; {load()}", flush=True)
		rates: dict[str, list[float]] = {"small": [], "large": []}
		counts = {}
		for which, site in sites.items():
			counts[which] = held(on_site(site, args.sites_path))
		for round_ in range(args.pair_rounds + 1):
			for which, site in sites.items():
				frappe = on_site(site, args.sites_path)
				number += 1
				r = batch_run(frappe, "new", number, args.batch)
				# The first round settles the pool after a resize (or the other site's batch): not counted.
				counted = round_ > 0
				if counted:
					rates[which].append(r["rate"])
				print(
					f"  {site:>20} N = {counts[which]:>9,} {r['line']}{'' if counted else ' (warm-up)'}",
					flush=True,
				)
				if which == "small":
					# The small site stays at its size; the large one grows a batch at a time.
					cleanup(frappe, f"b{number}-{RUN}.{DOMAIN}")
				else:
					counts[which] += r["created"]
		small, large = (sum(rates[k]) / len(rates[k]) for k in ("small", "large"))
		ratio = large / small
		print(
			f"  pool {size / 2**20:,.0f} MiB: mean {small:,.0f}/s at about {args.pair_size:,}, "
			f"{large:,.0f}/s at a million; ratio {ratio:.2f}; {load()}",
			flush=True,
		)
		if ratio >= args.target and found is None:
			found = size
			if args.find_pool:
				break
	print(
		f"smallest pool tried whose ratio reaches {args.target}: "
		+ (f"{found / 2**20:,.0f} MiB" if found else "none of those tried")
	)
	if args.db_root_password and args.restore_pool:
		frappe = on_site(args.site, args.sites_path)
		set_pool(frappe, pool_bytes(args.restore_pool), args.db_root_password)


def main() -> None:
	parser = argparse.ArgumentParser()
	parser.add_argument("--site", default=os.environ.get("CC_SYNC_SITE"))
	parser.add_argument("--sites-path")
	parser.add_argument("--sizes", default="0,100000,250000,1000000")
	parser.add_argument("--batch", type=int, default=10_000)
	parser.add_argument("--first-pulls", default="10000,100000")
	parser.add_argument("--schemes", default="old,new")
	parser.add_argument("--keep", action="store_true", help="keep the fill for a later run")
	parser.add_argument("--warm", action="store_true", help="read the contact tables into the pool first")
	parser.add_argument("--pair-small", help="a site of about 100,000 contacts: rates there and at --site")
	parser.add_argument("--pair-size", type=int, default=100_000)
	parser.add_argument("--pair-rounds", type=int, default=3, help="batches counted on each site a pool")
	parser.add_argument("--pools", default="128M", help="buffer pools to measure the pair at, in order")
	parser.add_argument("--find-pool", action="store_true", help="stop at the first pool reaching --target")
	parser.add_argument("--target", type=float, default=0.75)
	parser.add_argument(
		"--db-root-password",
		default=os.environ.get("CC_SYNC_DB_ROOT_PASSWORD"),
		help="MariaDB's root password, to resize the pool online (without it the pool is left as it is)",
	)
	parser.add_argument("--restore-pool", default="128M", help="the pool to leave MariaDB with")
	args = parser.parse_args()
	if not args.site:
		parser.error("name the site: --site or CC_SYNC_SITE")
	if args.pair_small:
		rate_pair(args)
		return
	frappe = connect(args.site, args.sites_path)
	schemes = args.schemes.split(",")
	pool = frappe.db.sql("select @@innodb_buffer_pool_size")[0][0]
	print(f"MariaDB {frappe.db.sql('select version()')[0][0]}, buffer pool {pool / 2**20:,.0f} MiB; {load()}")
	ensure_groups(frappe)
	if args.warm:
		t0 = time.perf_counter()
		warm(frappe)
		print(f"  (read every contact-table index into the pool in {time.perf_counter() - t0:.0f} s)")
	try:
		pulls = [int(n) for n in args.first_pulls.split(",") if n]
		if pulls:
			print(
				"first pull into a site without these contacts, then (new names) re-pull and incremental mix:"
			)
		for contacts in pulls:
			for scheme in schemes:
				first_pull(frappe, contacts, scheme, mix=scheme == "new" and contacts == max(pulls))
				cleanup(frappe, f"p{contacts}{scheme}.{DOMAIN}")
		filled = frappe.db.sql(
			"select count(*) from `tabContact` where email_id like %s", f"%@{FILL_DOMAIN}"
		)[0][0]
		number = 0
		sizes = [int(n) for n in args.sizes.split(",") if n]
		if sizes:
			print(
				f"{args.batch:,}-contact batches into a site holding N contacts (filled with old-style names):"
			)
		for size in sizes:
			if size > filled:
				t0 = time.perf_counter()
				fill(frappe, filled, size)
				print(f"  (filled {filled:,} → {size:,} in {time.perf_counter() - t0:.0f} s)")
				filled = size
			print(
				f"  contact tables (Contact, Contact Email, Email Group Member, Dynamic Link): {table_sizes(frappe)}"
			)
			order = schemes + schemes[::-1]
			for scheme in order:
				number += 1
				line = batch(frappe, scheme, number, args.batch)
				print(f"  N = {held(frappe) - args.batch:>9,} {line}")
	finally:
		if not args.keep:
			cleanup(frappe)
		reset_watermarks(frappe)
		frappe.destroy()


if __name__ == "__main__":
	main()
