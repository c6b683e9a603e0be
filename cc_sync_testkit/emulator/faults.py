"""Fault injection: server errors, timeouts and broken bodies, at a seeded rate or one shot at a time.

A fault never leaves half a change behind: a 500/503 or a connect timeout is answered before anything
is applied; a malformed body is sent after the request was applied in full; a read timeout on a write
is applied or not according to `applied_before_timeout` (CC may well have accepted a POST whose answer
never arrived, which is why retried imports need care).
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field

KINDS = ("500", "503", "timeout", "connect_timeout", "malformed")
_ALIASES = {"http_500": "500", "http_503": "503", "read_timeout": "timeout", "server_error": "500"}


def normalize_kind(kind: str | int) -> str:
	text = _ALIASES.get(str(kind), str(kind))
	if text not in KINDS:
		raise ValueError(f"unknown fault kind {kind!r}; use one of {KINDS}")
	return text


class EmulatedTimeout(Exception):
	"""Raised by `handle()` in place of an answer; each transport turns it into its own kind of timeout.

	`response` is what the server would have said had the client waited (None when nothing was applied).
	"""

	def __init__(self, *, connect: bool, response: tuple[int, dict[str, str], bytes] | None = None) -> None:
		super().__init__("connect timeout" if connect else "read timeout")
		self.connect = connect
		self.response = response


@dataclass
class _Shot:
	kind: str
	count: int
	path_prefix: str | None


@dataclass
class FaultConfig:
	"""Random faults: `rate` is the chance per API call; `kinds` are drawn uniformly.

	`applied_before_timeout` decides whether a timed-out POST/PUT/DELETE was applied by the server.
	`http_timeout_seconds` is how long the HTTP server stalls to produce a timeout (capped at 60 s).
	"""

	rate: float = 0.0
	kinds: tuple[str, ...] = ("500", "503", "timeout", "malformed")
	seed: int = 0
	applied_before_timeout: bool = True
	http_timeout_seconds: float = 5.0
	path_prefix: str | None = "/v3/"
	_rng: random.Random = field(init=False, repr=False)
	_queue: deque[_Shot] = field(init=False, repr=False)
	injected: list[tuple[str, str, str]] = field(init=False, repr=False)

	def __post_init__(self) -> None:
		self._rng = random.Random(self.seed)
		self._queue = deque()
		self.injected = []

	def reseed(self, seed: int) -> None:
		self.seed = seed
		self._rng = random.Random(seed)

	def inject(self, kind: str | int, count: int = 1, path_prefix: str | None = None) -> None:
		"""Queue `count` faults of one kind for the next matching requests (any path when no prefix)."""
		self._queue.append(_Shot(normalize_kind(kind), count, path_prefix))

	def clear(self) -> None:
		self._queue.clear()
		self.rate = 0.0

	def pick(self, method: str, path: str) -> str | None:
		"""The fault to apply to this request, if any: queued shots first, then the random rate."""
		for shot in self._queue:
			if shot.path_prefix is None or path.startswith(shot.path_prefix):
				shot.count -= 1
				if shot.count <= 0:
					self._queue.remove(shot)
				self.injected.append((shot.kind, method, path))
				return shot.kind
		if self.rate > 0 and (self.path_prefix is None or path.startswith(self.path_prefix)):
			if self._rng.random() < self.rate:
				kind = normalize_kind(self._rng.choice(self.kinds))
				self.injected.append((kind, method, path))
				return kind
		return None
