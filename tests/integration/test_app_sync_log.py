"""One Sync Log per run: a row per stream inside it, quiet scheduled runs counted in one log, dry runs
labelled and readable as a table (and as CSV), and the shell's exit status when a stream failed."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

import frappe

from cc_sync.cc_sync import sync_log
from cc_sync.cc_sync.constants import (
	SYNC_LOG,
	TRIGGER_CONTACT,
	TRIGGER_SCHEDULER,
	TRIGGER_SETTINGS,
	TRIGGER_SHELL,
)
from cc_sync.sync.report import RunReport

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def logs():
	"""Logs the test writes are removed afterwards; the test sees only its own."""
	# A quiet log left by the site's own scheduler would take this test's first quiet run.
	for name in frappe.get_all(SYNC_LOG, filters={"quiet": 1}, pluck="name"):
		frappe.delete_doc(SYNC_LOG, name, force=True, ignore_permissions=True, delete_permanently=True)
	before = set(frappe.get_all(SYNC_LOG, pluck="name"))
	yield
	frappe.db.rollback()
	for name in set(frappe.get_all(SYNC_LOG, pluck="name")) - before:
		frappe.delete_doc(SYNC_LOG, name, force=True, ignore_permissions=True, delete_permanently=True)
	frappe.db.commit()


def report(*, dry_run: bool = False, **streams: dict) -> RunReport:
	"""A finished run: each keyword is a stream with its counters (and status, error, plan, notes)."""
	run = RunReport(started=T0, dry_run=dry_run)
	for name, values in streams.items():
		s = run.stream(name)
		s.status = values.pop("status", "success")
		for note in values.pop("skips", []):
			s.skip(*note)
		for key, value in values.items():
			setattr(s, key, value)
	return run


def run(trigger: str, rep: RunReport, job: str = "all", **kw) -> object:
	log = sync_log.new_log(job, trigger, dry_run=rep.dry_run, run_id=frappe.generate_hash(length=10), **kw)
	return sync_log.write_report(log, rep, job)


def test_a_run_of_every_stream_leaves_one_log_with_a_row_per_stream(logs):
	count = frappe.db.count(SYNC_LOG)
	rep = report(
		optouts=dict(fetched=3, unsubscribed=2, api_calls=1),
		deletes=dict(api_calls=1),
		changes=dict(fetched=40, created=30, updated=5, unchanged=5, api_calls=2, watermark_after=T0),
		optout_push=dict(api_calls=0),
		push=dict(pushed=12, api_calls=3, skips=[("x@tier2.test", "invalid email")], skipped=1),
	)
	[log] = run(TRIGGER_SHELL, rep)

	assert frappe.db.count(SYNC_LOG) == count + 1
	log = frappe.get_doc(SYNC_LOG, log.name)
	assert [r.stream for r in log.streams] == ["Opt-outs", "Deletes", "Changes", "Opt-outs to CC", "Push"]
	changes = next(r for r in log.streams if r.stream == "Changes")
	assert (changes.created, changes.updated, changes.api_calls) == (30, 5, 2)
	assert changes.watermark_after is not None
	assert changes.summary == "30 created, 5 updated"
	assert (log.created, log.unsubscribed, log.pushed, log.api_calls) == (30, 2, 12, 7)
	assert log.title == "All streams" and log.stream == "All streams"
	assert log.summary.startswith("30 created, 5 updated, 2 unsubscribed, 12 pushed, 1 skipped")
	assert log.duration is not None and log.trigger == TRIGGER_SHELL
	assert [(i.kind, i.email) for i in log.items] == [("Skip", "x@tier2.test")]


def test_quiet_scheduled_runs_share_one_log_and_news_starts_a_new_one(logs):
	quiet = dict(optouts=dict(api_calls=1), optout_push=dict())
	count = frappe.db.count(SYNC_LOG)
	first = run(TRIGGER_SCHEDULER, report(**{k: dict(v) for k, v in quiet.items()}), "optouts")[0]
	for _ in range(4):
		again = run(TRIGGER_SCHEDULER, report(**{k: dict(v) for k, v in quiet.items()}), "optouts")[0]
		assert again.name == first.name
	changes = run(TRIGGER_SCHEDULER, report(changes=dict(fetched=1, api_calls=1)), "changes")[0]

	# Five quiet runs, and a sixth that only read (fetched, nothing changed): one log.
	assert changes.name == first.name
	assert frappe.db.count(SYNC_LOG) == count + 1
	summary = frappe.get_doc(SYNC_LOG, first.name)
	assert summary.runs == 6 and summary.quiet and summary.api_calls == 6
	assert summary.title == "6 scheduled runs, no changes"
	assert next(r for r in summary.streams if r.stream == "Opt-outs").api_calls == 5
	assert next(r for r in summary.streams if r.stream == "Changes").fetched == 1
	# Something changed: a log of its own, and the next quiet run starts a new summary after it.
	news = run(TRIGGER_SCHEDULER, report(changes=dict(fetched=1, updated=1)), "changes")[0]
	after = run(TRIGGER_SCHEDULER, report(optouts=dict()), "optouts")[0]
	assert news.name != first.name and after.name not in (first.name, news.name)
	assert frappe.db.count(SYNC_LOG) == count + 3


@pytest.mark.parametrize(
	"trigger, streams",
	[
		(TRIGGER_SETTINGS, dict(optouts=dict())),  # someone pressed the button: they see its log
		(TRIGGER_SCHEDULER, dict(changes=dict(status="failed", error="ConnectTimeout"))),
		(TRIGGER_SCHEDULER, dict(changes=dict(failed=1))),
	],
)
def test_runs_a_person_asked_for_or_that_failed_are_never_folded(logs, trigger, streams):
	first = run(TRIGGER_SCHEDULER, report(optouts=dict()), "optouts")[0]
	second = run(trigger, report(**streams))[0]
	assert second.name != first.name
	assert frappe.db.exists(SYNC_LOG, second.name)


def test_a_run_s_log_names_its_retries_per_stream_and_a_retried_run_is_never_folded(logs):
	from cc_sync.constant_contact.transport import Retry

	quiet = dict(optouts=dict(api_calls=1), optout_push=dict())
	first = run(TRIGGER_SCHEDULER, report(**{k: dict(v) for k, v in quiet.items()}), "optouts")[0]
	retried = report(
		optouts=dict(
			api_calls=3,
			retries=[
				Retry("GET /v3/contacts", "HTTP 503: service_unavailable: try later", 0.7),
				Retry("GET /v3/contacts", "no answer (transport: read timed out)", 1.4),
			],
		),
		optout_push=dict(api_calls=2, retries=[Retry("PUT /v3/contacts/c-1", "HTTP 500: server_error", 0.6)]),
	)
	[log] = run(TRIGGER_SCHEDULER, retried, "optouts")
	assert log.name != first.name, "a run with retries was folded into the quiet log"
	rows = {r.stream: r for r in frappe.get_doc(SYNC_LOG, log.name).streams}
	assert rows["Opt-outs"].retries.splitlines() == [
		"GET /v3/contacts: HTTP 503: service_unavailable: try later; waited 0.7 s",
		"GET /v3/contacts: no answer (transport: read timed out); waited 1.4 s",
	]
	assert rows["Opt-outs to CC"].retries == "PUT /v3/contacts/c-1: HTTP 500: server_error; waited 0.6 s"


def test_a_dry_run_is_labelled_and_reads_as_a_table_with_a_csv_download(logs):
	plan = [
		{"action": "create", "email": "new@tier2.test", "fields": ["first_name", "last_name"]},
		{"action": "update", "email": "old@tier2.test", "contact": "CONT-1", "unsubscribed": True},
	]
	rep = report(dry_run=True, changes=dict(fetched=2, created=1, updated=1, plan=plan))
	[log] = run(TRIGGER_SETTINGS, rep)

	log = frappe.get_doc(SYNC_LOG, log.name)
	assert log.dry_run and log.title == "Dry run: All streams"
	rows = [(r.stream, r.action, r.email, r.record, r.details) for r in log.plan_rows]
	assert rows == [
		("Changes", "Create contact", "new@tier2.test", None, "fields: first_name, last_name"),
		("Changes", "Update contact", "old@tier2.test", "CONT-1", "unsubscribe"),
	]
	from cc_sync.cc_sync.doctype.constant_contact_sync_log.constant_contact_sync_log import download_plan

	frappe.local.response = frappe._dict()
	download_plan(log.name)
	assert frappe.response["type"] == "csv"
	lines = frappe.response["result"].strip().splitlines()
	assert lines[0] == '"Stream","Would","Email","Record","Details"'
	assert "new@tier2.test" in lines[1] and len(lines) == 3


def test_a_dry_run_of_thousands_of_changes_opens_with_its_first_rows_and_its_csv_holds_every_one(logs):
	from frappe.desk.form.load import getdoc

	from cc_sync.cc_sync.doctype.constant_contact_sync_log.constant_contact_sync_log import (
		ConstantContactSyncLog,
		download_plan,
	)

	plan = [{"action": "update", "email": f"p{i}@tier2.test", "contact": f"CONT-{i}"} for i in range(2500)]
	rep = report(dry_run=True, changes=dict(fetched=2500, updated=2500, plan=plan))
	[log] = run(TRIGGER_SETTINGS, rep)

	# What the form loads: its first changes and a row saying where the rest are, not 2,500 rows.
	frappe.local.response = frappe._dict()
	getdoc(SYNC_LOG, log.name)
	[loaded] = frappe.response["docs"]
	assert len(loaded.plan_rows) == sync_log.PLAN_ROWS_ON_FORM + 1
	last = loaded.plan_rows[-1]
	assert (last.stream, last.action, last.details) == ("Changes", "2,400 more", "Download as CSV lists them")
	assert loaded.plan_total == 2500
	# The CSV lists every one.
	frappe.local.response = frappe._dict()
	download_plan(log.name)
	lines = frappe.response["result"].strip().splitlines()
	assert len(lines) == 2501 and "p2499@tier2.test" in lines[-1]
	# Old logs go with their CSV.
	frappe.db.set_value(SYNC_LOG, log.name, {"creation": "2020-01-01", "status": "Success"})
	ConstantContactSyncLog.clear_old_logs()
	assert not frappe.db.exists(SYNC_LOG, log.name)
	assert not frappe.db.exists("File", {"attached_to_doctype": SYNC_LOG, "attached_to_name": log.name})


def test_a_dry_run_push_names_who_would_be_sent_and_the_lists_by_name(logs):
	frappe.get_doc(
		{"doctype": "Constant Contact List", "list_id": "tier2-plan-list", "list_name": "Tier2 Plan"}
	).insert(ignore_permissions=True)
	try:
		one = {"action": "import", "chunk": 1, "contacts": 1, "list_ids": ["tier2-plan-list"]}
		one["emails"] = ["ada@tier2.test"]
		many = {
			"action": "import",
			"chunk": 2,
			"contacts": 1207,
			"list_ids": ["tier2-plan-list", "gone-list"],
		}
		many["emails"] = [f"p{i}@tier2.test" for i in range(5)]
		rep = report(dry_run=True, push=dict(plan=[one, many]))
		[log] = run(TRIGGER_SETTINGS, rep)
		rows = [
			(r.action, r.email, r.record, r.details) for r in frappe.get_doc(SYNC_LOG, log.name).plan_rows
		]
	finally:
		frappe.delete_doc("Constant Contact List", "tier2-plan-list", force=True, ignore_permissions=True)
	assert rows == [
		("Import into CC", "ada@tier2.test", "chunk 1", "1 contact; lists: Tier2 Plan"),
		(
			"Import into CC",
			None,
			"chunk 2",
			"1,207 contacts; p0@tier2.test, p1@tier2.test, p2@tier2.test, p3@tier2.test, p4@tier2.test "
			"and 1,202 more; lists: Tier2 Plan, gone-list",
		),
	]


def test_a_record_sync_is_titled_by_its_record(logs):
	[log] = run(TRIGGER_CONTACT, report(changes=dict(fetched=1, updated=1)), "changes", reference="Contact X")
	assert log.stream == "One record" and log.title == "Sync now: Contact X"


def test_the_shell_exits_non_zero_when_any_stream_failed(logs):
	from cc_sync.commands import format_log, stream_failed

	failed = report(optouts=dict(), changes=dict(status="failed", error="ConnectionError: refused"))
	[log] = run(TRIGGER_SHELL, failed)
	assert log.status == "Partial" and stream_failed(log)
	assert "Changes: ConnectionError: refused" in format_log(log)
	[ok] = run(TRIGGER_SHELL, report(optouts=dict()))
	assert not stream_failed(ok)
	[dry] = run(TRIGGER_SHELL, report(dry_run=True, optouts=dict()))
	assert "Dry run" in format_log(dry)


def test_a_run_tells_the_open_form_its_name_and_counts_when_it_finishes(logs, monkeypatch):
	from cc_sync.cc_sync import runner
	from cc_sync.constant_contact.ratelimit import DailyBudget
	from tests.integration.app_helpers import settings_restored

	class Client:
		calls, contacts_read, auth_error = 3, 40, None

	class Engine:
		def run(self, streams, dry_run=False):
			rep = report(
				dry_run=dry_run, optouts=dict(fetched=40, unsubscribed=2, api_calls=3), optout_push=dict()
			)
			return rep

	sent = []
	monkeypatch.setattr(runner, "build", lambda *a, **k: runner.Wiring(Engine(), Client(), DailyBudget()))
	monkeypatch.setattr(runner, "save_budget", lambda *a: None)
	monkeypatch.setattr(frappe, "publish_realtime", lambda event, data, **kw: sent.append(data))
	with settings_restored():
		result = runner.run_job("optouts", TRIGGER_SETTINGS, dry_run=True)
	done = sent[-1]
	assert done["done"] and done["status"] == "Success" and done["dry_run"] is True
	assert done["label"] == "Opt-outs" and done["log"] == result.logs[0]
	assert done["totals"]["unsubscribed"] == 2 and done["api_calls"] == 3
	log = frappe.get_doc(SYNC_LOG, result.logs[0])
	assert log.title == "Dry run: Opt-outs" and [r.stream for r in log.streams] == [
		"Opt-outs",
		"Opt-outs to CC",
	]


def test_a_dry_run_plan_larger_than_the_sites_file_limit_still_writes_its_log_and_says_what_it_left_out(
	logs,
):
	from cc_sync.cc_sync.doctype.constant_contact_sync_log.constant_contact_sync_log import download_plan

	plan = [
		{
			"action": "update",
			"email": f"p{i}@tier2.test",
			"contact": f"CONT-{i}",
			"fields": [f"custom_field_{k}" for k in range(20)],
		}
		for i in range(2000)
	]
	rep = report(dry_run=True, changes=dict(fetched=2000, updated=2000, plan=plan))
	before = frappe.conf.get("max_file_size")
	frappe.conf.max_file_size = 100_000
	system = frappe.db.get_single_value("System Settings", "max_file_size")
	frappe.db.set_single_value("System Settings", "max_file_size", 0)
	try:
		[log] = run(TRIGGER_SETTINGS, rep)
	finally:
		frappe.conf.max_file_size = before
		frappe.db.set_single_value("System Settings", "max_file_size", system)
		frappe.db.commit()
	assert frappe.db.get_value(SYNC_LOG, log.name, "plan_total") == 2000
	frappe.local.response = frappe._dict()
	download_plan(log.name)
	import csv

	content = frappe.response["result"]
	lines = list(csv.reader(content.strip().splitlines()))
	assert len(content.encode()) <= 100_000 and 100 < len(lines) < 2001
	assert lines[-1][1] == f"{2000 - (len(lines) - 2):,} more not listed"
