"""The health line judges what a person can see go wrong, each state in its own words with the one action
that fixes it: a stream that never ran since sync was turned on, one that is overdue, a failing run, the
scheduler off or never starting cc_sync's job, no worker, and a connection at risk (a client secret CC
has not accepted yet, while the sync goes on with the one that works)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

import frappe
from frappe.core.doctype.scheduled_job_type.scheduled_job_type import ScheduledJobType
from frappe.utils import get_datetime, now_datetime

from cc_sync.cc_sync import api, health, machinery, oauth
from cc_sync.cc_sync.constants import CONNECTION_CONNECTED, SETTINGS, SYNC_LOG, LogStatus
from cc_sync.cc_sync.settings import stored_values, update_settings
from cc_sync.constant_contact.auth import OAuthClient
from cc_sync.constant_contact.errors import AuthError
from cc_sync.constant_contact.models import TokenSet
from cc_sync.sync.streams import SCHEDULED_JOBS
from tests.integration.app_helpers import save_settings, settings_restored


def _all_ran(minutes_ago: int) -> dict:
	at = now_datetime() - timedelta(minutes=minutes_ago)
	return {job.last_run_field: at for job in SCHEDULED_JOBS}


@pytest.fixture
def running(monkeypatch):
	"""Connected and enabled, a list mapped, the scheduler and a worker serving: only the state under
	test can make the line anything but green."""
	monkeypatch.setattr(health, "scheduler_problem", lambda: None)
	monkeypatch.setattr(health, "worker_problem", lambda: None)
	monkeypatch.setattr(health, "_mapping_line", lambda: None)
	monkeypatch.setattr(health, "_last_run_line", lambda v: health.Line("green", "In sync"))
	with settings_restored():
		update_settings(
			{
				"client_id": "tier2",
				"connection_status": CONNECTION_CONNECTED,
				"enabled": 1,
				"enabled_since": now_datetime() - timedelta(days=3),
				"client_secret_unproven": 0,
				**_all_ran(1),
			},
			commit=True,
		)
		yield


def test_every_stream_on_time_is_green(running):
	assert health.health()["level"] == "green"


def test_a_stream_that_never_ran_since_sync_was_turned_on_is_named_with_a_run_now(running, monkeypatch):
	update_settings({"last_deletes_run": None, "enabled_since": now_datetime() - timedelta(hours=3)})
	line = health.health()
	assert line["level"] == "orange"
	assert line["message"] == (
		"Deletes has never run since scheduled sync was turned on 3 hours ago; it should run every hour."
	)
	assert line["action"] == {
		"label": "Run it now",
		"route": None,
		"method": "cc_sync.cc_sync.api.run_overdue",
	}
	queued = []
	monkeypatch.setattr(api, "enqueue_stream", lambda job, trigger, **k: queued.append(job) or True)
	assert api.run_overdue()["queued"] == ["deletes"] and queued == ["deletes"]


def test_a_stream_is_given_two_intervals_after_sync_is_turned_on_before_it_counts_as_never_run(running):
	update_settings(
		{
			**{job.last_run_field: None for job in SCHEDULED_JOBS},
			"enabled_since": now_datetime() - timedelta(minutes=20),
		}
	)
	assert health.health()["level"] == "green"


def test_turning_sync_on_in_the_form_notes_when(running):
	save_settings(lambda doc: doc.update({"enabled": 0}))
	assert not stored_values(("enabled_since",)).get("enabled_since")
	save_settings(lambda doc: doc.update({"enabled": 1}))
	since = get_datetime(frappe.db.get_single_value(SETTINGS, "enabled_since"))
	assert abs((now_datetime() - since).total_seconds()) < 60
	# Saving again while on keeps the time it was turned on.
	update_settings({"enabled_since": now_datetime() - timedelta(days=1)}, commit=True)
	save_settings(lambda doc: doc.update({"overlap_minutes": 6}))
	assert now_datetime() - get_datetime(frappe.db.get_single_value(SETTINGS, "enabled_since")) > timedelta(
		hours=23
	)


def test_an_overdue_stream_says_when_it_last_ran_and_how_often_it_should(running):
	update_settings({"last_changes_run": now_datetime() - timedelta(minutes=47)})
	line = health.health()
	assert line["level"] == "orange"
	assert (
		line["message"] == "Changes is overdue: it last ran 47 minutes ago and should run every 15 minutes."
	)
	assert line["action"]["label"] == "Run it now" and "Scheduled Job Log" in line["detail"]
	# Twice the interval and one tick of the gate is not overdue yet.
	update_settings({"last_changes_run": now_datetime() - timedelta(minutes=34)})
	assert health.health()["level"] == "green"


def test_a_stream_switched_off_is_never_overdue(running):
	update_settings({"changes_interval": 0, "last_changes_run": now_datetime() - timedelta(days=2)})
	assert health.health()["level"] == "green"


def test_a_failing_run_is_red_with_its_log(running, monkeypatch):
	monkeypatch.undo()
	monkeypatch.setattr(health, "scheduler_problem", lambda: None)
	monkeypatch.setattr(health, "worker_problem", lambda: None)
	monkeypatch.setattr(health, "_mapping_line", lambda: None)
	log = frappe.get_doc(
		{
			"doctype": SYNC_LOG,
			"stream": "Changes",
			"status": LogStatus.FAILED,
			"trigger": "Scheduler",
			"started": now_datetime(),
			"ended": now_datetime(),
			"error": "Changes: KeyError: 'email_address'\nmore",
			"runs": 1,
		}
	).insert(ignore_permissions=True)
	try:
		line = health.health()
		assert line["level"] == "red"
		assert line["message"] == "The last sync run failed: Changes: KeyError: 'email_address'"
		assert line["action"] == {
			"label": "Open log",
			"route": f"/app/constant-contact-sync-log/{log.name}",
			"method": None,
		}
	finally:
		frappe.delete_doc(SYNC_LOG, log.name, force=True, ignore_permissions=True)
		frappe.db.commit()


def test_the_scheduler_off_is_red_with_where_to_turn_it_on(running, monkeypatch):
	import frappe.utils.scheduler as scheduler

	monkeypatch.undo()
	monkeypatch.setattr(health, "worker_problem", lambda: None)
	monkeypatch.setattr(scheduler, "is_scheduler_inactive", lambda verbose=True: True)
	line = health.health()
	assert line["level"] == "red" and "scheduler is off" in line["message"]
	assert (
		line["action"]["label"] == "Open System Settings"
		and line["action"]["route"] == "/app/system-settings"
	)


@pytest.fixture
def gate():
	job = machinery.gate_job()
	before = (job.last_execution, job.creation, job.stopped)
	yield job
	frappe.db.set_value(
		"Scheduled Job Type",
		job.name,
		{"last_execution": before[0], "creation": before[1], "stopped": before[2]},
		update_modified=False,
	)
	frappe.db.commit()


def test_a_scheduler_that_will_not_start_the_sync_for_hours_is_red_and_started_from_the_line(
	running, gate, monkeypatch
):
	"""The site moved from Asia/Kolkata to UTC after install: cc_sync's job carries a creation 5.5
	hours ahead of the clock and has never run, so Frappe's scheduler waits 5.5 hours to start it."""
	import frappe.utils.scheduler as scheduler

	monkeypatch.undo()
	monkeypatch.setattr(health, "worker_problem", lambda: None)
	monkeypatch.setattr(scheduler, "is_scheduler_inactive", lambda verbose=True: False)
	frappe.db.set_value(
		"Scheduled Job Type",
		gate.name,
		{"last_execution": None, "creation": now_datetime() + timedelta(hours=5, minutes=30), "stopped": 0},
		update_modified=False,
	)
	line = health.health()
	assert line["level"] == "red"
	assert line["message"].startswith("The site's scheduler will not start the Constant Contact sync until ")
	assert line["action"]["label"] == "Start the schedule"
	assert line["action"]["method"] == "cc_sync.cc_sync.health.restart_schedule"
	started = []
	monkeypatch.setattr(ScheduledJobType, "enqueue", lambda self, force=False: started.append(force) or True)
	after = health.restart_schedule()
	assert started == [True]
	assert "will not start" not in after["message"]
	assert machinery.gate_job().get_next_execution() - now_datetime() <= timedelta(minutes=5)


