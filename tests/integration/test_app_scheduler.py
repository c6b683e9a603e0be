"""The cron gate and the settings form: one job per due stream, and a save that stays local."""

from __future__ import annotations

import threading

import pytest

import frappe

from cc_sync import tasks
from cc_sync.cc_sync.constants import CONNECTION_CONNECTED, JOB_PREFIX, QUEUE, SETTINGS
from cc_sync.cc_sync.settings import SCHEDULE, campaign_data_granted, update_settings
from cc_sync.sync.streams import STREAM_ENGAGEMENT
from tests.integration.app_helpers import recording, save_settings, settings_restored


@pytest.fixture
def due_settings():
	"""Enabled, connected, every stream due (never run)."""
	with settings_restored():
		values = {"enabled": 1, "connection_status": CONNECTION_CONNECTED}
		values |= {job.last_run: None for job in SCHEDULE.values()}
		values |= {"changes_interval": 15, "optouts_interval": 15, "deletes_interval": 60}
		values |= {"push_interval": 15, "reconcile_interval_hours": 168, "optout_scan_interval_hours": 24}
		update_settings(values, commit=True)
		yield


def _gate_in_thread(site: str, sites_path: str, results: list, barrier: threading.Barrier) -> None:
	frappe.init(site=site, sites_path=sites_path)
	frappe.connect()
	try:
		barrier.wait()
		results.append(tasks.enqueue_due_streams())
	finally:
		frappe.destroy()


def test_two_gates_fired_at_once_enqueue_one_job_per_stream(due_settings, monkeypatch, frappe_site):
	sites_path = frappe.local.sites_path
	with recording(monkeypatch) as rec:
		results: list = []
		barrier = threading.Barrier(2)
		threads = [
			threading.Thread(target=_gate_in_thread, args=(frappe_site, sites_path, results, barrier))
			for _ in range(2)
		]
		for t in threads:
			t.start()
		for t in threads:
			t.join(timeout=60)
	ids = [job["job_id"] for job in rec.enqueued]
	# Every scheduled job; email engagement only on a connection granting campaign_data.
	due = sorted(s for s in SCHEDULE if s != STREAM_ENGAGEMENT or campaign_data_granted())
	assert sorted(ids) == [f"{JOB_PREFIX}{s}" for s in due]
	assert all(job["deduplicate"] and job["queue"] == QUEUE for job in rec.enqueued)
	assert sorted(s for r in results for s in r) == due
	assert not rec.http


def test_the_gate_skips_streams_not_due_and_streams_turned_off(due_settings, monkeypatch):
	now = frappe.utils.now_datetime()
	update_settings({"last_changes_run": now, "last_optouts_run": now, "deletes_interval": 0}, commit=True)
	with recording(monkeypatch) as rec:
		queued = tasks.enqueue_due_streams()
	assert sorted(queued) == ["optout_scan", "push", "reconcile"]
	assert sorted(j["job_id"] for j in rec.enqueued) == [
		f"{JOB_PREFIX}optout_scan",
		f"{JOB_PREFIX}push",
		f"{JOB_PREFIX}reconcile",
	]


def test_the_gate_queues_the_opt_out_push_when_a_failed_push_is_due_again(due_settings, monkeypatch):
	"""A push that failed transiently is tried again a minute later: the next tick queues it, though the
	opt-out job itself is not due for another quarter of an hour."""
	from cc_sync.cc_sync.constants import OPT_OUT, OptOutStatus

	now = frappe.utils.now_datetime()
	ran = {job.last_run: now for job in SCHEDULE.values()}
	update_settings(ran, commit=True)
	row = frappe.get_doc(
		{
			"doctype": OPT_OUT,
			"email": "retry-due@tier2.test",
			"status": OptOutStatus.PENDING,
			"opted_out_at": now,
			"attempts": 1,
			"retry_at": frappe.utils.add_to_date(now, minutes=1),
			"last_error": "ServerError: HTTP 503",
		}
	).insert(ignore_permissions=True)
	frappe.db.commit()
	try:
		with recording(monkeypatch) as rec:
			assert tasks.enqueue_due_streams() == []  # not yet due
			frappe.db.set_value(OPT_OUT, row.name, "retry_at", frappe.utils.add_to_date(now, minutes=-1))
			frappe.db.commit()
			assert tasks.enqueue_due_streams() == ["optout_push"]
		assert [j["job_id"] for j in rec.enqueued] == [f"{JOB_PREFIX}optout_push"]
	finally:
		frappe.delete_doc(OPT_OUT, row.name, force=True, ignore_permissions=True)
		frappe.db.commit()


def test_the_gate_does_nothing_when_disabled_or_not_connected(due_settings, monkeypatch):
	with recording(monkeypatch) as rec:
		update_settings({"enabled": 0}, commit=True)
		assert tasks.enqueue_due_streams() == []
		update_settings({"enabled": 1, "connection_status": "Error"}, commit=True)
		assert tasks.enqueue_due_streams() == []
	assert rec.enqueued == []


def test_saving_settings_makes_no_api_call_and_enqueues_nothing(due_settings, monkeypatch):
	def edit(doc):
		doc.enabled = 1
		doc.changes_interval = 5
		doc.client_id = "tier2-client"
		doc.client_secret = "tier2-secret"
		doc.push_filters = '{"status": ["!=", "Do Not Contact"]}'
		doc.set("field_map", [])
		doc.append("field_map", {"cc_field": "job_title", "site_field": "designation", "field_owner": "site"})

	with recording(monkeypatch) as rec:
		save_settings(edit)
	assert rec.enqueued == []
	assert rec.http == []
	assert frappe.db.get_single_value(SETTINGS, "changes_interval") == 5


def test_a_save_never_rewinds_what_the_sync_wrote(due_settings):
	doc = frappe.get_doc(SETTINGS)
	update_settings({"api_calls_today": 1234, "last_changes_status": "Partial"}, commit=True)
	# The form was opened before the sync wrote: its stale values must not win.
	doc.changes_interval = 20
	doc.save()
	frappe.db.commit()
	assert frappe.db.get_single_value(SETTINGS, "api_calls_today") == 1234
	assert frappe.db.get_single_value(SETTINGS, "last_changes_status") == "Partial"


@pytest.mark.parametrize(
	"row, message",
	[
		({"cc_field": "favourite_colour", "site_field": "first_name"}, "row 1: unknown CC field"),
		({"cc_field": "phone:fax", "site_field": "phone"}, "row 1: unknown phone kind"),
		({"cc_field": "first_name", "site_field": "no_such_field"}, "row 1: Contact has no field"),
	],
)
def test_a_bad_field_map_row_is_refused_with_its_reason(due_settings, row, message):
	doc = frappe.get_doc(SETTINGS)
	doc.set("field_map", [])
	doc.append("field_map", {"field_owner": "cc", **row})
	with pytest.raises(frappe.ValidationError, match=message):
		doc.save()
	frappe.db.rollback()
