"""Plain records exchanged between the engine and a store. They carry no behaviour of their own."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cc_sync.constant_contact.values import Word
from cc_sync.sync.consent import MemberRow


@dataclass(slots=True)
class SiteContact:
	"""What the site holds about one person, as far as the sync cares."""

	key: str
	email: str | None
	cc_contact_id: str | None = None
	# The site's own do-not-mail flag (Contact.unsubscribed, a global Email Unsubscribe, ...).
	unsubscribed: bool = False
	# When the opt-out took effect, on whichever side it happened; True when that date is CC's own.
	opted_out_at: datetime | None = None
	optout_cc_clock: bool = False
	# The last CC state applied, so an unchanged contact costs no write (CC's `updated_at` dates are
	# written beside it for the desk, not read: what differs is found by comparing the values).
	cc_permission: str | None = None
	cc_deleted: bool = False
	fields: dict[str, Any] = field(default_factory=dict)
	# Mapped Email Groups this address has a member row in.
	groups: frozenset[str] = frozenset()
	# For deterministic tie-breaks between two site contacts with one email.
	created: datetime | None = None


@dataclass(slots=True)
class ContactWrite:
	"""One change to apply on the site; `key=None` creates a contact.

	Consent is always stated, never implied: `opted_out` is the address's opt-out after this write, and
	`rows` the member rows to write, each with its state. A store applies a write only while what the
	engine saw still holds (`premise_opted_out_at`, `premise_rows`); otherwise it returns None for it and
	the engine decides again from what the site holds now.
	"""

	key: str | None
	email: str
	opted_out: bool
	cc_contact_id: str | None = None
	fields: dict[str, Any] = field(default_factory=dict)
	# When the opt-out took effect, and whether that date is CC's own (a CC opt-out).
	opted_out_at: datetime | None = None
	cc_clock: bool = False
	# The engine decided that CC's newer explicit opt-in by the person lifts the opt-out.
	lift_optout: bool = False
	# What this write changes in the address's consent: "out" (an opt-out reaches the site), "in" (an
	# opt-out lifted) or None.
	consent_change: str | None = None
	cc_permission: str | None = None
	cc_updated_at: datetime | None = None
	cc_email_updated_at: datetime | None = None
	cc_deleted: bool | None = None
	# Email Group Member rows to write: group -> its state (None removes the row). Groups not named are
	# left alone.
	rows: dict[str, MemberRow | None] = field(default_factory=dict)
	# CC moved the contact from this address: the rows of it to write (None removes one).
	former_email: str | None = None
	former_rows: dict[str, MemberRow | None] = field(default_factory=dict)
	# What the engine saw: the latest opt-out of the address (None: none), and the rows it rewrites.
	premise_opted_out_at: datetime | None = None
	premise_opted_out: bool = False
	premise_rows: dict[str, MemberRow | None] = field(default_factory=dict)
	# The site knows an opt-out CC does not: queue it for the opt-out push.
	request_cc_optout: bool = False
	# Why the address's pushed records (Leads) are never sent again: their push status says so, so
	# every record of the address tells one story.
	push_stop: str | None = None
	# The person opted in again: records skipped while they were opted out are pushed again.
	push_again: bool = False
	synced_at: datetime | None = None

	@property
	def is_create(self) -> bool:
		return self.key is None

	def plan_line(self) -> dict[str, Any]:
		"""What a dry run's plan says of this write."""
		line: dict[str, Any] = {"action": "create" if self.is_create else "update", "email": self.email}
		if self.key:
			line["contact"] = self.key
		if self.fields:
			line["fields"] = sorted(self.fields)
		line["opted_out"] = self.opted_out
		if self.lift_optout:
			line["opt_out_lifted"] = True
		if self.rows:
			line["member_rows"] = {
				g: "removed" if r is None else "unsubscribed" if r.unsubscribed else "subscribed"
				for g, r in self.rows.items()
			}
		if self.request_cc_optout:
			line["push_optout"] = True
		if self.cc_deleted:
			line["cc_deleted"] = True
		return line