def test_a_stopped_sync_job_in_the_scheduler_is_red(running, gate, monkeypatch):
	import frappe.utils.scheduler as scheduler

	monkeypatch.undo()
	monkeypatch.setattr(health, "worker_problem", lambda: None)
	monkeypatch.setattr(scheduler, "is_scheduler_inactive", lambda verbose=True: False)
	frappe.db.set_value("Scheduled Job Type", gate.name, "stopped", 1, update_modified=False)
	line = health.health()
	assert line["level"] == "red" and "stopped in the site's scheduler" in line["message"]
	assert line["action"]["label"] == "Start the schedule"


def test_no_worker_is_red_with_the_command_and_the_health_report(running, monkeypatch):
	monkeypatch.setattr(
		health, "worker_problem", lambda: "No background worker is running for the 'long' queue"
	)
	line = health.health()
	assert line["level"] == "red" and line["message"].startswith("No background worker")
	assert line["action"] == {
		"label": "Open System Health Report",
		"route": "/app/system-health-report",
		"method": None,
	}


@pytest.fixture
def connected_with_secret(running):
	from frappe.utils.password import set_encrypted_password

	save_settings(lambda doc: doc.update({"client_secret": "the-working-secret"}))
	set_encrypted_password(SETTINGS, SETTINGS, "the-refresh-token", "refresh_token")
	set_encrypted_password(SETTINGS, SETTINGS, "the-access-token", "access_token")
	update_settings({"connection_status": CONNECTION_CONNECTED, "client_secret_unproven": 0}, commit=True)
	save_settings(lambda doc: doc.update({"client_secret": "a-new-secret"}))


