"""Site opt-outs on their way to CC: queued with the save (or the page) that made them, handed to the
engine, deferred or resolved as the opt-out push goes; and kept on record when the record that held one
is deleted. One opt-out row per address, and per group left."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import frappe
from frappe.utils import get_datetime, now_datetime

from cc_sync.cc_sync.constants import (
	CONTACT,
	CONTACT_CC_ID,
	CONTACT_CC_PERMISSION,
	EMAIL_GROUP_MEMBER,
	LEAD,
	OPT_OUT,
	OptOutStatus,
)
from cc_sync.cc_sync.sitetime import from_site, to_site
from cc_sync.cc_sync.store import addresses
from cc_sync.cc_sync.store.consent_writes import ConsentWrites, Holders
from cc_sync.cc_sync.store.contact_reads import contact_for, contacts_by_address
from cc_sync.cc_sync.store.opt_out_lists import join_lists, lists_mapped_to, split_lists
from cc_sync.cc_sync.store.sql import (
	WriteCount,
	base_columns,
	doctype_exists,
	execute_in,
	insert_named,
	select_in,
)
from cc_sync.constant_contact.models import Permission
from cc_sync.sync.matching import normalise_email
from cc_sync.sync.records import (
	ContactWrite,
	LocalOptOut,
)

UNSUBSCRIBED = Permission.UNSUBSCRIBED


class OptOutQueue:
	"""The opt-out queue part of `FrappeStore`: `holders` finds the Contacts of an address CC now holds
	as opted out, which take CC's permission and id."""

	def __init__(self, holders: Holders, count: WriteCount) -> None:
		self.holders = holders
		self.count = count

	def queue_from_writes(self, writes: Sequence[ContactWrite], now: datetime) -> None:
		"""The page's opt-outs the engine asks to reach CC, one pending row per address."""
		requests = {}
		for w in writes:
			if w.request_cc_optout and (w.email, None) not in requests:
				at = to_site(w.opted_out_at) if w.opted_out_at else now
				requests[(w.email, None)] = {"opted_out_at": at, "cc_contact_id": w.cc_contact_id}
		if requests:
			queue_optouts(requests, now)

	def pending(self) -> list[LocalOptOut]:
		"""Every pending opt-out, oldest first."""
		rows = frappe.db.sql(
			f"""select email, email_group, cc_lists, opted_out_at, cc_contact_id, reason, by_person, attempts,
			retry_at, last_error from `tab{OPT_OUT}` where status = %s order by opted_out_at, email, email_group""",
			OptOutStatus.PENDING,
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

	def defer(
		self, email: str, attempts: int, retry_at: datetime, error: str, group: str | None = None
	) -> None:
		"""Pushing this opt-out failed: it waits until `retry_at`."""
		execute_in(
			f"""update `tab{OPT_OUT}` set attempts = %(attempts)s, retry_at = %(retry_at)s,
			last_error = %(error)s, modified = %(now)s where name in %(values)s""",
			_pending(email, group),
			attempts=attempts,
			retry_at=to_site(retry_at),
			error=error,
			now=now_datetime(),
		)
		self.count.add()

	def resolve(self, email: str, cc_contact_id: str | None, at: datetime, group: str | None = None) -> None:
		"""CC holds this opt-out now: the row is done, and the address's Contacts take CC's permission
		(the first of them CC's id, unless another Contact has it)."""
		address = normalise_email(email)
		execute_in(
			f"""update `tab{OPT_OUT}` set status = %(done)s, resolved_at = %(at)s, modified = %(now)s,
			cc_contact_id = coalesce(%(cc_id)s, cc_contact_id) where name in %(values)s""",
			_pending(address, group),
			done=OptOutStatus.DONE,
			at=to_site(at),
			now=now_datetime(),
			cc_id=cc_contact_id,
		)
		if cc_contact_id and group is None:
			names = self.holders([address]).get(address or "", [])
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
		self.count.add()


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
	consent = ConsentWrites(contacts_by_address, doctype_exists(LEAD))
	consent.opt_out_everywhere(address, at or from_site(now), False, now)
	execute_in(
		f"""update `tab{EMAIL_GROUP_MEMBER}` set unsubscribed = 1, modified = %(at)s, modified_by = %(user)s
		where name in %(values)s""",
		addresses.names_by_address(EMAIL_GROUP_MEMBER, "email", [address], "unsubscribed = 0"),
		at=when,
		user=frappe.session.user,
	)
	# The one Contact holding the address (linked to CC first): its CC id, if it has one.
	holder = contact_for(address)
	cc_id = (frappe.db.get_value(CONTACT, holder, CONTACT_CC_ID) or None) if holder else None
	queue_optouts(
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


def _pending(email: str, group: str | None) -> list[str]:
	"""The pending opt-out rows of exactly this address, for the address (no group) or for one group."""
	return addresses.names_by_address(
		OPT_OUT,
		"email",
		[email],
		"status = %(pending)s and coalesce(email_group, '') = %(group)s",
		pending=OptOutStatus.PENDING,
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
				"status": OptOutStatus.DONE,
				"opted_out_at": at or now,
				"resolved_at": now,
				"reason": reason,
				"by_person": 0,
			}
		],
	)
	return True


