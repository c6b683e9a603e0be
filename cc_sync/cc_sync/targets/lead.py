"""ERPNext's Lead as a push target: its address field, and its own opt-out signals.

A Lead opts its address out by its `unsubscribed` check, and by the status "Do Not Contact" unless the
settings say otherwise (`do_not_contact_is_optout`, on by default). A Lead with that status is never
pushed either way.
"""

from __future__ import annotations

from typing import Any

import frappe
from frappe.utils import cint

from cc_sync.cc_sync.constants import LEAD, SETTINGS
from cc_sync.cc_sync.targets.base import PushTarget

DOCTYPE = LEAD
EMAIL_FIELD = "email_id"
STATUS_FIELD = "status"
DO_NOT_CONTACT = "Do Not Contact"
SETTING_DO_NOT_CONTACT = "do_not_contact_is_optout"
EVENTS = "cc_sync.cc_sync.doc_events"

TARGET = PushTarget(
	doctype=DOCTYPE,
	email_field=EMAIL_FIELD,
	contact_fields={"designation": "job_title"},
	full_name_field="lead_name",
	optout_checks=("unsubscribed",),
	never_pushed=((STATUS_FIELD, "!=", DO_NOT_CONTACT),),
	doc_events={
		"validate": f"{EVENTS}.lead_validate",
		"after_insert": f"{EVENTS}.record_on_change",
		"on_update": f"{EVENTS}.record_on_change",
		"on_trash": f"{EVENTS}.lead_on_trash",
	},
	form_script="public/js/lead.js",
	label="Lead (ERPNext)",
)


def do_not_contact_opts_out() -> bool:
	"""The setting as stored, or its default (on) where the settings were never saved."""
	rows = frappe.db.sql(
		"select value from `tabSingles` where doctype = %s and field = %s", (SETTINGS, SETTING_DO_NOT_CONTACT)
	)
	return True if not rows else bool(cint(rows[0][0]))


def is_do_not_contact(doc: Any) -> bool:
	return doc.get(STATUS_FIELD) == DO_NOT_CONTACT


def opted_out_sql(alias: str = "") -> str:
	"""The SQL condition for a Lead row that opts its address out (the setting read now)."""
	prefix = f"{alias}." if alias else ""
	condition = f"{prefix}unsubscribed = 1"
	if do_not_contact_opts_out():
		condition = f"({condition} or {prefix}`{STATUS_FIELD}` = {frappe.db.escape(DO_NOT_CONTACT)})"
	return condition
