"""Client-side pacing for CC's limits: 4 requests/s and 10,000 requests/day per application.

Both limits are per API key, shared by every site that uses the same app, so these objects only
keep one process polite; CC's own 429 answers remain the authority.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from datetime import date, datetime, time, timedelta, timezone
from typing import Protocol

from cc_sync.constant_contact.clock import Clock, SystemClock


def next_utc_midnight(now: datetime) -> datetime:
	"""The next 00:00 UTC strictly after `now`: when CC resets the daily quota."""
	if now.tzinfo is None:
		now = now.replace(tzinfo=timezone.utc)
	today = now.astimezone(timezone.utc).date()
	return datetime.combine(today + timedelta(days=1), time(0), tzinfo=timezone.utc)


class Limiter(Protocol):
	"""Anything that blocks until one more request may be sent (a shared, cross-process one too)."""

	def acquire(self) -> None: ...


class RateLimiter:
	"""Sliding window: never more than `rate` acquisitions in any `per`-second window.

	A token bucket would allow a burst of `rate` right after an idle period on top of the steady
	rate; CC counts requests per second, so the window is kept exact instead.
	"""

	def __init__(self, rate: int = 4, per: float = 1.0, clock: Clock | None = None) -> None:
		if rate < 1 or per <= 0:
			raise ValueError("rate must be >= 1 and per > 0")
		self.rate = rate
		self.per = per
		self.clock = clock or SystemClock()
		self._sent: deque[float] = deque()
		self._lock = threading.Lock()

	def acquire(self) -> None:
		"""Wait (on the clock) until a request may go out, then record it."""
		with self._lock:
			while True:
				now = self.clock.monotonic()
				while self._sent and now - self._sent[0] >= self.per:
					self._sent.popleft()
				if len(self._sent) < self.rate:
					self._sent.append(now)
					return
				self.clock.sleep(self._sent[0] + self.per - now)


class DailyBudget:
	"""Calls spent today (UTC), for the settings page and run reports.

	It never blocks: CC's `quota_exceeded` is what stops a run. `on_change` lets the caller persist
	the count so that several workers and restarts share it.
	"""

	def __init__(
		self,
		limit: int = 10_000,
		clock: Clock | None = None,
		used: int = 0,
		day: date | None = None,
		on_change: Callable[[DailyBudget], None] | None = None,
	) -> None:
		self.limit = limit
		self.clock = clock or SystemClock()
		self._used = used
		self._day = day
		self.on_change = on_change
		self._lock = threading.Lock()
		self._roll()

	def _today(self) -> date:
		return self.clock.now().astimezone(timezone.utc).date()

	def _roll(self) -> None:
		today = self._today()
		if self._day != today:
			self._day = today
			self._used = 0

	def spend(self, n: int = 1) -> None:
		"""Count `n` calls against today's budget."""
		with self._lock:
			self._roll()
			self._used += n
		if self.on_change:
			self.on_change(self)

	def refund(self, n: int = 1) -> None:
		"""Take back `n` calls counted for requests that never reached CC."""
		with self._lock:
			self._roll()
			self._used = max(0, self._used - n)
		if self.on_change:
			self.on_change(self)

	def exhaust(self) -> None:
		"""Record that CC answered `quota_exceeded`: nothing is left until midnight UTC."""
		with self._lock:
			self._roll()
			self._used = max(self._used, self.limit)
		if self.on_change:
			self.on_change(self)

	@property
	def day(self) -> date:
		"""The UTC day the count belongs to."""
		with self._lock:
			self._roll()
			return self._day  # type: ignore[return-value]

	@property
	def used(self) -> int:
		with self._lock:
			self._roll()
			return self._used

	@property
	def remaining(self) -> int:
		return max(0, self.limit - self.used)

	@property
	def resets_at(self) -> datetime:
		return next_utc_midnight(self.clock.now())
