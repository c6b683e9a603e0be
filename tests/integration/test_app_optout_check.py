"""The opt-out stream's self-check on a real site: the emulator served with `optout_after` returning
nothing, a site opt-out pushed to CC that the next pull does not return, and the conclusion shown on the
settings page and in the sync log; then the daily safety scan's own log."""

from __future__ import annotations

import pytest

import frappe

from cc_sync.cc_sync import runner
from cc_sync.cc_sync.constants import CONTACT, SETTINGS, SYNC_LOG, TRIGGER_SHELL
from tests.integration import test_app_end_to_end as end_to_end
from tests.integration.app_helpers import serve_emulator

# The end-to-end fixtures, with this module's `emulator` (optout_after returning nothing) under them.
web = end_to_end.web
pointed_at = end_to_end.pointed_at


@pytest.fixture
def emulator():
	"""The emulator with CC's optout_after answering no contact at all (CC support's reading of it)."""
	with serve_emulator("--optout-after", "empty") as info:
		yield info


def _notice(result, stream: str = "Opt-outs") -> str:
	"""The notice the run's log holds for one stream (its row in the log's stream table)."""
	log = frappe.get_doc(SYNC_LOG, result.logs[0])
	rows = {row.stream: row for row in log.streams}
	assert stream in rows, list(rows)
	return rows[stream].notice or ""


def test_an_unreliable_optout_after_is_concluded_shown_and_worked_around(web, pointed_at):
	end_to_end._connect_over_http(web)
	frappe.db.rollback()
	assert runner.run_job("changes", TRIGGER_SHELL).status == "Success"
	first = runner.run_job("optouts", TRIGGER_SHELL)
	assert first.status == "Success"
	assert "trusted" in _notice(first)

	# A person opts out on the site; the opt-out job pushes it to CC.
	name = frappe.get_all(
		CONTACT, filters={"unsubscribed": 0, "email_id": ["like", "%@example.com"]}, pluck="name"
	)[0]
	contact = frappe.get_doc(CONTACT, name)
	contact.unsubscribed = 1
	contact.save(ignore_permissions=True)
	frappe.db.commit()
	pushed = runner.run_job("optouts", TRIGGER_SHELL)
	assert pushed.status in ("Success", "Partial")
	rows = {row.stream: row for row in frappe.get_doc(SYNC_LOG, pushed.logs[0]).streams}
	assert rows["Opt-outs to CC"].unsubscribed == 1

	# The next pull does not return it: optout_after is concluded unreliable, said on the form and in the log.
	checked = runner.run_job("optouts", TRIGGER_SHELL)
	assert checked.status == "Success"
	notice = _notice(checked)
	assert "NOT reliable" in notice and "API calls for" in notice
	shown = frappe.db.get_single_value(SETTINGS, "optout_check")
	assert "NOT reliable" in shown
	items = frappe.get_all(
		"Constant Contact Sync Log Item", filters={"parent": checked.logs[0]}, pluck="reason"
	)
	assert any("optout_after is not reliable" in reason for reason in items)

	# The daily safety scan runs on its own and says what the stream missed.
	scan = runner.run_job("optout_scan", TRIGGER_SHELL)
	assert scan.status == "Success"
	assert "opt-out(s) the stream had missed" in _notice(scan, "Opt-out safety scan")
	assert "Daily opt-out scan" in frappe.db.get_single_value(SETTINGS, "optout_check")
