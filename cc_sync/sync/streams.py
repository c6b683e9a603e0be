"""The engine's streams, declared once.

Each row says what the stream reads or writes in CC, what its watermark follows, what must succeed
before it in the same run, and how the logs name it. The engine's phases and default run, the jobs and
their schedule (`cc_sync.cc_sync.settings`), the command line's choices, the settings form and the sync
log's options are derived from this table or tested against it (`tests/unit/test_streams_table.py`).
`docs/structure.md` draws it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from cc_sync.sync.records import (
	STREAM_ACTIVITIES,
	STREAM_CHANGES,
	STREAM_DELETES,
	STREAM_OPTOUT_PUSH,
	STREAM_OPTOUT_SCAN,
	STREAM_OPTOUTS,
	STREAM_PUSH,
	STREAM_RECONCILE,
)


class Phase(str, Enum):
	"""Where a stream runs in a run: every pull first, then what goes to CC, then the import checks."""

	PULL = "pull"
	PUSH = "push"
	POLL = "poll"


@dataclass(frozen=True, slots=True)
class Stream:
	name: str
	# How the sync log names it (stored as shown; the desk translates it).
	label: str
	phase: Phase
	# The CC call it is built on (W is the watermark minus the overlap window).
	cc_call: str
	# What the watermark records, or None when the stream keeps none.
	watermark: str | None
	# Streams that must succeed in the same run before this one does anything (pull before push).
	needs: tuple[str, ...] = ()
	# Part of a run that names no streams ("Sync now" with every stream, the engine's default).
	default: bool = True


# In the order the engine first reaches each one (the imports are polled before the push and again after).
STREAMS: tuple[Stream, ...] = (
	Stream(
		STREAM_OPTOUTS,
		"Opt-outs",
		Phase.PULL,
		"GET /contacts?status=all&optout_after=W",
		"the newest opt-out date CC reported (CC's clock)",
	),
	Stream(
		STREAM_CHANGES,
		"Changes",
		Phase.PULL,
		"GET /contacts?status=all&updated_after=W (the first run: the whole account)",
		"the time read before fetching",
	),
	Stream(
		STREAM_DELETES,
		"Deletes",
		Phase.PULL,
		"GET /contacts?status=deleted&updated_after=W",
		"the time read before fetching",
	),
	Stream(
		STREAM_RECONCILE,
		"Full reconcile",
		Phase.PULL,
		"GET /contacts?status=all, or a contacts export when the account is large",
		"the time read before its last complete read (never queried from)",
		default=False,
	),
	Stream(
		STREAM_OPTOUT_SCAN,
		"Opt-out safety scan",
		Phase.PULL,
		"every unsubscribed contact (paged, or a contacts export)",
		"the time of the last complete scan",
		default=False,
	),
	Stream(
		STREAM_OPTOUT_PUSH,
		"Opt-outs to CC",
		Phase.PUSH,
		"PUT /contacts/{id} (permission_to_send=unsubscribed); POST /activities/remove_list_memberships",
		None,
	),
	Stream(
		STREAM_ACTIVITIES,
		"Imports",
		Phase.POLL,
		"GET /activities/{id}",
		None,
	),
	Stream(
		STREAM_PUSH,
		"Push",
		Phase.PUSH,
		"POST /activities/contacts_json_import",
		"the time read before reading the site",
		needs=(STREAM_OPTOUTS, STREAM_CHANGES, STREAM_DELETES),
	),
)

BY_NAME: dict[str, Stream] = {s.name: s for s in STREAMS}


def names(*, phase: Phase | None = None, default: bool | None = None) -> tuple[str, ...]:
	"""Stream names in the table's order, optionally only one phase's or only the default run's."""
	return tuple(
		s.name
		for s in STREAMS
		if (phase is None or s.phase == phase) and (default is None or s.default == default)
	)


def label(name: str) -> str:
	return BY_NAME[name].label
