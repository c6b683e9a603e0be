"""What an open settings form is told while a sync runs: how far it has got ("X of N"), then how it ended.

Throttled to about once a second: the contacts read of those CC counts while a pull reads, then the
records sent of those the push sends.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import frappe
from frappe import _

from cc_sync.cc_sync.constants import LEAD, PROGRESS_EVENT, SETTINGS
from cc_sync.cc_sync.sync_log import job_label
from cc_sync.sync.streams import STREAM_PUSH

if TYPE_CHECKING:
	from cc_sync.cc_sync.wiring import WatchedClient

PROGRESS_EVERY_SECONDS = 1.0


class Progress:
	"""Tells an open settings form how a running sync is doing."""

	def __init__(self, stream: str, run_id: str, *, dry_run: bool = False, push_doctype: str = "") -> None:
		self.stream = stream
		self.dry_run = dry_run
		self.run_id = run_id
		self.push_doctype = push_doctype
		self.calls = 0
		self.contacts = 0
		self.done = 0
		self.total: int | None = None
		# (sent, total) once the push has started: from then on the line speaks of the push.
		self.push: tuple[int, int] | None = None
		self._last = 0.0

	def tick(self, client: WatchedClient) -> None:
		self.calls = client.calls
		self.contacts = client.contacts_read
		if self.push is None:
			self.total = client.total
			self.done = min(client.done, client.total) if client.total is not None else 0
		now = time.monotonic()
		if now - self._last >= PROGRESS_EVERY_SECONDS:
			self._last = now
			if self.push is not None:
				self.publish(self.push_message())
			elif self.total is not None:
				self.publish(_("{0} of {1} contacts read").format(f"{self.done:,}", f"{self.total:,}"))
			else:
				self.publish(_("{0} contacts read").format(f"{self.contacts:,}"))

	def stream_progress(self, stream: str, done: int, total: int) -> None:
		"""The engine's word on a stream that knows its size (the push): shown at once, bar and all."""
		if stream != STREAM_PUSH or not total:
			return
		self.push = (done, total)
		self.done, self.total = done, total
		self._last = time.monotonic()
		self.publish(self.push_message())

	def push_message(self) -> str | None:
		"""Say "X of N leads sent" ("records" when the pushed DocType is not Lead); None before a push."""
		if self.push is None:
			return None
		sent, total = (f"{n:,}" for n in self.push)
		if self.push_doctype == LEAD:
			return _("{0} of {1} leads sent").format(sent, total)
		return _("{0} of {1} records sent").format(sent, total)

	def publish(self, message: str, *, done: bool = False, **extra: Any) -> None:
		data = {
			"stream": self.stream,
			"label": _(job_label(self.stream)),
			"dry_run": self.dry_run,
			"run_id": self.run_id,
			"message": message,
			"api_calls": self.calls,
			"contacts": self.contacts,
			# "X of N" where N is known (CC's count of a read, the push's records): the bar on the settings
			# form; None while the size is unknown.
			"progress": {"read": self.done, "total": self.total} if self.total else None,
			"done": done,
			**extra,
		}
		frappe.publish_realtime(PROGRESS_EVENT, data, doctype=SETTINGS, docname=SETTINGS)