def _secret(field: str = "client_secret") -> str | None:
	from frappe.utils.password import get_decrypted_password

	return get_decrypted_password(SETTINGS, SETTINGS, field, raise_exception=False)


def test_a_new_client_secret_puts_the_connection_at_risk_and_the_working_one_stays_in_use(
	connected_with_secret,
):
	line = health.health()
	assert line["level"] == "orange"
	assert line["message"].startswith("Connection at risk: the client secret was changed")
	assert line["action"] == {
		"label": "Test connection",
		"route": None,
		"method": "cc_sync.cc_sync.api.test_connection",
	}
	# Token refreshes go on with the secret CC accepted; Connect and the proof use the new one.
	assert oauth.oauth_client().client_secret == "the-working-secret"
	assert oauth.oauth_client(entered=True).client_secret == "a-new-secret"


def test_a_rejected_new_secret_is_replaced_by_the_working_one(connected_with_secret, monkeypatch):
	def refuse(self, refresh_token):
		assert self.client_secret == "a-new-secret"
		raise AuthError(400, "invalid_client", "Invalid client credentials")

	monkeypatch.setattr(OAuthClient, "refresh", refuse)
	result = api.test_connection()
	assert result["ok"] is False and "did not accept the new client secret" in result["message"]
	assert _secret() == "the-working-secret" and _secret("proven_client_secret") is None
	assert not frappe.db.get_single_value(SETTINGS, "client_secret_unproven")
	assert frappe.db.get_single_value(SETTINGS, "connection_status") == CONNECTION_CONNECTED
	assert health.health()["level"] == "green"


def test_an_accepted_new_secret_is_used_from_then_on(connected_with_secret, monkeypatch):
	class Lists:
		calls = 0

		def get_contact_lists(self, limit):
			return [{"list_id": "one"}]

	fresh = TokenSet(
		access_token="new-access",
		refresh_token="new-refresh",
		expires_at=datetime.now(timezone.utc) + timedelta(hours=1),
	)
	monkeypatch.setattr(OAuthClient, "refresh", lambda self, token: fresh)
	monkeypatch.setattr(api, "_connected", lambda require: (None, Lists()))
	monkeypatch.setattr(api, "save_budget", lambda client, budget: None)
	assert api.test_connection()["ok"] is True
	frappe.db.commit()  # as the request does; the new tokens were committed on a connection of their own
	assert _secret() == "a-new-secret" and _secret("refresh_token") == "new-refresh"
	assert not frappe.db.get_single_value(SETTINGS, "client_secret_unproven")
	assert oauth.oauth_client().client_secret == "a-new-secret"
	assert health.health()["level"] == "green"


def test_a_site_enabled_before_the_time_was_noted_counts_from_its_migrate(running):
	from cc_sync.cc_sync.install import ensure_settings_defaults

	update_settings({"enabled_since": None})
	ensure_settings_defaults()
	since = get_datetime(stored_values(("enabled_since",))["enabled_since"])
	assert abs((now_datetime() - since).total_seconds()) < 60
	# Once noted, a migrate keeps it.
	update_settings({"enabled_since": now_datetime() - timedelta(days=2)})
	ensure_settings_defaults()
	assert now_datetime() - get_datetime(stored_values(("enabled_since",))["enabled_since"]) > timedelta(
		days=1
	)


def test_an_unreliable_opt_out_filter_is_not_green_and_offers_the_re_check(running):
	import json

	from cc_sync.cc_sync.constants import SETTINGS_SYNC_STATE

	update_settings({SETTINGS_SYNC_STATE: "{}"})
	assert health.health()["level"] == "green"
	state = {"optouts": {"reliable": False, "since": "2026-12-01T10:00:00+00:00", "recheck": {"good": 1}}}
	update_settings({SETTINGS_SYNC_STATE: json.dumps(state)})
	line = health.health()
	assert line["level"] == "orange"
	assert line["message"] == (
		"CC's opt-out filter (optout_after) is not reliable on this account since 2026-12-01 10:00 UTC: "
		"opt-outs are read by a full scan of unsubscribed and deleted contacts instead, which costs more "
		"API calls."
	)
	assert line["detail"] == (
		"No opt-out is missed meanwhile. The filter is re-checked every 6 hours and trusted again after 3 "
		"good checks in a row (1 so far)."
	)
	assert line["action"] == {
		"label": "Re-check opt-out filter",
		"route": None,
		"method": "cc_sync.cc_sync.api.recheck_optout_filter",
	}
	# Trusted again: green.
	state["optouts"] = {"reliable": True, "trusted_since": "2026-12-03T10:00:00+00:00"}
	update_settings({SETTINGS_SYNC_STATE: json.dumps(state)})
	assert health.health()["level"] == "green"