def queue_optouts(requests: dict[tuple[str, str | None], dict[str, Any]], now: datetime) -> None:
	"""One opt-out row per address (and per group left): new rows inserted, resolved ones reopened,
	pending ones moved to the latest opt-out (which is what a CC opt-in must be newer than)."""

	emails = {email for email, _ in requests}
	existing = {
		(normalise_email(r.email), r.email_group or None): r
		for r in select_in(
			f"""select name, email, email_group, status, opted_out_at, cc_lists from `tab{OPT_OUT}`
			where email in %(values)s""",
			emails,
		)
	}
	rows = []
	for (email, group), values in requests.items():
		row = existing.get((email, group))
		request = {
			"at": values.get("opted_out_at") or now,
			"reason": values.get("reason"),
			"by_person": 1 if values.get("by_person") else 0,
			"cc_id": values.get("cc_contact_id"),
			"now": now,
			"lists": tuple(values.get("lists") or ()),
		}
		if row is None:
			rows.append(_new_optout(email, group, request))
		elif row.status == OptOutStatus.PENDING:
			_move_pending(row, request)
		else:
			_reopen(row, request)
	insert_named(OPT_OUT, rows)


def _new_optout(email: str, group: str | None, request: dict[str, Any]) -> dict[str, Any]:
	return {
		**base_columns(request["now"]),
		"email": email,
		"email_group": group,
		"status": OptOutStatus.PENDING,
		"opted_out_at": request["at"],
		"cc_contact_id": request["cc_id"],
		"reason": request["reason"],
		"by_person": request["by_person"],
		"cc_lists": join_lists(request["lists"]),
	}


def _move_pending(row: Any, request: dict[str, Any]) -> None:
	"""A pending opt-out takes a later date (what a CC opt-in must be newer than); an earlier one is kept.
	A pending group leave keeps the CC lists it named and adds the new one's: both leaves reach CC."""
	lists = set(split_lists(row.cc_lists)) | set(request["lists"])
	if lists != set(split_lists(row.cc_lists)):
		frappe.db.sql(
			f"update `tab{OPT_OUT}` set cc_lists = %s where name = %s", (join_lists(lists), row.name)
		)
	if row.opted_out_at is None or get_datetime(request["at"]) > get_datetime(row.opted_out_at):
		frappe.db.sql(
			f"""update `tab{OPT_OUT}` set opted_out_at = %(at)s, reason = coalesce(%(reason)s, reason),
			by_person = %(by_person)s, modified = %(now)s where name = %(name)s""",
			{**request, "name": row.name},
		)


def _reopen(row: Any, request: dict[str, Any]) -> None:
	"""A resolved opt-out is pending again, from its first attempt (a group leave with the lists mapped
	to the group now)."""
	frappe.db.sql(
		f"""update `tab{OPT_OUT}` set status = %(pending)s, opted_out_at = %(at)s, resolved_at = null,
		reason = %(reason)s, by_person = %(by_person)s, modified = %(now)s, attempts = 0,
		retry_at = null, last_error = null, cc_lists = %(cc_lists)s,
		cc_contact_id = coalesce(%(cc_id)s, cc_contact_id) where name = %(name)s""",
		{
			**request,
			"pending": OptOutStatus.PENDING,
			"name": row.name,
			"cc_lists": join_lists(request["lists"]),
		},
	)


def record_group_leave(
	email: str | None, group: str, *, by_person: bool = False, at: datetime | None = None
) -> bool:
	"""The person left one Email Group on the site: that group's row is unsubscribed and the leave is
	queued for the CC lists mapped to it now, which it records: a remap or unmap of those lists before
	the leave reaches CC (or while the sync is off) still takes the person off them. Nothing else
	changes. Returns False when there is no address."""
	address = normalise_email(email)
	if not address or not group:
		return False
	now = now_datetime()
	when = to_site(at) if at else now
	execute_in(
		f"""update `tab{EMAIL_GROUP_MEMBER}` set unsubscribed = 1, modified = %(at)s, modified_by = %(user)s
		where name in %(values)s""",
		addresses.names_by_address(
			EMAIL_GROUP_MEMBER,
			"email",
			[address],
			"email_group = %(group)s and unsubscribed = 0",
			group=group,
		),
		at=when,
		user=frappe.session.user,
	)
	queue_optouts(
		{
			(address, group): {
				"opted_out_at": when,
				"reason": f"Left Email Group {group}",
				"by_person": by_person,
				"lists": lists_mapped_to(group),
			}
		},
		now,
	)
	return True
