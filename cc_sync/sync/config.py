"""What a run needs to know about the site's choices: mappings, windows, chunk sizes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from cc_sync.sync.fieldmap import DEFAULT_FIELD_MAP, FieldRule

DIRECTIONS = ("pull", "push", "both")
# CC's own ceilings for one JSON import; the defaults stay well under both.
IMPORT_MAX_CONTACTS = 40_000
IMPORT_MAX_BYTES = 4 * 1024 * 1024
PAGE_LIMIT = 500


@dataclass(frozen=True, slots=True)
class ListMapping:
	cc_list_id: str
	group: str
	direction: str = "both"
	enabled: bool = True

	def __post_init__(self) -> None:
		if self.direction not in DIRECTIONS:
			raise ValueError(f"direction must be one of {DIRECTIONS}, not {self.direction!r}")

	@property
	def pulls(self) -> bool:
		return self.enabled and self.direction in ("pull", "both")

	@property
	def pushes(self) -> bool:
		return self.enabled and self.direction in ("push", "both")


@dataclass(frozen=True)
class SyncConfig:
	overlap: timedelta = timedelta(minutes=10)
	field_map: tuple[FieldRule, ...] = DEFAULT_FIELD_MAP
	list_mappings: tuple[ListMapping, ...] = ()
	# Create a site Contact for a CC contact the site does not know; off: such contacts are skipped.
	create_unknown_contacts: bool = True
	page_limit: int = PAGE_LIMIT
	chunk_max_contacts: int = 5_000
	chunk_max_bytes: int = 3_500_000
	# People CC holds whose site-owned fields go by PUT (two calls each, see `field_updates`), per run.
	field_update_max: int = 250
	# An incremental read that stopped part way carries on from its last applied page if the stop is no
	# older than this (CC does not document how long a paging cursor lives; a quota stop waits for 00:00 UTC).
	resume_max_age: timedelta = timedelta(hours=36)
	# How many times one run polls an open activity before leaving it to the next run.
	activity_polls: int = 10
	activity_poll_interval: float = 2.0
	# Whole-account reads (first sync, full reconcile, opt-out safety net) use CC's export above this many
	# contacts and page below it (0: always page). An export costs about 6-10 calls whatever the size;
	# paging costs one call per 500 contacts, so the export saves calls from about 5,000 contacts on.
	export_threshold: int = 5_000
	export_poll_interval: float = 2.0
	export_polls: int = 40
	# Once CC's optout_after is judged unreliable, it is re-checked this often (one optout_after query over
	# the window, held against the full scan), and trusted again after this many good checks in a row.
	optout_recheck_every: timedelta = timedelta(hours=6)
	optout_recheck_window: timedelta = timedelta(days=365)
	optout_recover_after: int = 3
	# Email engagement: whether the connection was granted CC's `campaign_data` scope (without it the
	# engagement stream stays off and says why), how long after its send a campaign is read, and the
	# share of the day's API quota the engagement stream may spend at most.
	campaign_data: bool = False
	engagement_window: timedelta = timedelta(days=90)
	engagement_share: float = 0.2
	daily_quota: int = 10_000
	# Subresources the changes stream asks for: what the field map and list mappings need.
	include: tuple[str, ...] = field(
		default=("custom_fields", "list_memberships", "phone_numbers", "street_addresses")
	)

	def __post_init__(self) -> None:
		if not 0 < self.chunk_max_contacts <= IMPORT_MAX_CONTACTS:
			raise ValueError(f"chunk_max_contacts must be 1..{IMPORT_MAX_CONTACTS}")
		if not 0 < self.chunk_max_bytes < IMPORT_MAX_BYTES:
			raise ValueError(f"chunk_max_bytes must be under {IMPORT_MAX_BYTES}")
		if not 0 < self.page_limit <= PAGE_LIMIT:
			raise ValueError(f"page_limit must be 1..{PAGE_LIMIT}")
		if not 0 < self.engagement_share <= 1:
			raise ValueError("engagement_share must be more than 0 and at most 1")

	@property
	def group_by_list(self) -> dict[str, str]:
		"""CC list id to Email Group, for the lists pulled."""
		return {m.cc_list_id: m.group for m in self.list_mappings if m.pulls}

	@property
	def managed_groups(self) -> frozenset[str]:
		return frozenset(self.group_by_list.values())

	@property
	def push_list_groups(self) -> dict[str, list[str]]:
		"""Each CC list pushed to, with every group mapped to it (in any direction)."""
		out: dict[str, list[str]] = {}
		for m in self.list_mappings:
			if m.pushes:
				out.setdefault(m.cc_list_id, [])
		for m in self.list_mappings:
			if m.enabled and m.cc_list_id in out and m.group not in out[m.cc_list_id]:
				out[m.cc_list_id].append(m.group)
		return out

	@property
	def push_lists_by_group(self) -> dict[str, set[str]]:
		"""Each group mapped for push (push or both), with the CC lists it is pushed to."""
		out: dict[str, set[str]] = {}
		for m in self.list_mappings:
			if m.pushes:
				out.setdefault(m.group, set()).add(m.cc_list_id)
		return out

	@property
	def push_list_ids(self) -> list[str]:
		return sorted({m.cc_list_id for m in self.list_mappings if m.pushes})
