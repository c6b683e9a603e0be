"""What every stream of one run shares."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cc_sync.sync.apply import PageApplier
from cc_sync.sync.config import SyncConfig
from cc_sync.sync.report import RunReport, StreamReport
from cc_sync.sync.store import SyncStore


@dataclass
class RunContext:
	client: Any  # cc_sync.constant_contact.client.ConstantContactClient
	store: SyncStore
	config: SyncConfig
	clock: Any  # cc_sync.constant_contact.clock.Clock
	report: RunReport
	dry_run: bool = False
	# Told how far a stream that knows its size has got: (stream, done, total).
	on_progress: Callable[[str, int, int], None] | None = None
	_cf_names: dict[str, str] | None = field(default=None, repr=False)

	def now(self) -> datetime:
		return self.clock.now()

	def progress(self, stream: str, done: int, total: int) -> None:
		"""Say how far a stream has got, where someone listens (the site's "X of N" while a push sends)."""
		if self.on_progress is not None:
			self.on_progress(stream, done, total)

	def cf_names(self) -> dict[str, str]:
		"""custom_field_id → name, fetched once per run and only when the field map uses `cf:` fields."""
		if self._cf_names is None:
			self._cf_names = {}
			if any(rule.cc_field.startswith("cf:") for rule in self.config.field_map):
				self._cf_names = {f.custom_field_id: f.name for f in self.client.get_custom_fields()}
		return self._cf_names

	def applier(self, report: StreamReport) -> PageApplier:
		return PageApplier(
			self.store,
			self.config,
			report,
			cf_names=self.cf_names(),
			dry_run=self.dry_run,
			now=self.now,
			site_offset=self.site_offset,
		)

	def site_offset(self) -> timedelta:
		"""CC's clock minus the site's, as CC's last answer (its `Date`) tells it; none before CC answered.

		Site-dated opt-outs and leaves are put on CC's clock with it before they meet CC's opt-in dates."""
		cc_now = getattr(self.client, "cc_now", None)
		now = cc_now() if callable(cc_now) else None
		if not isinstance(now, datetime):
			return timedelta(0)
		return now - self.now()
