"""The numbers on the Constant Contact workspace's cards, each a link to the records it counts.

Every card is a Frappe Number Card of type Custom pointing here, so a site without ERPNext (no Lead)
still shows them all, and each answer says where a click should go. The cards are filed under the
Sync Log (which the Constant Contact User role reads) so the role sees them; each number still counts
only records the user may read.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import frappe
from frappe.utils import getdate, now_datetime

from cc_sync.cc_sync.constants import (
	CONTACT,
	CONTACT_CC_DELETED,
	CONTACT_CC_ID,
	HARD_BOUNCED,
	LEAD,
	LEAD_PUSH_STATUS,
	OPT_OUT,
	SETTINGS,
	SYNC_LOG,
)
from cc_sync.constant_contact.ratelimit import DailyBudget
from cc_sync.sync.records import PushStatus

RECENT_DAYS = 7


def _card(value: int, doctype: str, route_options: dict[str, Any] | None = None) -> dict[str, Any]:
	return {
		"value": value,
		"fieldtype": "Int",
		"route": ["List", doctype],
		"route_options": route_options or {},
	}


def _count(doctype: str, filters: dict[str, Any]) -> dict[str, Any] | str:
	"""A count of what the user may read, and the list it opens (filtered the same way); a user who may
	not read the DocType is told so rather than shown 0."""
	if not frappe.db.exists("DocType", doctype):
		return {"value": 0, "fieldtype": "Int"}
	if not may_read_all(doctype):
		return no_access(doctype)
	# One count query with the user's permissions applied, not every matching name (a million Contacts).
	rows = frappe.get_list(doctype, filters=filters, fields=["count(name) as total"], order_by=None)
	return _card(int(rows[0].total) if rows else 0, doctype, filters)


def may_read_all(doctype: str) -> bool:
	"""Whether the user's roles read the DocType's records, not only those the user created (Frappe's
	"All" role reads its own Contacts only: a count of them would be a wrong 0)."""
	from frappe.permissions import get_role_permissions

	perms = get_role_permissions(frappe.get_meta(doctype))
	return bool(perms.get("read")) and "read" not in (perms.get("if_owner") or {})


def no_access(doctype: str) -> str:
	"""What a card shows a user who may not read what it counts, in place of a number that is not the
	site's (the card shows a text as it is)."""
	return frappe._("No read access to {0}").format(frappe._(doctype))


# The numbers about the site's contacts, each defined once, here: the workspace's cards, the settings
# page and `bench cc-sync status` read them. In sync splits into subscribed and unsubscribed; deleted in
# CC and not in CC are apart from it, so the numbers add up.
IN_SYNC = {CONTACT_CC_ID: ["is", "set"], CONTACT_CC_DELETED: 0}
CONTACT_NUMBERS: dict[str, tuple[str, dict[str, Any]]] = {
	"in_sync": ("in sync", IN_SYNC),
	"subscribed": ("subscribed", {**IN_SYNC, "unsubscribed": 0}),
	"unsubscribed": ("unsubscribed", {**IN_SYNC, "unsubscribed": 1}),
	"deleted_in_cc": ("deleted in CC", {CONTACT_CC_DELETED: 1}),
	"not_in_cc": (
		"not in CC",
		{CONTACT_CC_ID: ["is", "not set"], CONTACT_CC_DELETED: 0, "email_id": ["is", "set"]},
	),
}


def _contacts(number: str) -> dict[str, Any] | str:
	return _count(CONTACT, CONTACT_NUMBERS[number][1])


def contact_numbers() -> dict[str, int]:
	"""Every contact number the user may read, by name (the settings page and the command line)."""
	cards = {number: _contacts(number) for number in CONTACT_NUMBERS}
	return {number: card["value"] if isinstance(card, dict) else 0 for number, card in cards.items()}


