"""The changes and deletes watermarks are on CC's clock, whatever the site's clock says.

CC filters `updated_after` by its own stamps. A watermark from a site clock ahead of CC's by more than
the overlap skipped every CC edit made just after a run, for good (until the weekly reconcile); one from a
site clock behind CC's re-read an hour of changes every run.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from cc_sync.sync.streams import STREAM_CHANGES, STREAM_DELETES
from tests.unit.test_optout_watermark import SkewedClock
from tests.world import make_world


def utc(*args):
	return datetime(*args, tzinfo=timezone.utc)


def skewed_world(hours: int):
	"""CC's clock is the world's; the site's (the engine's and the store's) is `hours` away from it."""
	w = make_world(utc(2024, 6, 1, 12, 0, 0), rate_limit=None)
	site = SkewedClock(w.clock, timedelta(hours=hours))
	w.engine.clock = site
	w.store._now = site.now
	return w


@pytest.mark.parametrize("hours", [1, -1])
def test_a_cc_edit_made_just_after_a_changes_run_is_read_by_the_next_one(hours):
	w = skewed_world(hours)
	cid = w.emu.add_contact("ann@example.com", first_name="Ann")
	with w.emu.mocked():
		w.run(STREAM_CHANGES)  # the backfill
		w.clock.advance(15 * 60)
		w.run(STREAM_CHANGES)
		w.clock.advance(5)
		w.emu.edit_contact(cid, first_name="Anna")  # stamped by CC five seconds after that run
		for _ in range(3):
			w.clock.advance(15 * 60)
			w.run(STREAM_CHANGES)
	assert w.store.contact_by_email("ann@example.com").fields["first_name"] == "Anna"


@pytest.mark.parametrize("hours", [1, -1])
@pytest.mark.parametrize("stream", [STREAM_CHANGES, STREAM_DELETES])
def test_the_watermark_is_when_the_read_started_on_cc_s_clock(hours, stream):
	w = skewed_world(hours)
	w.emu.add_contact("ann@example.com", first_name="Ann")
	with w.emu.mocked():
		w.run(stream)
		w.clock.advance(15 * 60 + 0.7)
		cc_started = w.clock.now()
		report = w.run(stream)
	after = report.streams[stream].watermark_after
	# CC's `Date` is in whole seconds, cut down: never ahead of CC's clock, at most a second behind.
	assert cc_started - timedelta(seconds=1) <= after <= cc_started


def test_without_cc_s_date_the_watermark_is_the_newest_update_read():
	w = skewed_world(1)
	w.client._note_cc_date = lambda resp: None  # a proxy that strips `Date`
	cid = w.emu.add_contact("ann@example.com", first_name="Ann")
	with w.emu.mocked():
		w.run(STREAM_CHANGES)
		w.clock.advance(60)
		w.emu.edit_contact(cid, first_name="Anna")
		edited = w.clock.now()
		w.clock.advance(15 * 60)
		report = w.run(STREAM_CHANGES)
		w.clock.advance(15 * 60)
		quiet = w.run(STREAM_CHANGES)
	assert report.streams[STREAM_CHANGES].watermark_after == edited
	# Nothing newer read, no `Date`: the watermark stays where it was (reading more, never less).
	assert quiet.streams[STREAM_CHANGES].watermark_after == edited


def test_a_site_opt_out_made_after_a_cc_opt_in_stands_with_the_site_clock_an_hour_behind():
	"""The site's opt-out is dated by its own clock, an hour behind CC's: put on CC's clock (measured from
	CC's answers) it is newer than the person's CC opt-in a minute before it, so it is not lifted."""
	w = skewed_world(-1)
	cc_id = w.emu.add_contact("ann@example.com", list_ids=[w.list_id])
	with w.emu.mocked():
		w.run()
		w.clock.advance(60)
		w.emu.opt_in(cc_id)  # the person opts in again on a CC form
		w.clock.advance(61)
		w.store.unsubscribe_locally("ann@example.com", by_person=True)  # then unsubscribes on the site
		w.store.commit()
		for _ in range(3):
			w.clock.advance(15 * 60)
			w.run()
	assert w.store.consent_state(["ann@example.com"])["ann@example.com"].opted_out
	assert w.emu.get(cc_id)["email_address"]["permission_to_send"] == "unsubscribed"
