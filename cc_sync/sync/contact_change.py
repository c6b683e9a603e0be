"""What a CC contact changes on the site contact it is, found before any write is built (most contacts of a
re-pull change nothing, and cost none), and the write of an address's consent as the engine decided it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cc_sync.constant_contact.models import Contact
from cc_sync.sync import consent
from cc_sync.sync.fieldmap import FieldRule, fields_to_pull
from cc_sync.sync.records import ContactWrite, SiteContact


@dataclass(slots=True)
class Change:
	"""What differs between a CC contact and the site contact it is, besides member rows."""

	link: bool = False  # the site contact is not linked to this CC contact yet
	fields: dict[str, Any] = field(default_factory=dict)  # site fields to take CC's values
	opt_out: bool = False  # the address's opt-out reaches this site contact
	lifted: bool = False  # the address's opt-out is lifted (the person's own newer opt-in)
	push_optout: bool = False  # the site holds an opt-out CC does not: it goes to CC
	permission: bool = False  # CC's permission to send differs from the one last applied
	deleted: bool = False  # CC's delete (or its undoing) reaches this site contact


def find_change(
	site: SiteContact,
	contact: Contact,
	decision: consent.ConsentDecision,
	permission: str | None,
	deleted: bool,
	incoming: Mapping[str, Any],
	fitted: Mapping[str, Any],
	rules: Iterable[FieldRule],
) -> Change | None:
	"""What CC's contact changes on `site`, or None when nothing. `incoming` are CC's values of the mapped
	fields, `fitted` the same as the site's columns would store them (what is compared)."""
	link = bool(contact.contact_id and site.cc_contact_id != contact.contact_id)
	fields = fields_to_pull(site.fields, fitted, rules)
	# A CC opt-out, or an opt-out the site holds on another channel (a Lead, an Email Unsubscribe): every
	# record of the address says so.
	opt_out = decision.opted_out and (decision.changed or not site.unsubscribed)
	lifted = not opt_out and decision.lifted
	new_permission = permission is not None and permission != site.cc_permission
	new_deleted = deleted != site.cc_deleted
	if not (link or fields or opt_out or lifted or decision.push_optout or new_permission or new_deleted):
		return None
	return Change(
		link,
		{f: incoming[f] for f in fields},
		opt_out,
		lifted,
		decision.push_optout,
		new_permission,
		new_deleted,
	)


def consent_write(
	key: str | None,
	email: str,
	decision: consent.ConsentDecision,
	rows: dict[str, consent.MemberRow | None],
	state: consent.AddressConsent,
	now: datetime,
) -> ContactWrite:
	"""A write of the address's consent as decided, resting on what the engine saw (`state`): the store
	applies it only while that still holds."""
	return ContactWrite(
		key=key,
		email=email,
		opted_out=decision.opted_out,
		opted_out_at=decision.opted_out_at if decision.opted_out else None,
		cc_clock=decision.cc_clock if decision.opted_out else False,
		lift_optout=decision.lifted,
		consent_change=("out" if decision.opted_out else "in") if decision.changed else None,
		rows=rows,
		premise_opted_out=state.opted_out,
		premise_opted_out_at=state.opted_out_at,
		premise_rows={g: state.rows.get(g) for g in rows},
		synced_at=now,
	)
