"""The only way the engine touches the site: a small interface, implemented by the in-memory reference
store (tests, demos) and by the Frappe store. Both pass the same contract tests.

Writes are transactional: nothing is durable until `commit()`. The engine commits after every applied
page and after each watermark move, so a run killed at any point resumes from committed state.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from cc_sync.sync.consent import AddressConsent
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

# A page's CC ids and addresses, as `read_page` looks them up.
PageKeys = tuple[Collection[str], Collection[str]]


@runtime_checkable
class SyncStore(Protocol):
	# -- watermarks (one per stream) -------------------------------------------------------------
	def get_watermark(self, stream: str) -> datetime | None: ...

	def set_watermark(self, stream: str, value: datetime) -> None: ...

	def get_state(self, name: str) -> dict[str, Any] | None:
		"""A stream's own small JSON-serializable state (e.g. the opt-out stream's self-check)."""
		...

	def set_state(self, name: str, value: dict[str, Any]) -> None: ...

	def get_deleted_count(self) -> int | None:
		"""CC's deleted count less `count_cc_deleted`, as it stood when the deletes stream last read the
		whole deleted list (the deleted contacts the site cannot hold, such as those without an address)."""
		...

	def set_deleted_count(self, count: int) -> None: ...

	def count_cc_deleted(self) -> int:
		"""How many site contacts are marked deleted in CC: one query that reads only those contacts'
		index entries (a quiet run must cost the same on a site of any size)."""
		...

	# -- contacts --------------------------------------------------------------------------------
	def find_contacts(self, cc_ids: Collection[str], emails: Collection[str]) -> list[SiteContact]:
		"""Every site contact whose CC id is in `cc_ids` or whose normalised email is in `emails`.

		One batched lookup per page: implementations must not query per row.
		"""
		...

	def read_page(
		self,
		cc_ids: Collection[str],
		emails: Collection[str],
		upcoming: PageKeys | None = None,
	) -> tuple[list[SiteContact], dict[str, AddressConsent]]:
		"""`find_contacts(cc_ids, emails)` and the consent of `emails` (and of the contacts found), as
		`consent_state` gives it: what applying a page reads, each address's consent read once.

		`upcoming` is the next page's (cc_ids, emails), when the engine knows it: a store may start
		reading it while this page is decided, and must then answer that page as a read made after this
		page's writes would."""
		...

	def consent_state(self, emails: Collection[str]) -> dict[str, AddressConsent]:
		"""Each address's consent, every site channel together: Contact, Lead, Email Unsubscribe (global and
		for one document), the app's opt-out rows, plus its Email Group Member rows and CC's delete.

		The one answer to "is this address opted out", for matching, creating, pushing and re-opt-in
		decisions; `find_contacts` and `opted_out_emails` give the same answer. One batched lookup.
		"""
		...

	def apply_contacts(
		self, writes: Sequence[ContactWrite], managed_groups: Collection[str] = ()
	) -> list[str | None]:
		"""Apply the writes and return each one's contact key (new keys for creates).

		Consent is written as stated: `opted_out=True` marks every record of the address opted out (the
		latest date stands), `lift_optout` removes every address-level opt-out, and each of `rows` is
		written with its state. A write whose premise no longer holds (an opt-out newer than
		`premise_opted_out_at`, a member row unlike `premise_rows`) is not applied: its key is None.
		"""
		...

	def drain_notes(self) -> list[tuple[str | None, str]]:
		"""(email, reason) for each value the writes since the last call converted, cut or left out
		to fit the site's storage; the engine logs them with the run."""
		...

	def drain_failures(self) -> dict[int, str]:
		"""The writes of the last `apply_contacts` the site could not take at all (their key is None, as
		for a refused one), by their place in it, with the reason: the rest of the page is applied."""
		...

	def fit_fields(self, values: Mapping[str, Any]) -> dict[str, Any]:
		"""CC's field values as the site would store them (cut, converted or left out to fit), so a
		value cut to fit compares equal to what was stored from it. Nothing is noted."""
		...

	# -- consent ---------------------------------------------------------------------------------
	def pending_optouts(self) -> list[LocalOptOut]:
		"""Site-side opt-outs (of an address, or of one group) CC has not confirmed yet, oldest first."""
		...

	def resolve_optout(
		self, email: str, cc_contact_id: str | None, at: datetime, group: str | None = None
	) -> None:
		"""CC now holds this opt-out (or has no such contact): stop pushing it. An address's opt-out stays
		on the site as its record."""
		...

	def defer_optout(
		self, email: str, attempts: int, retry_at: datetime, error: str, group: str | None = None
	) -> None:
		"""Pushing this opt-out failed: keep it pending, not to be tried again before `retry_at`."""
		...

	def opted_out_emails(self, emails: Collection[str]) -> set[str]:
		"""The subset of `emails` that either side is known to have opted out, or CC deleted."""
		...

	# -- push ------------------------------------------------------------------------------------
	def push_candidates(self, since: datetime | None, email: str | None = None) -> Iterable[PushCandidate]:
		"""Records to push: new or changed since `since` (all when None); with `email`, only that
		address's (a "Sync now" must not read every lead of the site to find one)."""
		...

	def record_push(self, outcomes: Sequence[PushOutcome]) -> None: ...

	# -- bulk activities -------------------------------------------------------------------------
	def open_activities(self) -> list[ActivityRecord]:
		"""Activities submitted (or being submitted) whose outcome has not been applied."""
		...

	def save_activity(self, record: ActivityRecord) -> None: ...

	# -- email engagement ------------------------------------------------------------------------
	def save_campaigns(self, campaigns: Sequence[CampaignRecord]) -> None:
		"""Create or update each campaign by its CC id."""
		...

	def add_engagement(self, events: Sequence[EngagementEvent]) -> int:
		"""Record the events the site does not hold yet (by `key`) on the people of their addresses, in
		bulk, and bring those people's engagement summary up to date; returns how many were new."""
		...

	def bounced_emails(self, emails: Collection[str]) -> dict[str, str]:
		"""Of `emails`, those with a hard bounce recorded, each with the code of its latest one."""
		...

	# -- transactions ----------------------------------------------------------------------------
	def commit(self) -> None: ...

	def rollback(self) -> None: ...
