"""The sync store on a Frappe site: Contacts, Leads, Email Groups and the app's own DocTypes.

It implements `cc_sync.sync.store.SyncStore` with batched SQL, because the engine applies pages of 500
contacts and a first pull can bring hundreds of thousands: a page costs a handful of queries, never one
document load per row. Writes go straight to the tables (the sync's own bookkeeping must not fire the
doc_events that would echo a change back to CC), and bump `modified` wherever a user-visible value
changes, so a form left open on a stale copy cannot silently undo a consent change.

`FrappeStore` is a façade: it builds its parts, each a class given its collaborators, and hands each of
the engine's calls to one of them. The parts: the site contacts (`contact_reads`, which also holds the
one rule for which Contact holds an address, and `contact_writes`, with `contact_columns` for values
fitted to Contact's columns and `leads` for the Leads beside them), consent (`consent_reads`: every
opt-out channel as one answer; `consent_writes`; `optouts`: the opt-out rows on their way to CC), `state` (watermarks and the engine's named states), `activities`
(CC's imports), `engagement` (campaigns and people's engagement) and the push targets (`push`, over the
adapters of `cc_sync/cc_sync/targets/`). A module split by direction is named `*_reads` and `*_writes`.
Beneath them: `addresses` (rows by address, compared exactly), `prefetch` (reading index pages ahead on
a large site), `page_ahead` (the next page's reads, answered while a page is decided), `opt_out_lists` and `sql` (batched reads and writes). Datetimes cross the boundary
through `cc_sync.cc_sync.sitetime`. `docs/structure.md` draws the parts and who calls whom.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import frappe

from cc_sync.cc_sync.constants import CONTACT, LEAD, SETTINGS
from cc_sync.cc_sync.sitetime import from_site, to_site
from cc_sync.cc_sync.store.activities import Activities
from cc_sync.cc_sync.store.consent_reads import ConsentReads
from cc_sync.cc_sync.store.consent_writes import ConsentWrites
from cc_sync.cc_sync.store.contact_columns import ContactColumns
from cc_sync.cc_sync.store.contact_reads import RESERVED, ContactReads
from cc_sync.cc_sync.store.contact_writes import ContactWrites
from cc_sync.cc_sync.store.engagement import Engagement
from cc_sync.cc_sync.store.leads import LeadLinks
from cc_sync.cc_sync.store.optouts import OptOutQueue, record_local_optout
from cc_sync.cc_sync.store.page_ahead import PageReadAhead
from cc_sync.cc_sync.store.prefetch import IndexReadAhead
from cc_sync.cc_sync.store.push import PushTargets
from cc_sync.cc_sync.store.sql import WriteCount, doctype_exists
from cc_sync.cc_sync.store.state import SyncState
from cc_sync.sync.consent import AddressConsent
from cc_sync.sync.fieldmap import DEFAULT_FIELD_MAP
from cc_sync.sync.records import (
	ActivityRecord,
	CampaignRecord,
	ContactWrite,
	EngagementEvent,
	LocalOptOut,
	PushCandidate,
	PushOutcome,
	SiteContact,
)
from cc_sync.sync.store import PageKeys


class FrappeStore:
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
		filters = json.loads(push_filters) if isinstance(push_filters, str) else push_filters
		# Each pushed DocType with its own filters and, optionally, the one Email Group whose CC lists it
		# goes to (several at once); by default the one push_doctype to every list mapped for push.
		targets = [
			(t[0], json.loads(t[1]) if isinstance(t[1], str) else t[1], t[2] if len(t) > 2 else None)
			for t in (push_targets if push_targets is not None else [(push_doctype, filters)])
		]
		wanted = site_fields if site_fields is not None else [r.site_field for r in DEFAULT_FIELD_MAP]
		columns = set(frappe.db.get_table_columns(CONTACT))
		fields = [f for f in dict.fromkeys(wanted) if f in columns and f not in RESERVED]
		has_lead = doctype_exists(LEAD)
		count = WriteCount()
		self.count = count
		self.state = SyncState(settings_doctype, count)
		self.activities = Activities(count)
		self.engagement = Engagement(count, has_lead)
		self.consent_reads = ConsentReads(email_field)
		self.contact_reads = ContactReads(fields, self.consent_reads, IndexReadAhead(), PageReadAhead(count))
		holders = self.contact_reads.holders
		self.consent_writes = ConsentWrites(holders, has_lead, email_field)
		self.optouts = OptOutQueue(holders, count)
		self.push = PushTargets(targets, fields, email_field, count)
		self.leads = LeadLinks(has_lead, email_field)
		self.contact_columns = ContactColumns()
		self.contact_writes = ContactWrites(
			self.contact_columns,
			self.contact_reads,
			self.consent_reads,
			self.consent_writes,
			self.optouts,
			self.leads,
			self.push,
			count,
		)

	@property
	def writes(self) -> int:
		"""How many rows the parts wrote since the store was made."""
		return self.count.total

	def commit(self) -> None:
		frappe.db.commit()

	def rollback(self) -> None:
		frappe.db.rollback()

	# -- contacts ----------------------------------------------------------------------------------
	def find_contacts(self, cc_ids: Collection[str], emails: Collection[str]) -> list[SiteContact]:
		return self.contact_reads.find_contacts(cc_ids, emails)

	def read_page(
		self,
		cc_ids: Collection[str],
		emails: Collection[str],
		upcoming: PageKeys | None = None,
	) -> tuple[list[SiteContact], dict[str, AddressConsent]]:
		return self.contact_reads.read_page(cc_ids, emails, upcoming)

	def apply_contacts(
		self, writes: Sequence[ContactWrite], managed_groups: Collection[str] = ()
	) -> list[str | None]:
		return self.contact_writes.apply_contacts(writes, managed_groups)

	def drain_notes(self) -> list[tuple[str | None, str]]:
		return self.contact_columns.drain_notes()

	def drain_failures(self) -> dict[int, str]:
		return self.contact_writes.drain_failures()

	def fit_fields(self, values: Mapping[str, Any]) -> dict[str, Any]:
		return self.contact_columns.fit_fields(values)

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


__all__ = ["FrappeStore", "from_site", "record_local_optout", "to_site"]
