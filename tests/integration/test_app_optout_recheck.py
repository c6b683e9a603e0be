"""CC's opt-out filter, once judged unreliable, can be re-checked from the settings page: a POST for
System Managers, once in ten minutes per site, which queues the opt-out job with the check asked for;
and the settings page says which way opt-outs are read, since when, and how the re-checks stand."""

from __future__ import annotations

import pytest

import frappe

from cc_sync.cc_sync import api, record_guard, runner
from cc_sync.cc_sync.constants import CONNECTION_CONNECTED, JOB_PREFIX, SETTINGS, SETTINGS_OPTOUT_CHECK
from cc_sync.cc_sync.settings import update_settings
from cc_sync.cc_sync.wiring import build_store
from cc_sync.sync.optouts import STATE
from cc_sync.sync.report import RunReport
from cc_sync.sync.streams import STREAM_OPTOUTS
from tests.integration.app_helpers import recording, settings_restored

UNRELIABLE = {
	"reliable": False,
	"since": "2026-12-01T10:00:00+00:00",
	"reason": "optout_after did not return 1 opt-out(s) the app itself pushed to CC",
	"expected": [],
	"recheck": {"good": 1, "at": "2026-12-01T16:00:00+00:00", "result": "returned all 4 opt-out(s)"},
}


@pytest.fixture
def unreliable():
	with settings_restored():
		update_settings({"enabled": 1, "connection_status": CONNECTION_CONNECTED}, commit=True)
		store = build_store(frappe.get_single(SETTINGS))
		before = store.get_state(STATE)
		store.set_state(STATE, dict(UNRELIABLE))
		store.commit()
		frappe.cache.delete_value(frappe.cache.make_key("cc_sync:sync_now:optout_recheck"))
		try:
			yield store
		finally:
			store.set_state(STATE, before or {})
			store.commit()
			frappe.cache.delete_value(frappe.cache.make_key("cc_sync:sync_now:optout_recheck"))


def test_re_check_now_asks_for_the_check_and_queues_the_opt_out_job_once_in_ten_minutes(
	unreliable, monkeypatch
):
	with recording(monkeypatch) as rec:
		assert api.recheck_optout_filter() == {"queued": True}
		assert unreliable.get_state(STATE)["recheck_requested"] is True
		with pytest.raises(frappe.RateLimitExceededError):
			api.recheck_optout_filter()
	assert [j["job_id"] for j in rec.enqueued] == [f"{JOB_PREFIX}{STREAM_OPTOUTS}"]
	assert not rec.http  # the press itself spends no API call
	assert record_guard.RECHECK_WINDOW_SECONDS == 600


def test_re_check_now_is_refused_while_the_filter_is_trusted(unreliable, monkeypatch):
	unreliable.set_state(STATE, {"reliable": True})
	unreliable.commit()
	with recording(monkeypatch) as rec, pytest.raises(frappe.ValidationError):
		api.recheck_optout_filter()
	assert rec.enqueued == []


def test_the_settings_page_says_which_mode_is_active_since_when(unreliable):
	from cc_sync.sync.config import SyncConfig
	from cc_sync.sync.context import RunContext
	from cc_sync.sync.optouts import _notice

	report = RunReport(started=frappe.utils.now_datetime())
	ctx = RunContext(None, unreliable, SyncConfig(), None, report)
	report.stream(STREAM_OPTOUTS).notice = _notice(ctx, dict(UNRELIABLE))
	runner.save_optout_check(report)
	text = frappe.db.get_single_value(SETTINGS, SETTINGS_OPTOUT_CHECK)
	assert "NOT reliable on this account (concluded 2026-12-01 10:00:00 UTC" in text
	assert "Re-checked every 6 h: 1 of 3 good checks in a row needed to trust it again" in text
	assert "next after 2026-12-01 16:00 UTC" in text
