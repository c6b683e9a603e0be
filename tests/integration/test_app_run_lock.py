"""On a real site: two runs of one site never overlap, and a run always gives the site's lock back."""

from __future__ import annotations

import pytest

import frappe

from cc_sync.cc_sync import runner
from cc_sync.cc_sync.constants import SETTINGS, SYNC_LOG, TRIGGER_SCHEDULER
from cc_sync.cc_sync.settings import stored_values
from cc_sync.sync.streams import STREAM_CHANGES
from tests.integration.app_helpers import settings_restored


def _site_lock():
	return frappe.cache.lock(frappe.cache.make_key(runner.RUN_LOCK_KEY), timeout=60)


@pytest.fixture
def logs_removed():
	"""Remove the sync logs the test's runs leave."""
	before = set(frappe.get_all(SYNC_LOG, pluck="name"))
	yield
	for name in set(frappe.get_all(SYNC_LOG, pluck="name")) - before:
		frappe.delete_doc(SYNC_LOG, name, ignore_permissions=True, force=True)
	frappe.db.commit()


def test_a_scheduled_run_that_finds_the_site_busy_is_logged_skipped_and_offered_again(
	monkeypatch, logs_removed
):
	monkeypatch.setattr(runner, "RUN_LOCK_WAIT_SECONDS", 0.2)
	monkeypatch.setattr(runner, "build", lambda *a, **k: pytest.fail("a run that did not get its turn ran"))
	busy = _site_lock()
	assert busy.acquire(blocking_timeout=5)
	try:
		with settings_restored():
			result = runner.run_job(STREAM_CHANGES, TRIGGER_SCHEDULER)
			assert result.status == "Skipped"
			log = frappe.get_doc(SYNC_LOG, result.logs[0])
			assert log.status == "Skipped"
			assert "still busy" in log.error
			# The gate offers it again at its next tick.
			assert frappe.db.get_single_value(SETTINGS, "last_changes_status") == "Skipped"
			assert not stored_values(("last_changes_run",)).get("last_changes_run")
	finally:
		busy.release()


def test_a_run_that_fails_gives_the_sites_lock_back(monkeypatch, logs_removed):
	def broken(*args, **kwargs):
		raise RuntimeError("the engine could not be built")

	monkeypatch.setattr(runner, "build", broken)
	# Not this test's business: the managers' bell for a failed run.
	monkeypatch.setattr(runner, "note_run", lambda *a, **k: False)
	with settings_restored():
		result = runner.run_job(STREAM_CHANGES, TRIGGER_SCHEDULER)
	assert result.status == "Failed"
	assert "could not be built" in (result.error or "")
	after = _site_lock()
	assert after.acquire(blocking_timeout=1), "the failed run kept the site's run lock"
	after.release()
