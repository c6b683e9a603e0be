"""Time, injectable: the rate limiter, the retry backoff, the daily budget and the emulator all read it.

Tests pass a `FakeClock` so that limits and backoffs are checked without real sleeps.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Protocol


class Clock(Protocol):
	def monotonic(self) -> float:
		"""Seconds on a clock that never goes back (for rate windows and backoff)."""
		...

	def now(self) -> datetime:
		"""The current wall time, timezone-aware UTC (for watermarks and the daily budget)."""
		...

	def sleep(self, seconds: float) -> None: ...


class SystemClock:
	"""The real clock."""

	def monotonic(self) -> float:
		return time.monotonic()

	def now(self) -> datetime:
		return datetime.now(timezone.utc)

	def sleep(self, seconds: float) -> None:
		if seconds > 0:
			time.sleep(seconds)


class FakeClock:
	"""A clock that only moves when told to, or when something sleeps on it."""

	def __init__(self, start: datetime | None = None) -> None:
		self._now = start or datetime(2024, 6, 1, tzinfo=timezone.utc)
		self._mono = 1000.0
		self.slept: list[float] = []

	def monotonic(self) -> float:
		return self._mono

	def now(self) -> datetime:
		return self._now

	def sleep(self, seconds: float) -> None:
		self.slept.append(seconds)
		self.advance(seconds)

	def advance(self, seconds: float) -> None:
		if seconds > 0:
			self._mono += seconds
			self._now += timedelta(seconds=seconds)

	def set(self, when: datetime) -> None:
		"""Jump the wall clock (never backwards for the monotonic part)."""
		delta = (when - self._now).total_seconds()
		self._now = when
		if delta > 0:
			self._mono += delta