@dataclass(slots=True)
class LocalOptOut:
	"""An opt-out made on the site that CC has not yet been told about."""

	email: str
	at: datetime
	cc_contact_id: str | None = None
	reason: str | None = None
	# Set by the person (an unsubscribe link) rather than by a user of the site.
	by_person: bool = False
	# Failed pushes so far, when the next may be tried, and why the last one failed.
	attempts: int = 0
	retry_at: datetime | None = None
	last_error: str | None = None
	# A leave of this one Email Group (its CC lists only), rather than of every email.
	group: str | None = None
	# The CC lists mapped to that group when the person left it: the leave takes them off these lists,
	# whatever the mappings say by the time it reaches CC.
	lists: tuple[str, ...] = ()


@dataclass(slots=True)
class PushCandidate:
	"""A lead (or other record) the site wants in CC."""

	key: str
	email: str | None
	fields: dict[str, Any] = field(default_factory=dict)
	modified: datetime | None = None
	cc_contact_id: str | None = None
	# When it was last queued or pushed: a candidate not modified since is not imported again.
	pushed_at: datetime | None = None
	# The Email Groups the record belongs to (a newsletter sign-up): it goes only to the CC lists mapped
	# for push to them. None: every CC list mapped for push.
	groups: tuple[str, ...] | None = None


class PushStatus(Word):
	"""Where a pushed record stands (the Lead's "CC Push Status"); reads and stores as its plain word."""

	PENDING = "Pending"
	QUEUED = "Queued"
	PUSHED = "Pushed"
	SKIPPED = "Skipped"
	FAILED = "Failed"


# Outcomes that mark a record as sent; the others clear its pushed-at.
SENT_STATUSES = frozenset({PushStatus.QUEUED, PushStatus.PUSHED})


@dataclass(slots=True)
class PushOutcome:
	key: str
	# QUEUED and PUSHED set the record's pushed_at to `at`; SKIPPED, FAILED and PENDING clear it.
	status: PushStatus
	reason: str | None = None
	activity_id: str | None = None
	cc_contact_id: str | None = None
	at: datetime | None = None


@dataclass(slots=True)
class ActivityRecord:
	"""A bulk activity the site has submitted (or is about to submit) to CC.

	`state="submitting"` is written before the POST, so a crash between the POST and recording its id is
	recognised on the next run instead of importing the same chunk twice.
	"""

	chunk_id: str
	kind: str  # "import"
	state: str  # "submitting", then CC's state: initialized, processing, completed, failed, ...
	submitted_at: datetime
	keys: list[str] = field(default_factory=list)
	emails: list[str] = field(default_factory=list)
	activity_id: str | None = None
	list_ids: list[str] = field(default_factory=list)
	finished: bool = False
	result: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class CampaignRecord:
	"""One CC email campaign as the site lists it: what was sent, when, and how it did."""

	campaign_id: str
	name: str
	subject: str | None = None
	status: str | None = None
	sent_at: datetime | None = None
	# sends, opens (unique), opens_all, clicks (unique), bounces, hard_bounces, optouts
	counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class EngagementEvent:
	"""One thing that happened to one email of one campaign for one person (a tracking report row)."""

	campaign_id: str | None
	activity_id: str
	# sent, open, click, bounce, optout
	kind: str
	cc_contact_id: str
	email: str
	at: datetime
	link_url: str | None = None
	bounce_code: str | None = None
	# A bounce CC documents as permanent (the address does not exist, or CC suspended it).
	hard_bounce: bool = False
	reason: str | None = None

	@property
	def key(self) -> str:
		"""What makes a row the same row when a report is read again (CC gives rows no id)."""
		return (
			f"{self.activity_id}|{self.kind}|{self.cc_contact_id}|{self.at.isoformat()}|{self.link_url or ''}"
		)
