"""The "Constant Contact" block on the Contact and Lead forms: where the person stands in CC, read from
what the last sync stored (no API call, so opening a form never spends the day's quota).
"""

from __future__ import annotations

from typing import Any

import frappe
from frappe import _

from cc_sync.cc_sync.constants import (
	CONTACT,
	CONTACT_CC_DELETED,
	CONTACT_CC_ID,
	CONTACT_CC_PERMISSION,
	CONTACT_LAST_SYNCED,
	CONTACT_OPTED_OUT_AT,
	CONTACT_OPTOUT_CC_CLOCK,
	EMAIL_GROUP_MEMBER,
	LEAD_CC_ID,
	LEAD_PUSH_ERROR,
	LEAD_PUSH_STATUS,
	LEAD_PUSHED_AT,
	LIST,
	LIST_MAPPING,
	OPT_OUT,
	OptOutStatus,
)
from cc_sync.cc_sync.store import addresses, contact_reads
from cc_sync.cc_sync.targets import TARGETS
from cc_sync.sync.engine import stored_state

CONTACT_VIEW_FIELDS = (
	"unsubscribed",
	CONTACT_CC_ID,
	CONTACT_CC_PERMISSION,
	CONTACT_CC_DELETED,
	CONTACT_OPTED_OUT_AT,
	CONTACT_OPTOUT_CC_CLOCK,
	CONTACT_LAST_SYNCED,
	"full_name",
)


@frappe.whitelist()
def record_status(doctype: str, name: str) -> dict[str, Any]:
	"""CC status, permission, opt-out date and source, CC lists and last sync of one Contact or pushed
	record (a Lead, a CRM Lead)."""
	target = TARGETS.get(doctype)
	if doctype != CONTACT and (target is None or not target.form_script):
		frappe.throw(frappe._("Only Contacts and pushed records have a Constant Contact status"))
	doc = frappe.get_doc(doctype, name)
	doc.check_permission("read")
	emails = _emails(doc, target.email_field if target else "email_id")
	contact = doc.name if doctype == CONTACT else _contact_for(emails)
	row = frappe.db.get_value(CONTACT, contact, CONTACT_VIEW_FIELDS, as_dict=True) if contact else None
	row = row or frappe._dict()
	cc_id = row.get(CONTACT_CC_ID) or (doc.get(LEAD_CC_ID) if target else None)
	unsubscribed = bool(doc.get("unsubscribed") or row.get("unsubscribed"))
	optout = _optout(row, emails) if unsubscribed else (None, None)
	state = stored_state(cc_id, row.get(CONTACT_CC_PERMISSION), bool(row.get(CONTACT_CC_DELETED)))
	colour, headline = _headline(state, unsubscribed, *optout)
	view: dict[str, Any] = {
		"state": state,
		# Where the person stands, said once in words, and its colour; the details follow it.
		"headline": headline,
		"colour": colour,
		# CC's permission in words, only while CC holds the person (a deleted contact has none to speak of).
		"permission": permission_words(row.get(CONTACT_CC_PERMISSION))
		if cc_id and state != "deleted"
		else None,
		"permission_to_send": row.get(CONTACT_CC_PERMISSION),
		"cc_contact_id": cc_id,
		"contact": contact,
		# The Contact's name as a person reads it (its document name can be a hash).
		"contact_name": row.get("full_name") or contact,
		"unsubscribed": unsubscribed,
		"opted_out_at": optout[1],
		"optout_source": optout[0],
		"last_synced": row.get(CONTACT_LAST_SYNCED),
		"lists": _lists(emails),
	}
	if target is not None:
		view["push_status"] = doc.get(LEAD_PUSH_STATUS)
		view["pushed_at"] = doc.get(LEAD_PUSHED_AT)
		view["push_error"] = doc.get(LEAD_PUSH_ERROR)
	return {k: (str(v) if hasattr(v, "isoformat") else v) for k, v in view.items()}


# CC's permission_to_send as a person reads it.
_PERMISSION_WORDS = {
	"explicit": "Explicit: the person opted in",
	"implicit": "Implicit: an existing business relationship",
	"pending_confirmation": "Waiting for the person to confirm",
	"not_set": "None recorded: not mailed",
	"temp_hold": "On hold: not mailed while held",
	"unsubscribed": "Unsubscribed",
}


