"""Consent is a ratchet: an unsubscribe is never overwritten, at address level or at list level.

Every consent outcome of the sync is decided here, and handed to the stores as explicit writes. The
site's opt-out of an address is one input, whichever channel it came through: Contact, Lead, Email
Unsubscribe (global, or for one document), or an opt-out waiting to reach CC. An Email Group Member
row that is unsubscribed is a leave of that group only (unless the settings make a group leave a global
opt-out, in which case the site records it as an address opt-out as well).

Address level: CC's `email_address.permission_to_send` meets the site's opt-out.

| CC permission_to_send                             | site address        | decision                                      |
|---------------------------------------------------|---------------------|-----------------------------------------------|
| unsubscribed                                      | any                 | opted out, dated by CC's opt_out_date (CC's   |
|                                                   |                     | clock)                                        |
| explicit, opt_in_source Contact, opted in after   | opted out           | opt-out lifted: the person opted in again     |
| the site's opt-out (see "newer" below)            |                     |                                               |
| explicit by the account, or older or undated      | opted out           | stays opted out; CC is told (opt-out push)    |
| opt-in, implicit, pending_confirmation, not_set,  |                     |                                               |
| temp_hold                                         |                     |                                               |
| any of those                                      | subscribed / new    | stays subscribed                              |
| a value CC has not documented                     | any                 | unchanged; reported as a skip                 |
| (deleted in CC)                                   | any                 | marked deleted; consent unchanged             |

List level: CC's list memberships (for lists mapped for pull) meet the Email Group Member rows.

| CC list        | site member row     | decision                                                          |
|----------------|---------------------|-------------------------------------------------------------------|
| member         | none                | row added, unsubscribed when the address is opted out             |
| member         | subscribed          | unchanged (unsubscribed when the address is opted out)            |
| member         | unsubscribed        | stays unsubscribed, unless the person's newer opt-in lifts it     |
| member of a list left through a group leave (the list remapped since, or the leave not in CC yet) |
|                | none                | row added unsubscribed, unless the person's newer opt-in          |
| not a member   | subscribed          | row unsubscribed: the person left the list in CC, or was removed  |
| not a member   | unsubscribed / none | unchanged: an unsubscribed row is the record of a leave           |
| (deleted in CC)| subscribed          | row removed: CC took the contact off every list                   |
| (address opted out) | every row, mapped or site-only | unsubscribed                                 |
| (row added on site) | new row             | unsubscribed when the address is opted out                        |
| (opt-out lifted)    | rows of the CC lists they are on | subscribed when left before the opt-in; rows of   |
|                     |                     | site-only groups and of lists they are not on stay as they are    |

Leaving one Email Group on the site takes the person off the CC lists mapped to that group, and
nowhere else; it is a global opt-out (on the site and in CC) only when the settings ask for it. Leaving
a group that no CC list is mapped to stays on the site. The push decides each person's lists
(`push_lists`): never a list whose mapped group they left, and for a contact CC already holds, no list
it does not see them on.

"Newer": the only thing that lifts an opt-out or re-adds a person to a list they left is CC reporting an
explicit opt-in by the person (`opt_in_source = Contact`) dated after the opt-out or leave. When both
dates come from CC's clock (a CC opt-out) they are compared as they are; when the opt-out or leave is
dated by the site's clock, it is put on CC's clock first (the difference measured from CC's answers in
the same run) and the opt-in must then be newer by `SKEW_MARGIN`, what the measure cannot see, so clocks
that disagree by hours cannot flip the outcome. An opt-out or leave of unknown date is never lifted.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cc_sync.constant_contact.models import KNOWN_PERMISSIONS, EmailAddress, Permission

UNSUBSCRIBED = Permission.UNSUBSCRIBED
EXPLICIT = Permission.EXPLICIT
# CC's opt_in_source when the person opted in themselves (not the account).
BY_PERSON = "Contact"
# More than the clock difference between CC and any site this is meant to run on (minutes, not hours).
SKEW_MARGIN = timedelta(minutes=10)


@dataclass(slots=True, frozen=True)
class MemberRow:
	"""One Email Group Member row of an address."""

	unsubscribed: bool
	# When the row took its state (the leave's date, for an unsubscribed row), on the site's clock.
	at: datetime | None = None


@dataclass(slots=True)
class AddressConsent:
	"""Everything the site knows about the consent of one address, every channel together.

	Both stores answer it with one batched query (`SyncStore.consent_state`), and the engine uses it for
	matching, creating, pushing and re-opt-in decisions.
	"""

	email: str
	opted_out: bool = False
	# The latest site-side opt-out of the address, and whether that date is CC's own (a CC opt-out).
	opted_out_at: datetime | None = None
	cc_clock: bool = False
	# Where the opt-out was found: "contact", "lead", "unsubscribe", "pending", "cc".
	channels: tuple[str, ...] = ()
	cc_deleted: bool = False
	# Every Email Group Member row of the address: group -> row.
	rows: dict[str, MemberRow] = field(default_factory=dict)
	# CC lists the person left by leaving a group mapped to them (pending or already in CC): list id ->
	# the latest such leave. A group the list is mapped to later is joined unsubscribed, never subscribed.
	left_lists: dict[str, datetime | None] = field(default_factory=dict)

	@property
	def never_push(self) -> bool:
		"""Opted out on either side, or deleted in CC: the push never sends this address."""
		return self.opted_out or self.cc_deleted or "cc" in self.channels


def settle_state(
	state: AddressConsent,
	channels: list[str],
	dates: list[tuple[datetime | None, bool]],
	lead_dates: list[datetime | None],
) -> AddressConsent:
	"""Fill `state` from the opt-outs found on each channel: the one reading both stores share.

	`dates` are the dated records (Contact, Email Unsubscribe, opt-out rows: (date, CC's clock?)); a Lead's
	own date counts only when nothing else dates the opt-out (the sync marks Leads opted out itself, on
	the site's clock, when CC reports an opt-out). The latest date stands; one unknown date makes the
	whole opt-out undated, which is never lifted.
	"""
	found = list(dates)
	if lead_dates and not found:
		found = [(d, False) for d in lead_dates]
	state.channels = tuple(dict.fromkeys(channels))
	state.opted_out = bool(found)
	state.opted_out_at = None
	state.cc_clock = False
	if found and not any(d is None for d, _ in found):
		latest = max(d for d, _ in found if d is not None)
		state.opted_out_at = latest
		# CC's clock only when every record at that date is CC's own opt-out.
		state.cc_clock = all(cc for d, cc in found if d == latest)
	return state


@dataclass(slots=True, frozen=True)
class ConsentDecision:
	# The address's opt-out after this CC state: explicit, always.
	opted_out: bool = False
	opted_out_at: datetime | None = None
	cc_clock: bool = False
	# True when this decision changes the site's state (an opt-out reached it, or one was lifted).
	changed: bool = False
	# The site knows an opt-out that CC does not hold: push it.
	push_optout: bool = False
	# CC sent a permission value this code does not know.
	unknown_permission: str | None = None

	@property
	def lifted(self) -> bool:
		return self.changed and not self.opted_out


def opted_in_after(
	permission: str | None,
	opt_in_source: str | None,
	opt_in_date: datetime | None,
	left_at: datetime | None,
	*,
	cc_clock: bool = False,
	site_offset: timedelta = timedelta(0),
) -> bool:
	"""Does CC report the person's own explicit opt-in, newer than an opt-out or leave dated `left_at`?

	A date on the site's clock is first put on CC's (`site_offset`: CC's clock minus the site's, as this
	run measured it from CC's answers), so a site clock an hour behind CC's cannot make an older opt-in
	look newer than the opt-out; the skew margin covers what the measure cannot."""
	if permission != EXPLICIT or opt_in_source != BY_PERSON:
		return False
	if opt_in_date is None or left_at is None:
		return False
	if cc_clock:
		return opt_in_date > left_at
	return opt_in_date > left_at + site_offset + SKEW_MARGIN


def person_opted_in_after(
	email_address: EmailAddress | None, left_at: datetime | None, site_offset: timedelta = timedelta(0)
) -> bool:
	"""Does CC's record of an address carry the person's own opt-in, newer than a site-dated opt-out or
	leave (`opted_in_after` with the skew margin)?"""
	if email_address is None:
		return False
	return opted_in_after(
		email_address.permission_to_send,
		email_address.opt_in_source,
		email_address.opt_in_date,
		left_at,
		site_offset=site_offset,
	)


def decide(
	site: AddressConsent | None,
	permission: str | None,
	opt_out_date: datetime | None,
	opt_in_date: datetime | None,
	email_updated_at: datetime | None,
	opt_in_source: str | None = None,
	site_offset: timedelta = timedelta(0),
) -> ConsentDecision:
	"""Merge CC's view of one address with the site's, per the address table above."""
	site_out = bool(site and site.opted_out)
	keep = ConsentDecision(
		opted_out=site_out,
		opted_out_at=site.opted_out_at if site else None,
		cc_clock=bool(site and site.cc_clock),
	)
	if permission is None:
		# An SMS-only contact or a record without email: no email consent to speak of.
		return keep
	if permission not in KNOWN_PERMISSIONS:
		return ConsentDecision(
			opted_out=keep.opted_out,
			opted_out_at=keep.opted_out_at,
			cc_clock=keep.cc_clock,
			unknown_permission=permission,
		)
	if permission == UNSUBSCRIBED:
		if site_out and site is not None and site.opted_out_at is not None:
			return keep
		return ConsentDecision(
			opted_out=True, opted_out_at=opt_out_date or email_updated_at, cc_clock=True, changed=True
		)
	if not site_out:
		return keep
	assert site is not None
	if opted_in_after(
		permission,
		opt_in_source,
		opt_in_date,
		site.opted_out_at,
		cc_clock=site.cc_clock,
		site_offset=site_offset,
	):
		return ConsentDecision(opted_out=False, changed=True)
	return ConsentDecision(
		opted_out=True, opted_out_at=site.opted_out_at, cc_clock=site.cc_clock, push_optout=True
	)


def decide_rows(
	site: AddressConsent | None,
	decision: ConsentDecision,
	cc_groups: frozenset[str] | None,
	managed: Collection[str],
	*,
	permission: str | None = None,
	opt_in_source: str | None = None,
	opt_in_date: datetime | None = None,
	deleted: bool = False,
	left: Mapping[str, datetime | None] | None = None,
	now: datetime,
	site_offset: timedelta = timedelta(0),
) -> dict[str, MemberRow | None]:
	"""The member rows to write for one address, per the list table above: group -> row state, None
	to remove the row.

	`cc_groups` are the pull-mapped groups of the CC lists the contact is on (None when CC's memberships
	were not fetched); `managed` every pull-mapped group. Rows not returned stay as they are. A contact
	deleted in CC leaves its mapped groups (CC takes it off every list; nobody left anything, and the
	push never sends a deleted address), and its unsubscribed rows stay as the record of consent.
	`left` names the groups of `cc_groups` fed by a CC list the person left through a group leave (the
	list since remapped, or the leave not in CC yet), with the leave's date: such a group gets its row
	unsubscribed, as the record of that leave, unless the person's own opt-in is newer.
	"""
	rows: Mapping[str, MemberRow] = site.rows if site else {}
	out: dict[str, MemberRow | None] = {}
	if decision.opted_out:
		# Every row of an opted-out address is unsubscribed, mapped or not, dated by the opt-out; CC's lists
		# add rows, opted out.
		at = decision.opted_out_at or now
		for group, row in rows.items():
			if not row.unsubscribed:
				out[group] = MemberRow(True, at)
		for group in cc_groups or ():
			if group not in rows:
				out[group] = MemberRow(True, at)
		return out
	# Rows unsubscribed with (or before) the opt-out this decision lifts go with it.
	lifted_before = site.opted_out_at if (site is not None and decision.lifted) else None
	if deleted:
		return {g: None for g in managed if g in rows and not rows[g].unsubscribed}
	if cc_groups is None:
		return out
	for group in managed:
		row = rows.get(group)
		on_list = group in cc_groups
		if on_list and row is None and left and group in left:
			left_at = left[group]
			if opted_in_after(permission, opt_in_source, opt_in_date, left_at, site_offset=site_offset):
				out[group] = MemberRow(False, now)
			else:
				out[group] = MemberRow(True, left_at or now)
		elif on_list and row is None:
			out[group] = MemberRow(False, now)
		elif on_list and row.unsubscribed:
			# A leave is lifted only by the person's own newer opt-in.
			with_optout = lifted_before is not None and row.at is not None and row.at <= lifted_before
			if with_optout or opted_in_after(
				permission, opt_in_source, opt_in_date, row.at, site_offset=site_offset
			):
				out[group] = MemberRow(False, now)
		elif not on_list and row is not None and not row.unsubscribed:
			out[group] = MemberRow(True, now)
	return out


def former_address_rows(
	former: AddressConsent | None, managed: Collection[str]
) -> dict[str, MemberRow | None]:
	"""CC moved a contact to a new address (same contact id): the old address's subscribed rows in the
	mapped groups go, or site newsletters would reach both addresses (the new address's rows are decided
	like any address's). Its unsubscribed rows stay as the record of consent."""
	rows: Mapping[str, MemberRow] = former.rows if former else {}
	return {g: None for g in managed if g in rows and not rows[g].unsubscribed}


def push_lists(
	site: AddressConsent | None,
	list_groups: Mapping[str, Collection[str]],
	*,
	known_in_cc: bool,
	pulled_groups: Collection[str] = (),
) -> list[str]:
	"""The CC lists one pushed person is imported into: never one whose mapped group they left.

	`list_groups` maps each push list to the groups mapped to it. A person new to CC joins every push
	list whose group they have not left. A contact CC already holds joins no list: CC's list edits move
	no timestamp, so the site cannot tell a list they left (or were removed from) since it last looked
	from one they never joined. Their row carries only the lists the site sees them on, which adds
	nothing.
	"""
	rows: Mapping[str, MemberRow] = site.rows if site else {}
	chosen = []
	for list_id, groups in list_groups.items():
		if any(rows[g].unsubscribed for g in groups if g in rows):
			continue
		if known_in_cc and not any(g in rows and g in pulled_groups for g in groups):
			continue
		chosen.append(list_id)
	return sorted(chosen)


def rows_after_import(
	state: AddressConsent | None, groups: Collection[str], *, now: datetime
) -> dict[str, MemberRow]:
	"""A completed import put the person on the CC lists of these pull-mapped groups: the rows to add.

	CC leaves an unsubscribed contact off the lists, so an opted-out address gets no row; a row already
	there (a leave above all) stays as it is.
	"""
	if state is not None and (state.opted_out or "cc" in state.channels):
		return {}
	rows = state.rows if state else {}
	return {g: MemberRow(False, now) for g in groups if g not in rows}


def joins_unsubscribed(state: AddressConsent | None) -> bool:
	"""A member row added on the site (a user, an import into a group) for an opted-out address is added
	unsubscribed: adding someone to a group is no opt-in by the person."""
	return bool(state and state.opted_out)


def premise_holds(write: Any, state: AddressConsent) -> bool:
	"""Does what the engine saw when it decided this write still hold? A newer opt-out of the address, or
	a member row changed since, voids it (the stores apply a write only when this is true)."""
	if not write.opted_out and state.opted_out:
		if not write.premise_opted_out or state.opted_out_at is None or write.premise_opted_out_at is None:
			return False
		if state.opted_out_at > write.premise_opted_out_at:
			return False
	return all(state.rows.get(group) == write.premise_rows.get(group) for group in write.rows)
