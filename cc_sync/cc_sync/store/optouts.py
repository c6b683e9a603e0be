"""Site opt-outs on their way to CC: queued with the save that made them, handed to the engine, deferred
or resolved as the opt-out push goes."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

import frappe
from frappe.utils import now_datetime

from cc_sync.cc_sync.constants import (
	CONTACT,
	CONTACT_CC_ID,
	CONTACT_CC_PERMISSION,
	EMAIL_GROUP_MEMBER,
	OPT_OUT,
)
from cc_sync.cc_sync.sitetime import from_site, to_site
from cc_sync.cc_sync.store import addresses
from cc_sync.cc_sync.store import consent_writes as site_consent
from cc_sync.cc_sync.store.consent_writes import OPTOUT_DONE, OPTOUT_PENDING
from cc_sync.cc_sync.store.opt_out_lists import split_lists
from cc_sync.cc_sync.store.sql import (
	base_columns,
	execute_in,
	insert_named,
)
from cc_sync.constant_contact.models import Permission
from cc_sync.sync.matching import normalise_email
from cc_sync.sync.records import (
	ContactWrite,
	LocalOptOut,
)

UNSUBSCRIBED = Permission.UNSUBSCRIBED


class OptOutsMixin:
	"""Part of `FrappeStore` (see `store/__init__.py`)."""

	def _queue_from_writes(self, writes: Sequence[ContactWrite], now: datetime) -> None:
		requests = {}
		for w in writes:
			if w.request_cc_optout and (w.email, None) not in requests:
				at = to_site(w.opted_out_at) if w.opted_out_at else now
				requests[(w.email, None)] = {"opted_out_at": at, "cc_contact_id": w.cc_contact_id}
		if requests:
			site_consent.queue_optouts(requests, now)

	def pending_optouts(self) -> list[LocalOptOut]:
		rows = frappe.db.sql(
			f"""select email, email_group, cc_lists, opted_out_at, cc_contact_id, reason, by_person, attempts,
			retry_at, last_error from `tab{OPT_OUT}` where status = %s order by opted_out_at, email, email_group""",
			OPTOUT_PENDING,
			as_dict=True,
		)
		return [
			LocalOptOut(
				email=normalise_email(r.email),
				at=from_site(r.opted_out_at) or from_site(now_datetime()),
				cc_contact_id=r.cc_contact_id or None,
				reason=r.reason or None,
				by_person=bool(r.by_person),
				attempts=r.attempts or 0,
				retry_at=from_site(r.retry_at),
				last_error=r.last_error or None,
				group=r.email_group or None,
				lists=split_lists(r.cc_lists),
			)
			for r in rows
		]

	def defer_optout(
		self, email: str, attempts: int, retry_at: datetime, error: str, group: str | None = None
	) -> None:
		execute_in(
			f"""update `tab{OPT_OUT}` set attempts = %(attempts)s, retry_at = %(retry_at)s,
			last_error = %(error)s, modified = %(now)s where name in %(values)s""",
			_pending(email, group),
			attempts=attempts,
			retry_at=to_site(retry_at),
			error=error,
			now=now_datetime(),
		)
		self.writes += 1

	def resolve_optout(
		self, email: str, cc_contact_id: str | None, at: datetime, group: str | None = None
	) -> None:
		address = normalise_email(email)
		execute_in(
			f"""update `tab{OPT_OUT}` set status = %(done)s, resolved_at = %(at)s, modified = %(now)s,
			cc_contact_id = coalesce(%(cc_id)s, cc_contact_id) where name in %(values)s""",
			_pending(address, group),
			done=OPTOUT_DONE,
			at=to_site(at),
			now=now_datetime(),
			cc_id=cc_contact_id,
		)
		if cc_contact_id and group is None:
			names = contacts_with_email(address)
			if names:
				execute_in(
					f"update `tabContact` set `{CONTACT_CC_PERMISSION}` = %(perm)s where name in %(values)s",
					names,
					perm=UNSUBSCRIBED,
				)
				taken = frappe.db.exists(CONTACT, {CONTACT_CC_ID: cc_contact_id})
				if not taken:
					frappe.db.sql(
						f"""update `tabContact` set `{CONTACT_CC_ID}` = %s
						where name = %s and coalesce(`{CONTACT_CC_ID}`, '') = ''""",
						(cc_contact_id, names[0]),
					)
		self.writes += 1

	def opted_out_emails(self, emails: Collection[str]) -> set[str]:
		return {e for e, state in self.consent_state(emails).items() if state.never_push}


def record_local_optout(
	email: str | None, *, by_person: bool = False, reason: str | None = None, at: datetime | None = None
) -> bool:
	"""An address was opted out on this site: mark it everywhere here and queue it for CC.

	Sets Contact.unsubscribed, every Email Group Member row and Lead.unsubscribed for the address with
	plain UPDATEs (no document saves, so no doc_event fires again), and keeps one Pending opt-out row.
	Rows already in that state are left untouched, so the document whose save called this sees no
	timestamp conflict. Returns False when there is no address.
	"""
	address = normalise_email(email)
	if not address:
		return False
	now = now_datetime()
	when = to_site(at) if at else now
	site_consent.opt_out_everywhere(address, at or from_site(now), False, now)
	execute_in(
		f"""update `tab{EMAIL_GROUP_MEMBER}` set unsubscribed = 1, modified = %(at)s, modified_by = %(user)s
		where name in %(values)s""",
		addresses.names_by_address(EMAIL_GROUP_MEMBER, "email", [address], "unsubscribed = 0"),
		at=when,
		user=frappe.session.user,
	)
	# The one Contact holding the address (linked to CC first): its CC id, if it has one.
	holder = addresses.contact_for(address)
	cc_id = (frappe.db.get_value(CONTACT, holder, CONTACT_CC_ID) or None) if holder else None
	site_consent.queue_optouts(
		{
			(address, None): {
				"opted_out_at": when,
				"cc_contact_id": cc_id,
				"reason": reason,
				"by_person": by_person,
			}
		},
		now,
	)
	return True


def contacts_with_email(email: str) -> list[str]:
	"""The Contacts holding the address exactly, the one that holds it first (see addresses.py)."""
	return addresses.contacts_by_address([email]).get(normalise_email(email) or "", [])


def _pending(email: str, group: str | None) -> list[str]:
	"""The pending opt-out rows of exactly this address, for the address (no group) or for one group."""
	return addresses.names_by_address(
		OPT_OUT,
		"email",
		[email],
		"status = %(pending)s and coalesce(email_group, '') = %(group)s",
		pending=OPTOUT_PENDING,
		group=group or "",
	)


def keep_optout_on_delete(email: str | None, at: Any, reason: str) -> bool:
	"""A record holding an address's opt-out is being deleted (a Contact, or a Lead whose deletion takes
	its Contact with it): the opt-out stays on record as an opt-out row, so the address is never pushed
	again because the record went. Done, as nothing waits for CC: an opt-out made on this site has its
	own row already (then nothing is added), and one CC reported is held by CC. Nothing in CC changes.
	`at` is the opt-out's date as the site stores it (None: now). Returns True when a row was added."""
	address = normalise_email(email)
	if not address:
		return False
	if addresses.names_by_address(OPT_OUT, "email", [address], "coalesce(email_group, '') = ''"):
		return False
	now = now_datetime()
	insert_named(
		OPT_OUT,
		[
			{
				**base_columns(now),
				"email": address,
				"status": OPTOUT_DONE,
				"opted_out_at": at or now,
				"resolved_at": now,
				"reason": reason,
				"by_person": 0,
			}
		],
	)
	return True
