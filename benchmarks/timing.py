"""The site's share of a run: a store wrapper that times the store methods the engine calls.

It imports nothing of the app, so a benchmark that runs an older checkout in a worker process (see
`bench_frappe_large`) can import it before switching the worker's path to that checkout.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from typing import Any


class TimedStore:
	"""Wraps a store and adds up the seconds spent in its methods (only those in `only`, when given);
	`applied` counts the contact writes the engine asked `apply_contacts` for."""

	def __init__(self, store: Any, only: Collection[str] | None = None) -> None:
		self._store = store
		self._only = frozenset(only) if only is not None else None
		self.seconds = 0.0
		self.applied = 0

	def __getattr__(self, name: str) -> Any:
		attr = getattr(self._store, name)
		if not callable(attr) or (self._only is not None and name not in self._only):
			return attr

		def timed(*args: Any, **kwargs: Any) -> Any:
			t0 = time.perf_counter()
			try:
				return attr(*args, **kwargs)
			finally:
				self.seconds += time.perf_counter() - t0
				if name == "apply_contacts":
					self.applied += len(args[0])

		return timed
