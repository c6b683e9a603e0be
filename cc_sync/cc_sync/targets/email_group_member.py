"""Frappe's Email Group Member as a push target: newsletter sign-ups on a plain Frappe site.

A member row goes to the CC lists mapped (push or both) to its own Email Group, and to no other; a row
unsubscribed on the site is never pushed (it reaches CC as a leave of those lists, as every group leave
does). Its address is `email`; it carries no name.
"""

from __future__ import annotations

from cc_sync.cc_sync.constants import EMAIL_GROUP_MEMBER
from cc_sync.cc_sync.targets.base import PushTarget

DOCTYPE = EMAIL_GROUP_MEMBER
EVENTS = "cc_sync.cc_sync.doc_events"

TARGET = PushTarget(
	doctype=DOCTYPE,
	email_field="email",
	never_pushed=(("unsubscribed", "=", "0"),),
	group_field="email_group",
	doc_events={
		"before_insert": f"{EVENTS}.email_group_member_before_insert",
		"on_update": f"{EVENTS}.email_group_member_on_update",
	},
	label="Email Group Member (newsletter sign-ups)",
)
