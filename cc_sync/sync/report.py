"""What a run did, per stream: the record every run leaves (rule 5)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from cc_sync.constant_contact.values import Word
from cc_sync.sync.streams import COUNTERS


class StreamStatus(Word):
	"""Where one stream of a run ended (and, for the whole run, the worst of them)."""

	PENDING = "pending"
	SUCCESS = "success"
	# Applied, but some records failed (each logged with its reason).
	PARTIAL = "partial"
	FAILED = "failed"
	# Not run: a stream it needs did not succeed, CC stopped the run, or nothing is configured for it.
	SKIPPED = "skipped"


@dataclass(slots=True)
class RecordNote:
	"""One record skipped or failed, with the reason a person can act on."""

	email: str | None
	reason: str
	key: str | None = None


@dataclass
class StreamReport:
	stream: str
	status: StreamStatus = StreamStatus.PENDING
	fetched: int = 0
	created: int = 0
	updated: int = 0
	unchanged: int = 0
	unsubscribed: int = 0
	resubscribed: int = 0
	deleted: int = 0
	pushed: int = 0
	corrected: int = 0
	skipped: int = 0
	failed: int = 0
	api_calls: int = 0
	watermark_before: datetime | None = None
	watermark_after: datetime | None = None
	activity_ids: list[str] = field(default_factory=list)
	skips: list[RecordNote] = field(default_factory=list)
	errors: list[RecordNote] = field(default_factory=list)
	# Worth a look, but applied: duplicate site contacts, unknown permission values, ...
	warnings: list[RecordNote] = field(default_factory=list)
	error: str | None = None
	traceback: str | None = None
	# One sentence about the stream's health for the settings page (e.g. the opt-out self-check).
	notice: str | None = None
	# Dry runs: what would have been written, one line each.
	plan: list[dict[str, Any]] = field(default_factory=list)
	# Addresses CC re-added (revived, re-imported) while the site holds their opt-out: email -> how. The
	# run pushes their opt-outs before it ends.
	readded: dict[str, str] = field(default_factory=dict)
	# Calls sent again in this stream (`cc_sync.constant_contact.transport.Retry`: which call, what CC
	# answered, how long the wait was), in order.
	retries: list[Any] = field(default_factory=list)

	def retries_text(self) -> str | None:
		"""The stream's retries, one line each, for its log row (None when there were none)."""
		return "\n".join(str(r) for r in self.retries) or None

	def skip(self, email: str | None, reason: str, key: str | None = None) -> None:
		self.skipped += 1
		self.skips.append(RecordNote(email, reason, key))

	def fail(self, email: str | None, reason: str, key: str | None = None) -> None:
		self.failed += 1
		self.errors.append(RecordNote(email, reason, key))

	def warn(self, email: str | None, reason: str, key: str | None = None) -> None:
		self.warnings.append(RecordNote(email, reason, key))

	def counts(self) -> dict[str, int]:
		return {name: getattr(self, name) for name in COUNTERS}


@dataclass
class RunReport:
	started: datetime
	dry_run: bool = False
	finished: datetime | None = None
	streams: dict[str, StreamReport] = field(default_factory=dict)
	# Set when the run stopped early (quota, lost connection), so the log says why.
	stopped_by: str | None = None

	def stream(self, name: str) -> StreamReport:
		if name not in self.streams:
			self.streams[name] = StreamReport(stream=name)
		return self.streams[name]

	def readded(self) -> dict[str, str]:
		"""Every address a stream of this run saw CC re-add while the site holds its opt-out."""
		out: dict[str, str] = {}
		for s in self.streams.values():
			for email, how in s.readded.items():
				out.setdefault(email, how)
		return out

	@property
	def api_calls(self) -> int:
		return sum(s.api_calls for s in self.streams.values())

	@property
	def status(self) -> StreamStatus:
		states = {s.status for s in self.streams.values()}
		if not states:
			return StreamStatus.SUCCESS
		if StreamStatus.FAILED in states:
			if states <= {StreamStatus.FAILED, StreamStatus.SKIPPED}:
				return StreamStatus.FAILED
			return StreamStatus.PARTIAL
		if StreamStatus.PARTIAL in states or any(s.failed for s in self.streams.values()):
			return StreamStatus.PARTIAL
		return StreamStatus.SUCCESS

	def totals(self) -> dict[str, int]:
		total = dict.fromkeys(COUNTERS, 0)
		for s in self.streams.values():
			for name, value in s.counts().items():
				total[name] += value
		return total

	def as_dict(self) -> dict[str, Any]:
		data = asdict(self)
		data["status"] = self.status
		data["api_calls"] = self.api_calls
		return data
