"""The opt-out stream's self-check on a real site: the emulator served with `optout_after` returning
nothing, caught on the first run against CC's unsubscribed count, the conclusion shown on the settings
page and in the sync log, the fallback scan applying CC's opt-outs; then the daily safety scan's log."""

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
	# The seeded account holds unsubscribed contacts; the first opt-out run's query returns none of them.
	first = runner.run_job("optouts", TRIGGER_SHELL)
	assert first.status == "Success"
	notice = _notice(first)
	assert "NOT reliable" in notice and "while CC counts" in notice and "API calls for" in notice
	assert "NOT reliable" in frappe.db.get_single_value(SETTINGS, "optout_check")
	items = frappe.get_all(
		"Constant Contact Sync Log Item", filters={"parent": first.logs[0]}, pluck="reason"
	)
	assert any("optout_after is not reliable" in reason for reason in items)
	# The fallback scan applied CC's opt-outs in the same run.
	assert frappe.db.count(CONTACT, {"unsubscribed": 1, "email_id": ["like", "%@example.com"]}) > 0

	# A person opts out on the site; the opt-out job pushes it to CC, and later runs keep scanning.
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
	assert "full scan" in rows["Opt-outs"].notice

	# The daily safety scan runs on its own and says what the stream missed.
	scan = runner.run_job("optout_scan", TRIGGER_SHELL)
	assert scan.status == "Success"
	assert "opt-out(s) the stream had missed" in _notice(scan, "Opt-out safety scan")
	assert "Daily opt-out scan" in frappe.db.get_single_value(SETTINGS, "optout_check")
