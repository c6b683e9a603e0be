"""No opt-out is missed for good: the opt-out watermark is on CC's clock and its window never closes.

CC stamps opt-outs in whole seconds and `optout_after` is strict; a watermark from the site's clock
misses what CC stamps before it. Both used to lose opt-outs for ever (overlap 0; CC's clock behind).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

from cc_sync.constant_contact.clock import FakeClock
from cc_sync.sync.streams import STREAM_OPTOUTS
from tests.world import make_world


def utc(*args):
	return datetime(*args, tzinfo=timezone.utc)


class SkewedClock:
	"""Another machine's clock: the same ticking, `offset` away."""

	def __init__(self, base: FakeClock, offset: timedelta) -> None:
		self.base, self.offset = base, offset

	def now(self) -> datetime:
		return self.base.now() + self.offset

	def monotonic(self) -> float:
		return self.base.monotonic()

	def sleep(self, seconds: float) -> None:
		self.base.sleep(seconds)


def test_an_opt_out_in_the_same_second_as_the_watermark_is_not_missed_with_overlap_zero():
	w = make_world(utc(2024, 6, 1, 12, 0, 0), rate_limit=None)
	w.engine.config = replace(w.config, overlap=timedelta(0))
	earlier = w.emu.add_contact("earlier@example.com")
	late = w.emu.add_contact("late@example.com")
	w.emu.unsubscribe(earlier)
	w.clock.advance(0.4)  # the run starts at 12:00:00.400 on the site
	with w.emu.mocked():
		w.run(STREAM_OPTOUTS)
		w.clock.advance(0.3)
		w.emu.unsubscribe(late)  # CC stamps 12:00:00, the same second the last run started in
		w.clock.advance(60)
		report = w.run(STREAM_OPTOUTS)
		w.clock.advance(60)
		w.run(STREAM_OPTOUTS)
	assert w.store.contact_by_email("late@example.com").unsubscribed
	assert report.streams[STREAM_OPTOUTS].watermark_after == utc(2024, 6, 1, 12, 0, 0)


def test_an_opt_out_is_not_missed_when_cc_s_clock_lags_the_site_s_by_more_than_the_overlap():
	w = make_world(utc(2024, 6, 1, 12, 0, 0), rate_limit=None)
	cc_clock = SkewedClock(w.clock, -timedelta(minutes=15))  # CC is 15 minutes behind; overlap is 10
	w.emu.clock = cc_clock
	w.emu.auth.clock = cc_clock
	first = w.emu.add_contact("first@example.com")
	person = w.emu.add_contact("person@example.com")
	w.emu.unsubscribe(first)
	with w.emu.mocked():
		w.run(STREAM_OPTOUTS)
		w.clock.advance(60)
		w.emu.unsubscribe(person)  # stamped 11:46 by CC; the site's clock says 12:01
		w.clock.advance(15 * 60)
		w.run(STREAM_OPTOUTS)
	person_on_site = w.store.contact_by_email("person@example.com")
	assert person_on_site is not None and person_on_site.unsubscribed


def test_a_quiet_run_keeps_the_watermark_and_rereads_only_the_window():
	w = make_world(utc(2024, 6, 1, 12, 0, 0), rate_limit=None)
	for i in range(3):
		w.emu.unsubscribe(w.emu.add_contact(f"gone{i}@example.com"))
		w.clock.advance(3600)
	with w.emu.mocked():
		first = w.run(STREAM_OPTOUTS).streams[STREAM_OPTOUTS]
		w.clock.advance(900)
		again = w.run(STREAM_OPTOUTS).streams[STREAM_OPTOUTS]
	assert first.watermark_after == utc(2024, 6, 1, 14, 0, 0)  # the newest opt-out CC reported
	assert again.watermark_after == first.watermark_after
	assert again.fetched == 1 and again.unchanged == 1 and again.api_calls == 1
