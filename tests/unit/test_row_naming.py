"""Names of the rows the sync inserts: unique by construction and in insert order."""

from __future__ import annotations

import random
import secrets

from cc_sync.cc_sync.naming import (
	NAME_LENGTH,
	SEQUENCE_MAX,
	WRITER_MAX,
	TimeOrderedNames,
	is_time_ordered,
	random_writer,
)


class SteppedClock:
	"""Milliseconds that the test moves, forwards or back."""

	def __init__(self, ms: int = 1_790_000_000_000) -> None:
		self.ms = ms

	def __call__(self) -> int:
		return self.ms


def test_names_increase_in_text_order_across_calls_so_inserts_append():
	clock = SteppedClock()
	names = TimeOrderedNames(clock)
	taken = []
	for step in range(50):
		taken += names.take(7, writer=42)
		clock.ms += step % 3  # often the same millisecond, sometimes later
	assert taken == sorted(taken)
	assert len(set(taken)) == len(taken)


def test_a_clock_stepped_back_never_repeats_a_name():
	clock = SteppedClock()
	names = TimeOrderedNames(clock)
	before = names.take(100, writer=1)
	clock.ms -= 60_000  # NTP steps the clock back a minute
	after = names.take(100, writer=1)
	assert not set(before) & set(after)
	assert before + after == sorted(before + after)


def test_more_names_than_one_millisecond_holds_borrow_the_next_one():
	clock = SteppedClock()
	names = TimeOrderedNames(clock)
	taken = names.take(SEQUENCE_MAX + 10, writer=3) + names.take(5, writer=3)
	assert len(set(taken)) == len(taken) == SEQUENCE_MAX + 15
	assert taken == sorted(taken)
	# The clock reaching the borrowed millisecond does not hand its names out again.
	clock.ms += 1
	later = names.take(20, writer=3)
	assert not set(later) & set(taken)
	assert taken + later == sorted(taken + later)


def test_two_connections_writing_in_the_same_millisecond_never_share_a_name():
	clock = SteppedClock()
	one, two = TimeOrderedNames(clock), TimeOrderedNames(clock)
	first = one.take(1000, writer=17)
	second = two.take(1000, writer=18)
	assert not set(first) & set(second)


def test_a_million_rows_get_a_million_distinct_names():
	names = TimeOrderedNames()
	taken = []
	for _ in range(2000):
		taken += names.take(500, writer=9)
	assert len(set(taken)) == 1_000_000
	assert taken == sorted(taken)


def test_names_have_one_fixed_shape_that_frappe_random_names_never_take():
	names = TimeOrderedNames().take(3, writer=WRITER_MAX)
	assert all(len(n) == NAME_LENGTH and is_time_ordered(n) for n in names)
	frappe_style = secrets.token_hex(5)
	assert len(frappe_style) == 10 and not is_time_ordered(frappe_style)
	assert not is_time_ordered("Jane Doe-2")


def test_a_writer_id_wider_than_the_field_still_gives_fixed_width_names():
	names = TimeOrderedNames(SteppedClock()).take(2, writer=WRITER_MAX + 5)
	assert all(len(n) == NAME_LENGTH for n in names)


def test_a_retry_writer_is_in_range():
	rng = random.Random(5)
	assert all(0 <= random_writer(rng) <= WRITER_MAX for _ in range(100))
