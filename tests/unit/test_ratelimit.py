"""The 4 requests/s window and the daily budget, on a fake clock (no real sleeps)."""

from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cc_sync.constant_contact.clock import FakeClock
from cc_sync.constant_contact.ratelimit import DailyBudget, RateLimiter, next_utc_midnight

UTC = timezone.utc


def run_acquires(gaps: list[float], rate: int = 4, per: float = 1.0) -> tuple[list[float], FakeClock]:
	clock = FakeClock()
	limiter = RateLimiter(rate=rate, per=per, clock=clock)
	stamps = []
	for gap in gaps:
		clock.advance(gap)
		limiter.acquire()
		stamps.append(clock.monotonic())
	return stamps, clock


@settings(max_examples=200, deadline=None)
@given(
	st.lists(
		st.one_of(st.just(0.0), st.floats(min_value=0.0, max_value=1.5, allow_nan=False)),
		min_size=1,
		max_size=120,
	)
)
def test_never_more_than_four_in_any_one_second_window(gaps):
	stamps, _ = run_acquires(gaps)
	# Any 5 consecutive sends must span at least a full second, i.e. no 1 s window holds 5.
	for i in range(len(stamps) - 4):
		assert stamps[i + 4] - stamps[i] >= 1.0 - 1e-9


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(min_value=0.0, max_value=1.5, allow_nan=False), min_size=1, max_size=60))
def test_limiter_only_waits_when_the_window_is_full(gaps):
	stamps, _ = run_acquires(gaps)
	# Each send happens either when it was asked for, or exactly when the oldest of the last
	# four sends leaves the window: never later than needed.
	for i, gap in enumerate(gaps):
		asked = (stamps[i - 1] if i else 1000.0) + gap
		if i < 4 or stamps[i - 4] + 1.0 <= asked:
			assert stamps[i] == pytest.approx(asked)
		else:
			assert stamps[i] == pytest.approx(stamps[i - 4] + 1.0)


def test_burst_of_forty_takes_nine_seconds():
	stamps, clock = run_acquires([0.0] * 40)
	assert stamps[3] == stamps[0]
	assert stamps[-1] - stamps[0] == pytest.approx(9.0)
	assert sum(clock.slept) == pytest.approx(9.0)


def test_limiter_rejects_nonsense_settings():
	with pytest.raises(ValueError):
		RateLimiter(rate=0)
	with pytest.raises(ValueError):
		RateLimiter(per=0)


def test_next_utc_midnight():
	assert next_utc_midnight(datetime(2024, 6, 1, 12, tzinfo=UTC)) == datetime(2024, 6, 2, tzinfo=UTC)
	assert next_utc_midnight(datetime(2024, 6, 1, 0, 0, tzinfo=UTC)) == datetime(2024, 6, 2, tzinfo=UTC)
	# 23:30 at UTC-2 is already 01:30 UTC on the 2nd.
	minus_two = timezone(timedelta(hours=-2))
	assert next_utc_midnight(datetime(2024, 6, 1, 23, 30, tzinfo=minus_two)) == datetime(
		2024, 6, 3, tzinfo=UTC
	)


def test_daily_budget_counts_and_resets_at_utc_midnight():
	clock = FakeClock(datetime(2024, 6, 1, 23, 59, 58, tzinfo=UTC))
	changes = []
	budget = DailyBudget(limit=10, clock=clock, on_change=lambda b: changes.append((b.day, b.used)))
	for _ in range(7):
		budget.spend()
	assert budget.used == 7
	assert budget.remaining == 3
	assert budget.resets_at == datetime(2024, 6, 2, tzinfo=UTC)
	assert changes[-1] == (date(2024, 6, 1), 7)

	clock.advance(1.0)  # 23:59:59: same day
	assert budget.used == 7
	clock.advance(1.0)  # 00:00:00 UTC: a new day
	assert budget.used == 0
	assert budget.remaining == 10
	assert budget.resets_at == datetime(2024, 6, 3, tzinfo=UTC)
	budget.spend(2)
	assert changes[-1] == (date(2024, 6, 2), 2)


def test_daily_budget_restored_from_storage_keeps_todays_count_but_drops_yesterdays():
	clock = FakeClock(datetime(2024, 6, 2, 8, tzinfo=UTC))
	assert DailyBudget(clock=clock, used=1234, day=date(2024, 6, 2)).used == 1234
	stale = DailyBudget(clock=clock, used=9999, day=date(2024, 6, 1))
	assert stale.used == 0
	assert stale.remaining == 10_000


def test_exhaust_marks_nothing_left_until_midnight():
	clock = FakeClock(datetime(2024, 6, 2, 8, tzinfo=UTC))
	budget = DailyBudget(limit=100, clock=clock, used=12)
	budget.exhaust()
	assert budget.remaining == 0
	clock.set(datetime(2024, 6, 3, 0, 0, 1, tzinfo=UTC))
	assert budget.remaining == 100
