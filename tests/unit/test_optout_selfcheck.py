"""The opt-out stream checks itself, falls back to a full scan, and a daily scan is its safety net.

Whether CC's `optout_after` works is unconfirmed (CC support, 2022 and 2024: the API "is not able to
directly retrieve opt outs from after a certain date"), so the emulator is run with it working, ignored,
and returning nothing.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from cc_sync.sync.optouts import STATE
from cc_sync.sync.streams import STREAM_OPTOUT_PUSH, STREAM_OPTOUT_SCAN, STREAM_OPTOUTS
from tests.world import make_world

JOB = (STREAM_OPTOUTS, STREAM_OPTOUT_PUSH)  # the scheduled opt-out job


def utc(*args):
	return datetime(*args, tzinfo=timezone.utc)


def world(mode: str):
	w = make_world(utc(2024, 6, 1, 12), rate_limit=None, optout_after=mode)
	for i in range(6):
		w.emu.add_contact(f"p{i}@example.com", list_ids=[w.list_id])
	with w.emu.mocked():
		w.run(*JOB)  # first run: no opt-out anywhere yet
	return w


def push_a_site_optout(w, email: str = "p1@example.com"):
	"""A site opt-out, pushed to CC by the opt-out job; the job after it checks that it came back."""
	w.clock.advance(60)
	w.store.add_contact(email)
	w.store.unsubscribe_locally(email)
	w.store.commit()
	with w.emu.mocked():
		pushed = w.run(*JOB)
	assert pushed.streams[STREAM_OPTOUT_PUSH].unsubscribed == 1
	w.clock.advance(900)


def optout_calls(w) -> list[str]:
	return [q for _m, p, q in w.emu.call_log if p == "/v3/contacts"]


def test_with_optout_after_working_every_pushed_opt_out_comes_back_and_nothing_else_is_read():
	w = world("filters")
	push_a_site_optout(w)
	w.emu.unsubscribe(w.emu.find_by_email("p2@example.com")["contact_id"])
	with w.emu.mocked():
		report = w.run(*JOB).streams[STREAM_OPTOUTS]
	assert report.status == "success" and not report.warnings
	assert (
		report.notice
		== "CC's opt-out filter (optout_after) is trusted since 2024-06-01 12:00 UTC and works: the 1 opt-out "
		"this site sent to CC came back."
	)
	assert w.store.get_state(STATE)["reliable"] is True and w.store.get_state(STATE)["expected"] == []
	assert w.store.contact_by_email("p2@example.com").unsubscribed
	assert report.api_calls == 1


def test_optout_after_returning_nothing_is_caught_by_a_pushed_opt_out_then_read_by_full_scan():
	w = world("empty")
	push_a_site_optout(w)
	w.emu.unsubscribe(w.emu.find_by_email("p2@example.com")["contact_id"])  # the person, in CC
	with w.emu.mocked():
		report = w.run(*JOB).streams[STREAM_OPTOUTS]
	state = w.store.get_state(STATE)
	assert state["reliable"] is False
	assert "did not return 1 opt-out(s) the app itself pushed" in state["reason"]
	assert any("not reliable on this account" in n.reason for n in report.warnings)
	assert "NOT reliable" in report.notice and "API calls for" in report.notice
	# The fallback read it anyway: the person's CC opt-out reached the site in the same run.
	assert w.store.contact_by_email("p2@example.com").unsubscribed
	# From now on no optout_after query is made: the full scan reads opt-outs, its cost logged.
	before = len(optout_calls(w))
	w.emu.unsubscribe(w.emu.find_by_email("p3@example.com")["contact_id"])
	w.clock.advance(900)
	with w.emu.mocked():
		again = w.run(*JOB).streams[STREAM_OPTOUTS]
	later = optout_calls(w)[before:]
	assert later and not any("optout_after" in q for q in later)
	assert {q.split("status=")[1].split("&")[0] for q in later} == {"unsubscribed", "deleted"}
	assert w.store.contact_by_email("p3@example.com").unsubscribed
	assert any("full opt-out scan" in n.reason and "API calls" in n.reason for n in again.warnings)


def test_optout_after_ignored_is_caught_on_the_first_page_without_reading_the_whole_account():
	w = make_world(utc(2024, 6, 1, 12), rate_limit=None, optout_after="ignored")
	for i in range(1200):
		w.emu.add_contact(f"p{i}@example.com")
	w.emu.unsubscribe(w.emu.find_by_email("p7@example.com")["contact_id"])
	with w.emu.mocked():
		report = w.run(STREAM_OPTOUTS).streams[STREAM_OPTOUTS]
	state = w.store.get_state(STATE)
	assert state["reliable"] is False and "the filter is ignored" in state["reason"]
	stream_pages = [q for q in optout_calls(w) if "optout_after" in q or "cursor" in q]
	assert len(stream_pages) == 1  # stopped after the first page, not 3 pages of the whole account
	assert w.store.contact_by_email("p7@example.com").unsubscribed
	# Only opt-outs were applied: the subscribed contacts on that page were not created as changes.
	assert len(w.store.contacts) == 1
	assert report.status == "success"


def test_a_pushed_opt_out_the_person_undid_in_cc_raises_no_false_alarm():
	w = world("filters")
	push_a_site_optout(w)
	cid = w.emu.find_by_email("p1@example.com")["contact_id"]
	w.emu.opt_in(cid)  # the person opted in again in CC before the next pull
	with w.emu.mocked():
		w.run(*JOB)
	assert w.store.get_state(STATE)["reliable"] is True


@pytest.mark.parametrize("mode", ["empty", "filters"])
def test_the_daily_scan_reports_what_the_stream_missed(mode):
	w = world(mode)
	w.emu.unsubscribe(w.emu.find_by_email("p4@example.com")["contact_id"])
	w.clock.advance(2 * 3600)  # past the hour the scan allows for clocks that disagree
	with w.emu.mocked():
		w.run(*JOB)  # with "empty", the stream misses it
		w.clock.advance(3600)
		scan = w.run(STREAM_OPTOUT_SCAN).streams[STREAM_OPTOUT_SCAN]
	missed = [n for n in scan.warnings if "that the opt-out stream missed" in n.reason]
	assert w.store.contact_by_email("p4@example.com").unsubscribed
	if mode == "empty":
		assert [n.email for n in missed] == ["p4@example.com"]
		assert "1 opt-out(s) the stream had missed" in scan.notice
		assert w.store.get_state(STATE)["reliable"] is False
	else:
		assert missed == [] and "0 opt-out(s) the stream had missed" in scan.notice
		assert w.store.get_state(STATE)["reliable"] is True


def test_the_daily_scan_uses_cc_s_export_on_a_large_account():
	w = make_world(utc(2024, 6, 1, 12), rate_limit=None)
	w.engine.config = type(w.config)(**{**w.config.__dict__, "export_threshold": 100})
	for i in range(300):
		cid = w.emu.add_contact(f"u{i}@example.com")
		w.emu.unsubscribe(cid)
	with w.emu.mocked():
		scan = w.run(STREAM_OPTOUT_SCAN).streams[STREAM_OPTOUT_SCAN]
	assert scan.activity_ids and scan.fetched == 300
	assert sum(1 for c in w.store.contacts.values() if c.unsubscribed) == 300
	assert scan.api_calls < 12  # one page to count, the export, its polls, lookups, the download


def test_the_fallback_scan_of_a_large_account_is_one_export_per_run():
	w = make_world(utc(2024, 6, 1, 12), rate_limit=None, optout_after="empty")
	w.engine.config = type(w.config)(**{**w.config.__dict__, "export_threshold": 100})
	w.store.set_state(STATE, {"reliable": False, "reason": "seen before", "since": "2024-06-01T00:00:00"})
	w.store.commit()
	for i in range(400):
		cid = w.emu.add_contact(f"u{i}@example.com")
		if i % 2:
			w.emu.unsubscribe(cid)
	with w.emu.mocked():
		report = w.run(STREAM_OPTOUTS).streams[STREAM_OPTOUTS]
	assert report.activity_ids and report.api_calls < 12
	assert sum(1 for c in w.store.contacts.values() if c.unsubscribed) == 200
	assert "Last run:" in report.notice


def test_a_pushed_opt_out_whose_contact_cc_no_longer_knows_raises_no_alarm_and_fails_nothing():
	w = world("filters")
	state = {
		"reliable": True,
		"expected": [
			{"contact_id": "gone-id", "email": "x@example.com", "opt_out_date": "2024-06-01T12:05:00+00:00"}
		],
	}
	w.store.set_state(STATE, state)
	w.store.commit()
	w.clock.advance(900)
	with w.emu.mocked():
		report = w.run(*JOB).streams[STREAM_OPTOUTS]
	assert report.status == "success" and w.store.get_state(STATE)["reliable"] is True


def test_a_first_run_that_returns_fewer_opt_outs_than_cc_counts_is_caught_at_once():
	"""With optout_after returning nothing and no site opt-out ever pushed, the first run still notices:
	CC counts unsubscribed contacts the query did not return; the fallback applies them in the same run."""
	w = make_world(utc(2024, 6, 1, 12), rate_limit=None, optout_after="empty")
	for i in range(5):
		cid = w.emu.add_contact(f"q{i}@example.com")
		if i % 2:
			w.emu.unsubscribe(cid)
	with w.emu.mocked():
		report = w.run(STREAM_OPTOUTS).streams[STREAM_OPTOUTS]
	state = w.store.get_state(STATE)
	assert (
		state["reliable"] is False
		and "returned 0 unsubscribed contact(s) while CC counts 2" in state["reason"]
	)
	assert {c.email for c in w.store.contacts.values() if c.unsubscribed} == {
		"q1@example.com",
		"q3@example.com",
	}
	assert report.status == "success"


def test_a_working_first_run_costs_one_count_call_more_and_concludes_nothing():
	w = make_world(utc(2024, 6, 1, 12), rate_limit=None)
	for i in range(5):
		cid = w.emu.add_contact(f"q{i}@example.com")
		if i % 2:
			w.emu.unsubscribe(cid)
	with w.emu.mocked():
		first = w.run(STREAM_OPTOUTS).streams[STREAM_OPTOUTS]
		w.clock.advance(900)
		second = w.run(STREAM_OPTOUTS).streams[STREAM_OPTOUTS]
	assert w.store.get_state(STATE)["reliable"] is True
	assert (first.api_calls, second.api_calls) == (2, 1)


def test_a_site_that_already_synced_opt_outs_keeps_trusting_a_working_optout_after():
	"""A site that read opt-outs before the self-check existed holds a watermark but no check state.

	Its first checked run asks only for opt-outs since that watermark, so comparing what comes back
	with every unsubscribed contact CC counts would condemn a working filter and switch every run to
	the costly full scan.
	"""
	w = world("filters")
	for i in range(4):
		w.emu.unsubscribe(w.emu.find_by_email(f"p{i}@example.com")["contact_id"])
	with w.emu.mocked():
		w.run(*JOB)
	w.clock.advance(3 * 3600)
	w.emu.unsubscribe(w.emu.find_by_email("p4@example.com")["contact_id"])
	with w.emu.mocked():
		w.run(*JOB)  # the watermark is now hours past the first four opt-outs
	w.store.set_state(STATE, None)  # what a site upgraded from a version without the check holds
	w.store.commit()
	w.clock.advance(900)
	w.emu.unsubscribe(w.emu.find_by_email("p5@example.com")["contact_id"])
	with w.emu.mocked():
		report = w.run(*JOB).streams[STREAM_OPTOUTS]
	assert report.status == "success" and not report.warnings, report.warnings
	assert w.store.get_state(STATE)["reliable"] is True
	assert w.store.contact_by_email("p5@example.com").unsubscribed
