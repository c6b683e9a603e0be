"""Sync state: watermarks, streams' states, the deleted count, and CC import activities."""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import datetime
from typing import Any

from cc_sync.sync.records import ActivityRecord
from cc_sync_testkit.memory.tables import MemoryTables


class MemoryState(MemoryTables):
	"""The streams' watermarks and states, the deleted count, and CC import activities."""

	# -- watermarks ------------------------------------------------------------------------------
	def get_watermark(self, stream: str) -> datetime | None:
		return self.watermarks.get(stream)

	def set_watermark(self, stream: str, value: datetime) -> None:
		self._before("set_watermark")
		old = self.watermarks.get(stream)
		self.watermarks[stream] = value
		self._undo.append(
			lambda: self.watermarks.__setitem__(stream, old) if old else self.watermarks.pop(stream, None)
		)

	def get_state(self, name: str) -> dict[str, Any] | None:
		value = self.states.get(name)
		return copy.deepcopy(value) if value is not None else None

	def set_state(self, name: str, value: dict[str, Any]) -> None:
		self._before("set_state")
		old = self.states.get(name)
		self.states[name] = copy.deepcopy(value)
		self._undo.append(lambda: self.states.__setitem__(name, old) if old else self.states.pop(name, None))

	def get_deleted_count(self) -> int | None:
		return self.deleted_count

	def set_deleted_count(self, count: int) -> None:
		self._before("set_deleted_count")
		old = self.deleted_count
		self.deleted_count = count
		self._undo.append(lambda: setattr(self, "deleted_count", old))

	# -- activities ------------------------------------------------------------------------------
	def open_activities(self) -> list[ActivityRecord]:
		return sorted(
			(replace(a) for a in self.activities.values() if not a.finished),
			key=lambda a: (a.submitted_at, a.chunk_id),
		)

	def save_activity(self, record: ActivityRecord) -> None:
		self._before("save_activity")
		old = self.activities.get(record.chunk_id)
		self.activities[record.chunk_id] = replace(record)
		if old is None:
			self._undo.append(lambda: self.activities.pop(record.chunk_id, None))
		else:
			self._undo.append(lambda: self.activities.__setitem__(record.chunk_id, old))