def contact_numbers_line(numbers: dict[str, int]) -> str:
	"""One sentence of them: "2,945 contacts in sync (2,797 subscribed, 148 unsubscribed); 61 deleted
	in CC; 12 not in CC"."""
	from frappe import _

	return _(
		"{0} contacts in sync ({1} subscribed, {2} unsubscribed); {3} deleted in CC; {4} not in CC"
	).format(
		*(f"{numbers[n]:,}" for n in ("in_sync", "subscribed", "unsubscribed", "deleted_in_cc", "not_in_cc"))
	)


@frappe.whitelist()
def contacts_in_sync(filters: Any = None) -> dict[str, Any] | str:
	return _contacts("in_sync")


@frappe.whitelist()
def subscribed(filters: Any = None) -> dict[str, Any] | str:
	return _contacts("subscribed")


@frappe.whitelist()
def unsubscribed(filters: Any = None) -> dict[str, Any] | str:
	return _contacts("unsubscribed")


@frappe.whitelist()
def deleted_in_cc(filters: Any = None) -> dict[str, Any] | str:
	return _contacts("deleted_in_cc")


@frappe.whitelist()
def hard_bounced(filters: Any = None) -> dict[str, Any] | str:
	"""Contacts whose address hard-bounced in a campaign: never pushed again until the address changes."""
	if not frappe.get_meta(CONTACT).has_field(HARD_BOUNCED):
		return {"value": 0, "fieldtype": "Int"}
	return _count(CONTACT, {HARD_BOUNCED: 1})


@frappe.whitelist()
def not_in_cc(filters: Any = None) -> dict[str, Any] | str:
	return _contacts("not_in_cc")


def _leads(status: str | list) -> dict[str, Any] | str:
	if not frappe.db.exists("DocType", LEAD) or not frappe.get_meta(LEAD).has_field(LEAD_PUSH_STATUS):
		return {"value": 0, "fieldtype": "Int"}
	value = ["in", status] if isinstance(status, list) else status
	return _count(LEAD, {LEAD_PUSH_STATUS: value})


@frappe.whitelist()
def pending_pushes(filters: Any = None) -> dict[str, Any] | str:
	return _leads([PushStatus.PENDING, PushStatus.QUEUED])


@frappe.whitelist()
def failed_pushes(filters: Any = None) -> dict[str, Any] | str:
	return _leads(PushStatus.FAILED)


def _since() -> str:
	return str(now_datetime() - timedelta(days=RECENT_DAYS))


@frappe.whitelist()
def optouts_to_cc(filters: Any = None) -> dict[str, Any] | str:
	"""Opt-outs made on the site in the last 7 days (each is sent to CC)."""
	return _count(OPT_OUT, {"opted_out_at": [">=", _since()]})


@frappe.whitelist()
def optouts_from_cc(filters: Any = None) -> dict[str, Any]:
	"""Site records unsubscribed because CC reported an opt-out, over the last 7 days of runs."""
	if not frappe.has_permission(SYNC_LOG, "read"):
		return no_access(SYNC_LOG)
	since = _since()
	value = frappe.db.sql(
		f"select coalesce(sum(unsubscribed), 0) from `tab{SYNC_LOG}` where dry_run = 0 and started >= %s",
		since,
	)[0][0]
	return _card(int(value), SYNC_LOG, {"started": [">=", since], "unsubscribed": [">", 0]})


@frappe.whitelist()
def api_calls_today(filters: Any = None) -> str:
	"""Today's calls (CC's day, UTC) against the daily quota, e.g. "1,234 of 10,000"."""
	if not frappe.has_permission(SYNC_LOG, "read"):
		return "-"
	budget = DailyBudget()
	used = frappe.db.get_single_value(SETTINGS, "api_calls_today") or 0
	day = frappe.db.get_single_value(SETTINGS, "api_calls_day")
	if not day or getdate(day) != budget.day:
		used = 0
	return frappe._("{0} of {1}").format(f"{int(used):,}", f"{budget.limit:,}")
