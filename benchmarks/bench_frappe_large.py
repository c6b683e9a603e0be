"""Large accounts on a real site: a first pull's memory, an unchanged re-pull's time, a quiet run's cost,
for two versions of the app side by side in one run.

    cd frappe-bench/sites
    ../env/bin/python ../apps/cc_sync/benchmarks/bench_frappe_large.py --site SITE \\
        [--before /path/to/an/older/checkout] [--sizes 20000,100000] [--paging 20000] \\
        [--quiet 10000,1000000 --small-site OTHER_SITE] [--keep]

An emulator serves each generated account over HTTP from a process of its own (so its memory is not
the sync's), and each measurement runs in a fresh worker process that imports the app from this
checkout ("now") or from `--before` ("before"):

- for each of `--sizes`, each version in turn: a first pull (the changes stream's backfill, through CC's
  export above 5,000 contacts; for the sizes in `--paging`, also through paging), an unchanged re-pull
  (the full reconcile) and the opt-out safety scan: seconds, the site's seconds, and the worker's peak
  resident memory above what it held before the run (VmHWM after resetting it, less VmRSS);
- `--quiet SMALL,LARGE`: a first pull ("now") of SMALL contacts into `--small-site` and of LARGE into
  `--site` (its memory printed too), then quiet runs (opt-outs, changes, deletes with nothing new in
  CC) on the two sites taken in turn, each version in turn: the site's seconds and the rows its
  statements read (MariaDB's Handler_read counters: rows of full scans, rows of index ranges).

Figures are printed, nothing is asserted. The accounts' contacts are deleted before each first pull and
at the end (unless `--keep`); the first pull and the re-pull each start `--settle` seconds after the
writes before them, which InnoDB flushes and purges in the background meanwhile. "before" runs without the index the quiet deletes count reads (the index is
dropped for it and made again for "now").
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
# This checkout's benchmarks, imported before a worker puts another checkout's app first on its path:
# `timing` imports nothing of the app, so the worker still imports the app from the checkout it runs.
if str(HERE) not in sys.path:
	sys.path.insert(0, str(HERE))
from benchmarks.site_rows import delete_people
from benchmarks.timing import TimedStore

DOMAIN = "large.ccbench.test"
GROUPS = ("CC Bench List 1", "CC Bench List 2", "CC Bench List 3")
DELETED_INDEX = "cc_deleted_index"


# -- the worker: one measurement, in a process of its own ------------------------------------------
def worker(spec: dict) -> dict:
	sys.path.insert(0, spec["code"])
	import frappe

	frappe.init(site=spec["site"], sites_path=os.getcwd())
	frappe.connect()
	frappe.set_user("Administrator")
	import cc_sync

	assert str(Path(cc_sync.__file__).resolve()).startswith(str(Path(spec["code"]).resolve())), (
		cc_sync.__file__
	)
	try:
		return TASKS[spec["task"]](frappe, spec)
	finally:
		frappe.db.commit()
		frappe.destroy()


def _engine(frappe, spec: dict, **config_over):
	from datetime import datetime, timezone

	from cc_sync.cc_sync.store import FrappeStore
	from cc_sync.constant_contact.auth import StaticTokenProvider
	from cc_sync.constant_contact.client import ConstantContactClient
	from cc_sync.constant_contact.clock import FakeClock
	from cc_sync.sync.config import ListMapping, SyncConfig
	from cc_sync.sync.engine import SyncEngine

	for group in GROUPS:
		if not frappe.db.exists("Email Group", group):
			frappe.get_doc({"doctype": "Email Group", "title": group}).insert(ignore_permissions=True)
	frappe.db.commit()
	# A fake clock: the client's 4 calls/s pacing passes in virtual time, as in the other benchmarks.
	clock = FakeClock(datetime.now(timezone.utc).replace(microsecond=0))
	client = ConstantContactClient(StaticTokenProvider(spec["token"]), base_url=spec["api"], clock=clock)
	lists = sorted((lst.name, lst.list_id) for lst in client.get_contact_lists())
	config = SyncConfig(
		list_mappings=tuple(ListMapping(lid, g, "pull") for (_, lid), g in zip(lists, GROUPS, strict=False)),
		**config_over,
	)
	store = TimedStore(FrappeStore())
	return SyncEngine(client, store, config, clock), store


def _rss(field: str) -> int:
	with open("/proc/self/status") as status:
		for line in status:
			if line.startswith(field + ":"):
				return int(line.split()[1]) * 1024
	return 0


def _handler_reads(frappe) -> dict[str, int]:
	rows = frappe.db.sql("show session status like 'Handler_read%'")
	return {name: int(value) for name, value in rows}


def run_streams(frappe, spec: dict) -> dict:
	from cc_sync.cc_sync.constants import SETTINGS

	over = {"export_threshold": 0} if spec.get("paging") else {}
	engine, store = _engine(frappe, spec, **over)
	if spec.get("reset"):
		for field in ("changes_watermark", "optouts_watermark", "deletes_watermark", "sync_state"):
			frappe.db.set_single_value(SETTINGS, field, None, update_modified=False)
		frappe.db.set_single_value(SETTINGS, "deleted_count", 0, update_modified=False)
		frappe.db.commit()
	reads = _handler_reads(frappe)
	# Peak memory from here: VmHWM reset to what the process holds now (Linux: clear_refs 5).
	with open("/proc/self/clear_refs", "w") as clear:
		clear.write("5")
	held = _rss("VmRSS")
	profiler = None
	if spec.get("profile"):
		import cProfile

		profiler = cProfile.Profile()
		profiler.enable()
	t0 = time.perf_counter()
	report = engine.run(spec["streams"])
	seconds = time.perf_counter() - t0
	if profiler is not None:
		profiler.disable()
		profiler.dump_stats(spec["profile"])
	peak = _rss("VmHWM") - held
	after = _handler_reads(frappe)
	failed = {n: s.error for n, s in report.streams.items() if s.status == "failed"}
	if failed:
		raise RuntimeError(failed)
	totals = report.totals()
	return {
		"seconds": seconds,
		"site": store.seconds,
		"peak_mib": peak / 2**20,
		"fetched": totals["fetched"],
		"created": totals["created"],
		"updated": totals["updated"],
		"calls": report.api_calls,
		"scan_rows": after["Handler_read_rnd_next"] - reads["Handler_read_rnd_next"],
		"range_rows": after["Handler_read_next"] - reads["Handler_read_next"],
	}


def cleanup(frappe, spec: dict) -> dict:
	delete_people(frappe, f"%@{spec['domain']}")
	return {}


def deleted_index(frappe, spec: dict) -> dict:
	"""Drop or make the index the quiet deletes count reads (the older version ran without it)."""
	have = frappe.db.sql("show index from `tabContact` where Key_name = %s", DELETED_INDEX)
	if spec["want"] and not have:
		frappe.db.sql_ddl(f"alter table `tabContact` add index `{DELETED_INDEX}` (`cc_deleted`)")
	elif not spec["want"] and have:
		frappe.db.sql_ddl(f"alter table `tabContact` drop index `{DELETED_INDEX}`")
	return {}


def held(frappe, spec: dict) -> dict:
	return {"contacts": frappe.db.sql("select count(*) from `tabContact`")[0][0]}


TASKS = {"streams": run_streams, "cleanup": cleanup, "deleted_index": deleted_index, "held": held}


# -- the driver ------------------------------------------------------------------------------------
class Emulator:
	"""`python -m cc_sync_testkit.emulator serve` with a generated account, in a process of its own."""

	def __init__(self, contacts: int) -> None:
		with socket.socket() as probe:
			probe.bind(("127.0.0.1", 0))
			self.port = probe.getsockname()[1]
		self.process = subprocess.Popen(
			[
				sys.executable,
				"-m",
				"cc_sync_testkit.emulator",
				"serve",
				f"--port={self.port}",
				f"--contacts={contacts}",
				"--lists=3",
				"--custom-fields=0",
				f"--domain={DOMAIN}",
				"--no-rate-limit",
				"--quota=0",
				"--activity-steps=1",
				"--token-ttl=1000000000",
				"--quiet",
			],
			cwd=HERE,
			stdout=subprocess.PIPE,
			text=True,
		)
		self.token = None
		for line in self.process.stdout:
			if line.startswith("Access token:"):
				self.token = line.split(":", 1)[1].strip()
			if line.startswith("Account:"):
				break
		self.api = f"http://127.0.0.1:{self.port}/v3"

	def stop(self) -> None:
		self.process.terminate()
		self.process.wait()


def run_worker(args, code: str, task: str, site: str | None = None, **spec) -> dict:
	spec = {"code": code, "site": site or args.site, "task": task, "domain": DOMAIN, **spec}
	out = subprocess.run(
		[sys.executable, __file__, "--worker", json.dumps(spec)], capture_output=True, text=True, check=False
	)
	for line in out.stdout.splitlines():
		if line.startswith("RESULT "):
			return json.loads(line[7:])
	raise RuntimeError(f"worker {task} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")


def load() -> str:
	one, five, _ = os.getloadavg()
	return f"load {one:.1f}/{five:.1f}"


def line(label: str, r: dict) -> str:
	return (
		f"{label}: {r['seconds']:7.1f} s ({r['site']:6.1f} s site), peak memory +{r['peak_mib']:6.1f} MiB, "
		f"{r['fetched']:>9,} read, {r['created']:>9,} created, {r['updated']:>7,} updated, {r['calls']} calls"
	)


def size_part(args, versions: dict[str, str], size: int) -> None:
	emu = Emulator(size)
	try:
		print(f"account of {size:,} contacts ({load()}):", flush=True)
		api = {"api": emu.api, "token": emu.token}
		for label, code in versions.items():
			run_worker(args, versions["now"], "cleanup")
			# InnoDB purges the rows just deleted in the background: let it finish, or it slows down the
			# first pull that follows (the second version's more than the first's).
			time.sleep(args.settle)
			first = run_worker(args, code, "streams", streams=["changes"], reset=True, **api)
			print(f"  [{label:6}] {line('first pull  ', first)}; {load()}", flush=True)
			profile = {"profile": f"{args.profile}/{label}-{size}-repull.prof"} if args.profile else {}
			# The same wait before the re-pull: InnoDB flushes and purges the first pull's writes in the
			# background, which would otherwise take the re-pull's CPU (a reconcile runs days after).
			time.sleep(args.settle)
			again = run_worker(args, code, "streams", streams=["reconcile"], **api, **profile)
			print(f"  [{label:6}] {line('re-pull     ', again)}; {load()}", flush=True)
			print(
				f"  [{label:6}] unchanged re-pull / first pull: {again['seconds'] / first['seconds']:.2f} "
				f"(site {again['site'] / first['site']:.2f})",
				flush=True,
			)
			if not args.re_pull_only:
				scan = run_worker(args, code, "streams", streams=["optout_scan"], **api)
				print(f"  [{label:6}] {line('opt-out scan', scan)}", flush=True)
			if size in args.paging:
				run_worker(args, versions["now"], "cleanup")
				paged = run_worker(args, code, "streams", streams=["changes"], reset=True, paging=True, **api)
				print(f"  [{label:6}] {line('paged pull  ', paged)}; {load()}", flush=True)
	finally:
		emu.stop()
		run_worker(args, versions["now"], "cleanup")


QUIET = ["optouts", "changes", "deletes"]


def quiet_part(args, versions: dict[str, str], small: int, large: int) -> None:
	"""Quiet runs on a site holding `small` contacts and one holding `large`, taken in turn, each version
	on both before the next (the large site's first pull, "now", gives the large account's memory)."""
	sites = {small: args.small_site, large: args.site}
	emus = {}
	try:
		for size, site in sites.items():
			emus[size] = emu = Emulator(size)
			api = {"api": emu.api, "token": emu.token}
			run_worker(args, versions["now"], "cleanup", site)
			first = run_worker(args, versions["now"], "streams", site, streams=["changes"], reset=True, **api)
			print(
				f"account of {size:,} contacts on {site} [now   ] {line('first pull', first)}; {load()}",
				flush=True,
			)
		held = {
			size: run_worker(args, versions["now"], "held", site)["contacts"] for size, site in sites.items()
		}
		print(
			"quiet runs (opt-outs, changes, deletes; nothing new in CC), the sites holding "
			+ " and ".join(f"{n:,}" for n in held.values())
			+ " contacts, taken in turn:"
		)
		for label, code in versions.items():
			for size, site in sites.items():
				api = {"api": emus[size].api, "token": emus[size].token}
				run_worker(args, versions["now"], "deleted_index", site, want=label == "now")
				# The first run after another version's settles the deletes stream's count for this one.
				run_worker(args, code, "streams", site, streams=QUIET, **api)
			for _ in range(args.quiet_runs):
				for size, site in sites.items():
					api = {"api": emus[size].api, "token": emus[size].token}
					r = run_worker(args, code, "streams", site, streams=QUIET, **api)
					print(
						f"  [{label:6}] {held[size]:>9,} held: {r['seconds'] * 1000:7.0f} ms "
						f"({r['site'] * 1000:6.0f} ms site), {r['calls']} calls, rows read by full scans "
						f"{r['scan_rows']:>9,}, by index ranges {r['range_rows']:>7,}; {load()}",
						flush=True,
					)
	finally:
		for size, emu in emus.items():
			emu.stop()
			run_worker(args, versions["now"], "deleted_index", sites[size], want=True)
			if not args.keep:
				run_worker(args, versions["now"], "cleanup", sites[size])


def main() -> None:
	parser = argparse.ArgumentParser()
	parser.add_argument("--worker")
	parser.add_argument("--site", default=os.environ.get("CC_SYNC_SITE"))
	parser.add_argument("--before", help="a checkout of the version to compare with")
	parser.add_argument("--sizes", default="20000,100000")
	parser.add_argument("--paging", default="20000")
	parser.add_argument("--quiet", default="", help="SMALL,LARGE: quiet runs on two sites holding these")
	parser.add_argument("--small-site", help="the site holding the small account of --quiet")
	parser.add_argument("--quiet-runs", type=int, default=2)
	parser.add_argument("--keep", action="store_true", help="keep the quiet runs' accounts on the sites")
	parser.add_argument("--profile", help="a folder for cProfile's stats of each re-pull (slows it)")
	parser.add_argument("--re-pull-only", action="store_true", help="skip the opt-out scan and paging")
	parser.add_argument(
		"--settle",
		type=float,
		default=60,
		help="seconds to wait after deleting an account's contacts, and after a first pull before its re-pull",
	)
	args = parser.parse_args()
	if args.worker:
		print("RESULT " + json.dumps(worker(json.loads(args.worker))), flush=True)
		return
	if not args.site:
		parser.error("name the site: --site or CC_SYNC_SITE")
	args.paging = {int(n) for n in args.paging.split(",") if n}
	versions = {"before": str(Path(args.before).resolve())} if args.before else {}
	versions["now"] = str(HERE)
	for size in (int(n) for n in args.sizes.split(",") if n):
		size_part(args, versions, size)
	if args.quiet:
		small, large = (int(n) for n in args.quiet.split(","))
		quiet_part(args, versions, small, large)


if __name__ == "__main__":
	main()
