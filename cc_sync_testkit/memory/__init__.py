"""The reference store: the whole site in dictionaries.

It is what the engine's tests, property tests and benchmarks run on, and it defines by example what the
Frappe store must do. Writes apply at once and are undone on `rollback()` (or when a run dies before
`commit()`), so crash tests see exactly the committed state a database would keep.
"""

from __future__ import annotations

from cc_sync_testkit.memory.consent import MemoryConsent
from cc_sync_testkit.memory.contacts import MemoryContacts
from cc_sync_testkit.memory.engagement import MemoryEngagement
from cc_sync_testkit.memory.optouts import MemoryOptOuts
from cc_sync_testkit.memory.push import MemoryPush
from cc_sync_testkit.memory.records import (
	CRM_KEY,
	CRM_LEAD,
	DO_NOT_CONTACT,
	EMAIL_GROUP_MEMBER,
	LEAD,
	SIGN_UP,
	TARGETS,
	MemberRows,
	MemoryLead,
	MemoryTarget,
)
from cc_sync_testkit.memory.site_events import MemorySiteEvents
from cc_sync_testkit.memory.state import MemoryState

__all__ = [
	"CRM_KEY",
	"CRM_LEAD",
	"DO_NOT_CONTACT",
	"EMAIL_GROUP_MEMBER",
	"LEAD",
	"SIGN_UP",
	"TARGETS",
	"MemberRows",
	"MemoryLead",
	"MemoryStore",
	"MemoryTarget",
]


class MemoryStore(
	MemorySiteEvents,
	MemoryContacts,
	MemoryConsent,
	MemoryOptOuts,
	MemoryPush,
	MemoryState,
	MemoryEngagement,
):
	"""A site held in memory, with the same semantics as the Frappe store.

	Its parts share one set of tables (`MemoryTables`, tables.py) and the undo log a rollback replays;
	each part is one concern of the engine's `SyncStore` interface, as the Frappe store's parts are."""