def permission_words(permission: str | None) -> str | None:
	"""CC's permission_to_send as a person reads it ("Explicit: the person opted in"), translated; a value
	CC added since is shown as it is rather than hidden."""
	if not permission:
		return None
	words = _PERMISSION_WORDS.get(str(permission))
	return _(words) if words else str(permission)


# Who opted the person out (see `_optout`).
_OPTOUT_BY = {
	"cc": "in Constant Contact",
	"site_pending": "on this site (waiting to reach Constant Contact)",
	"site_sent": "on this site (unsubscribed in Constant Contact too)",
	"site_not_in_cc": "on this site (Constant Contact holds no contact to unsubscribe)",
	"site": "on this site",
}
# The other states, in words and colour; deleted and unsubscribed are said first whatever CC's permission.
_STATE_WORDS = {
	"subscribed": ("green", "Subscribed in Constant Contact"),
	"not in CC": ("orange", "Not in Constant Contact"),
	"pending confirmation": (
		"orange",
		"Waiting for the person to confirm in Constant Contact: not mailed yet",
	),
	"not set": ("orange", "No permission to send in Constant Contact: not mailed"),
	"on hold": ("orange", "On hold in Constant Contact (bounces or a review): not mailed while held"),
	"unknown": ("gray", "Unknown permission to send in Constant Contact: not counted as subscribed"),
}


def _headline(state: str, unsubscribed: bool, source: str | None, at: Any) -> tuple[str, str]:
	"""The person's state said once: deleted in CC, unsubscribed on <date> <by whom>, or CC's state."""
	if state == "deleted":
		return "gray", _("Deleted in Constant Contact: not mailed")
	if unsubscribed or state == "unsubscribed":
		by = _(_OPTOUT_BY.get(source or "cc", _OPTOUT_BY["site"]))
		if at:
			return "red", _("Unsubscribed on {0} {1}").format(frappe.utils.formatdate(at), by)
		return "red", _("Unsubscribed {0}").format(by)
	colour, words = _STATE_WORDS.get(state, ("gray", state))
	return colour, _(words)


def _emails(doc: Any, email_field: str = "email_id") -> list[str]:
	emails = addresses.wanted([doc.get(email_field), *(row.email_id for row in doc.get("email_ids") or [])])
	return sorted(emails)


def _contact_for(emails: list[str]) -> str | None:
	"""The Contact holding the Lead's address, by the rule the sync matches by."""
	return contact_reads.contact_for(emails)


def _optout(row: dict, emails: list[str]) -> tuple[str, Any]:
	"""Who opted the person out, and when: "cc" (CC's own opt-out date was applied here), or this site:
	"site_pending" while the opt-out waits to reach CC, "site_sent" once CC holds the person unsubscribed,
	"site_not_in_cc" when CC had no contact to unsubscribe, "site" when no record of it is left."""
	at = row.get(CONTACT_OPTED_OUT_AT)
	if row.get(CONTACT_OPTOUT_CC_CLOCK):
		return "cc", at
	found = addresses.rows_by_address(
		OPT_OUT, "email", emails, "status, cc_contact_id, opted_out_at", "coalesce(email_group, '') = ''"
	)
	sent = sorted(
		(row for rows in found.values() for row in rows),
		key=lambda r: str(r.opted_out_at or ""),
		reverse=True,
	)
	if not sent:
		return "site", at
	latest = sent[0]
	if latest.status == OptOutStatus.PENDING:
		source = "site_pending"
	else:
		source = "site_sent" if latest.cc_contact_id else "site_not_in_cc"
	return source, at or latest.opted_out_at


def _lists(emails: list[str]) -> list[dict[str, Any]]:
	"""The Email Groups mapped to CC lists that hold one of these addresses, with the CC list's name."""
	members = addresses.names_by_address(EMAIL_GROUP_MEMBER, "email", emails)
	if not members:
		return []
	rows = frappe.db.sql(
		f"""select m.cc_list, coalesce(l.list_name, m.list_name, m.cc_list) as list_name,
		egm.email_group, max(egm.unsubscribed) as unsubscribed
		from `tab{EMAIL_GROUP_MEMBER}` egm
		join `tab{LIST_MAPPING}` m on m.email_group = egm.email_group and m.enabled = 1
		left join `tab{LIST}` l on l.name = m.cc_list
		where egm.name in %(members)s
		group by m.cc_list, l.list_name, m.list_name, egm.email_group
		order by list_name""",
		{"members": members},
		as_dict=True,
	)
	return [dict(r, unsubscribed=bool(r.unsubscribed)) for r in rows]
