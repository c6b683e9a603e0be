"""A judgement that CC's `optout_after` is unreliable is re-checked on a schedule and recovers.

It used to stand for good: the settings page stayed red and every opt-out run paid for the full scan.
"""

from __future__ import annotations

from datetime import timedelta

from cc_sync.sync.optouts import STATE
from cc_sync.sync.streams import STREAM_OPTOUTS
from tests.unit.test_optout_selfcheck import JOB, optout_calls, push_a_site_optout, world


def unreliable_world():
	"""`optout_after` returned nothing, the stream caught it and reads opt-outs by the full scan."""
	w = world("empty")
	push_a_site_optout(w)
	w.emu.unsubscribe(w.emu.find_by_email("p2@example.com")["contact_id"])
	with w.emu.mocked():
		w.run(*JOB)
	assert w.store.get_state(STATE)["reliable"] is False
	return w


def run_job(w, after: timedelta):
	w.clock.advance(after.total_seconds())
	with w.emu.mocked():
		return w.run(*JOB).streams[STREAM_OPTOUTS]


def test_the_filter_is_trusted_again_after_three_good_re_checks_in_a_row():
	w = unreliable_world()
	w.emu.optout_after = "filters"  # CC fixed its filter
	# Between re-checks the full scan carries on, and no optout_after query is made.
	quiet = run_job(w, timedelta(minutes=15))
	assert w.store.get_state(STATE)["reliable"] is False
	assert "NOT reliable" in quiet.notice and "0 of 3 good checks" in quiet.notice
	for good in (1, 2):
		report = run_job(w, timedelta(hours=6))
		assert w.store.get_state(STATE)["reliable"] is False
		assert f"{good} of 3 good checks in a row" in report.notice
		assert "returned all 2 opt-out(s) the full scan found" in report.notice
	recovered = run_job(w, timedelta(hours=6))
	assert w.store.get_state(STATE)["reliable"] is True
	assert any("optout_after works again" in n.reason for n in recovered.warnings)
	# From then on opt-outs are read through the filter: one call, no full scan.
	before = len(optout_calls(w))
	w.emu.unsubscribe(w.emu.find_by_email("p4@example.com")["contact_id"])
	after = run_job(w, timedelta(minutes=15))
	calls = optout_calls(w)[before:]
	assert len(calls) == 1 and "optout_after" in calls[0]
	assert w.store.contact_by_email("p4@example.com").unsubscribed
	assert after.notice.startswith("CC's opt-out filter (optout_after) is trusted since")


def test_a_bad_re_check_starts_the_count_again():
	w = unreliable_world()
	w.emu.optout_after = "filters"
	assert "1 of 3" in run_job(w, timedelta(hours=6)).notice
	w.emu.optout_after = "empty"  # it fails again
	bad = run_job(w, timedelta(hours=6))
	assert "0 of 3" in bad.notice and "missed 2 of the 2 opt-out(s)" in bad.notice
	w.emu.optout_after = "ignored"
	ignored = run_job(w, timedelta(hours=6))
	assert "did not opt out after" in ignored.notice
	assert w.store.get_state(STATE)["reliable"] is False


def test_a_re_check_asked_for_runs_at_the_next_opt_out_run():
	w = unreliable_world()
	w.emu.optout_after = "filters"
	state = w.store.get_state(STATE)
	w.store.set_state(STATE, {**state, "recheck_requested": True})
	w.store.commit()
	report = run_job(w, timedelta(minutes=1))
	assert "1 of 3 good checks" in report.notice
	assert "recheck_requested" not in w.store.get_state(STATE)
