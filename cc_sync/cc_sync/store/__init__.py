"""The sync store on a Frappe site: Contacts, Leads, Email Groups and the app's own DocTypes.

It implements `cc_sync.sync.store.SyncStore` with batched SQL, because the engine applies pages of 500
contacts and a first pull can bring hundreds of thousands: a page costs a handful of queries, never one
document load per row. Writes go straight to the tables (the sync's own bookkeeping must not fire the
doc_events that would echo a change back to CC), and bump `modified` wherever a user-visible value
changes, so a form left open on a stale copy cannot silently undo a consent change.

One module a concern: `contact_reads` and `contact_writes`, `leads`, `optouts`, `push`, `activities`,
`state` (watermarks), `engagement` (campaigns and people's engagement), `consent_reads` (every opt-out channel as one answer) and `consent_writes` (its writes),
`prefetch` (reading index pages ahead on a large site), `addresses` (rows by address, compared exactly, and
the one Contact holding an address) and `sql` (batched reads and writes). Datetimes cross the boundary through `cc_sync.cc_sync.sitetime`. `FrappeStore` is assembled here
from each concern's part.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Any

import frappe

from cc_sync.cc_sync.constants import CONTACT, LEAD, SETTINGS
from cc_sync.cc_sync.sitetime import from_site, to_site
from cc_sync.cc_sync.store import addresses
from cc_sync.cc_sync.store.activities import Activities
from cc_sync.cc_sync.store.consent_reads import ConsentReads
from cc_sync.cc_sync.store.consent_writes import ConsentWrites
from cc_sync.cc_sync.store.contact_reads import RESERVED, ContactReadsMixin
from cc_sync.cc_sync.store.contact_writes import ContactWritesMixin
from cc_sync.cc_sync.store.engagement import Engagement
from cc_sync.cc_sync.store.leads import LeadLinks
from cc_sync.cc_sync.store.optouts import OptOutQueue, record_local_optout
from cc_sync.cc_sync.store.prefetch import IndexReadAhead
from cc_sync.cc_sync.store.push import PushTargets
from cc_sync.cc_sync.store.sql import WriteCount, column_specs, doctype_exists
from cc_sync.cc_sync.store.state import SyncState
from cc_sync.sync.consent import AddressConsent
from cc_sync.sync.fieldmap import DEFAULT_FIELD_MAP
from cc_sync.sync.records import (
	ActivityRecord,
	CampaignRecord,
	EngagementEvent,
	LocalOptOut,
	PushCandidate,
	PushOutcome,
)


class FrappeStore(
	ContactReadsMixin,
	ContactWritesMixin,
):
	"""The engine's view of one Frappe site.

	`site_fields` are the Contact fields the field map uses (read for change detection, written on pull);
	`push_doctype` is what the push sends (Lead, when ERPNext is installed), narrowed by `push_filters`,
	a Frappe filter list (or its JSON); `push_targets` names several such (DocType, filters) at once.
	Only the push targets of `cc_sync/cc_sync/targets/` are ever read (`email_field` is the Lead's).
	"""

	def __init__(
		self,
		push_doctype: str = LEAD,
		push_filters: list | str | None = None,
		settings_doctype: str = SETTINGS,
		site_fields: Collection[str] | None = None,
		email_field: str = "email_id",
		push_targets: Sequence[tuple] | None = None,
	) -> None:
		self.push_doctype = push_doctype
		self.push_filters = json.loads(push_filters) if isinstance(push_filters, str) else push_filters
		# Each pushed DocType with its own filters and, optionally, the one Email Group whose CC lists it
		# goes to (several at once); by default the one push_doctype to every list mapped for push.
		targets = push_targets if push_targets is not None else [(push_doctype, self.push_filters)]
		targets = [
			(t[0], json.loads(t[1]) if isinstance(t[1], str) else t[1], t[2] if len(t) > 2 else None)
			for t in targets
		]
		self.email_field = email_field
		wanted = site_fields if site_fields is not None else [r.site_field for r in DEFAULT_FIELD_MAP]
		meta = frappe.get_meta(CONTACT)
		columns = set(frappe.db.get_table_columns(CONTACT))
		self.site_fields = [f for f in dict.fromkeys(wanted) if f in columns and f not in RESERVED]
		self._contact_types = {
			f: (meta.get_field(f).fieldtype if meta.get_field(f) else "Data") for f in columns
		}
		self._columns = column_specs(CONTACT, meta)
		# Values changed to fit their columns, as (email, reason), until the engine collects them.
		self._notes: list[tuple[str | None, str]] = []
		self._failures: dict[int, str] = {}
		self.has_lead = doctype_exists(LEAD)
		self.read_ahead = IndexReadAhead()
		self.count = WriteCount()
		self.state = SyncState(settings_doctype, self.count)
		self.activities = Activities(self.count)
		self.engagement = Engagement(self.count, self.has_lead)
		self.push = PushTargets(targets, self.site_fields, email_field, self.has_lead, self.count)
		self.leads = LeadLinks(self.has_lead, email_field)
		self.consent_reads = ConsentReads(email_field)
		self.consent_writes = ConsentWrites(addresses.contacts_by_address, self.has_lead, email_field)
		self.optouts = OptOutQueue(addresses.contacts_by_address, self.count)

	@property
	def writes(self) -> int:
		"""How many rows the parts wrote since the store was made."""
		return self.count.total

	@writes.setter
	def writes(self, value: int) -> None:
		self.count.total = value

	# -- watermarks and the engine's own state -----------------------------------------------------
	def get_watermark(self, stream: str) -> datetime | None:
		return self.state.get_watermark(stream)

	def set_watermark(self, stream: str, value: datetime) -> None:
		self.state.set_watermark(stream, value)

	def get_state(self, name: str) -> dict[str, Any] | None:
		return self.state.get_state(name)

	def set_state(self, name: str, value: dict[str, Any]) -> None:
		self.state.set_state(name, value)

	def get_deleted_count(self) -> int | None:
		return self.state.get_deleted_count()

	def set_deleted_count(self, count: int) -> None:
		self.state.set_deleted_count(count)

	def count_cc_deleted(self) -> int:
		return self.state.count_cc_deleted()

	# -- consent -----------------------------------------------------------------------------------
	def consent_state(self, emails: Collection[str]) -> dict[str, AddressConsent]:
		return self.consent_reads.state(emails)

	def opted_out_emails(self, emails: Collection[str]) -> set[str]:
		return self.consent_reads.opted_out(emails)

	def pending_optouts(self) -> list[LocalOptOut]:
		return self.optouts.pending()

	def defer_optout(
		self, email: str, attempts: int, retry_at: datetime, error: str, group: str | None = None
	) -> None:
		self.optouts.defer(email, attempts, retry_at, error, group)

	def resolve_optout(
		self, email: str, cc_contact_id: str | None, at: datetime, group: str | None = None
	) -> None:
		self.optouts.resolve(email, cc_contact_id, at, group)

	# -- push --------------------------------------------------------------------------------------
	def push_candidates(self, since: datetime | None, email: str | None = None) -> Iterable[PushCandidate]:
		return self.push.push_candidates(since, email)

	def record_push(self, outcomes: Sequence[PushOutcome]) -> None:
		self.push.record_push(outcomes)

	# -- bulk activities -----------------------------------------------------------------------------
	def open_activities(self) -> list[ActivityRecord]:
		return self.activities.open_activities()

	def save_activity(self, record: ActivityRecord) -> None:
		self.activities.save_activity(record)

	# -- email engagement ----------------------------------------------------------------------------
	def save_campaigns(self, campaigns: Sequence[CampaignRecord]) -> None:
		self.engagement.save_campaigns(campaigns)

	def add_engagement(self, events: Sequence[EngagementEvent]) -> int:
		return self.engagement.add_engagement(events)

	def bounced_emails(self, emails: Collection[str]) -> dict[str, str]:
		return self.engagement.bounced_emails(emails)

	def commit(self) -> None:
		frappe.db.commit()

	def rollback(self) -> None:
		frappe.db.rollback()


__all__ = ["FrappeStore", "from_site", "record_local_optout", "to_site"]
