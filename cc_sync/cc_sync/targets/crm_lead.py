"""Frappe CRM's CRM Lead as a push target.

Its address is `email` (not `email_id`), its organisation `organization`; it has no opt-out field of its
own: consent lives on its Contact (`unsubscribed`) and in Email Unsubscribe, which the consent reads
already cover for every address. A lead converted to a CRM Deal keeps its Contact, which holds the CC id.
"""

from __future__ import annotations

from cc_sync.cc_sync.targets.base import PushTarget

DOCTYPE = "CRM Lead"
EVENTS = "cc_sync.cc_sync.doc_events"

TARGET = PushTarget(
	doctype=DOCTYPE,
	email_field="email",
	contact_fields={"designation": "job_title", "company_name": "organization"},
	full_name_field="lead_name",
	doc_events={
		"after_insert": f"{EVENTS}.record_on_change",
		"on_update": f"{EVENTS}.record_on_change",
	},
	form_script="public/js/crm_lead.js",
	label="CRM Lead (Frappe CRM)",
)
