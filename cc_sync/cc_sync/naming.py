"""Names for the rows the sync inserts: unique by construction, and increasing, so inserts append.

Frappe v15 names child rows and hash-named documents with 10 random hex characters, and a Contact after
the person. At a million rows both cost: a random name lands on a random page of the table's clustered
index (a disk read once the table outgrows MariaDB's buffer pool), 40 random bits collide about once per
million-row pull, and a person's name needs a lookup for the `-N` that makes it unique.

A name here is 23 lowercase hex digits, `TTTTTTTTTTTWWWWWWWWSSSS`:

- `T`: milliseconds since 1970 (fixed width, so text order is time order, until the year 2527);
- `W`: the writer, the database connection's id, which no two open connections share;
- `S`: a sequence within the millisecond.

One process never repeats a (time, sequence) pair: its clock never runs backwards (a clock stepped back
keeps counting from the last millisecond used) and a sequence that runs out moves on to the next
millisecond. Two connections writing at once differ in `W`. So a name cannot be handed out twice unless
the database server restarts, reuses a connection id and the system clock was stepped back across that
restart; the store still retries an insert that finds a name taken, under a fresh random writer.

Frappe's own random names are 10 characters long, so they never equal one of these.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable

NAME_LENGTH = 23
TIME_DIGITS = 11
WRITER_DIGITS = 8
SEQUENCE_DIGITS = 4
WRITER_MAX = 16**WRITER_DIGITS - 1
SEQUENCE_MAX = 16**SEQUENCE_DIGITS - 1


def _wall_ms() -> int:
	return time.time_ns() // 1_000_000


class TimeOrderedNames:
	"""Hands out names that increase with every call, for one process (thread-safe).

	`clock` returns milliseconds since 1970; tests pass their own.
	"""

	def __init__(self, clock: Callable[[], int] = _wall_ms) -> None:
		self._clock = clock
		self._lock = threading.Lock()
		self._ms = 0
		self._next_seq = 0

	def take(self, count: int, writer: int) -> list[str]:
		"""`count` new names for `writer` (a connection id), each greater than every name handed out before
		by this process."""
		if not 0 <= writer <= WRITER_MAX:
			writer %= WRITER_MAX + 1
		names: list[str] = []
		with self._lock:
			now = self._clock()
			if now > self._ms:
				self._ms, self._next_seq = now, 0
			ms, seq = self._ms, self._next_seq
			for _ in range(count):
				if seq > SEQUENCE_MAX:
					# This millisecond is used up: borrow the next one (the clock catches up later).
					ms, seq = ms + 1, 0
				names.append(f"{ms:0{TIME_DIGITS}x}{writer:0{WRITER_DIGITS}x}{seq:0{SEQUENCE_DIGITS}x}")
				seq += 1
			self._ms, self._next_seq = ms, seq
		return names


def random_writer(rng: random.Random | None = None) -> int:
	"""A writer id for a retry after a name was found taken: not the connection's, so not the same again."""
	return (rng or random).randint(0, WRITER_MAX)


def is_time_ordered(name: str) -> bool:
	"""Whether `name` has this module's shape (the benchmark and tests tell the schemes apart with it)."""
	return len(name) == NAME_LENGTH and all(c in "0123456789abcdef" for c in name)


# One per process: every store and every opt-out recorded on this process draws from it.
NAMES = TimeOrderedNames()
