"""Custom fields and indexes the sync needs on host DocTypes, kept in place on install and every migrate.

Contact carries the CC id and the last CC state applied (so an unchanged contact costs no write); Lead,
when ERPNext provides it, carries the push bookkeeping. The indexes serve the batched lookups by CC id
and by email that every pulled page makes.
"""

from __future__ import annotations

import frappe
from frappe.custom.doctype.custom_field.custom_field import create_custom_fields

from cc_sync.cc_sync import indexes
from cc_sync.cc_sync.constants import (
	BOUNCE_REASON,
	BOUNCES,
	CAMPAIGNS_CLICKED,
	CAMPAIGNS_OPENED,
	CONTACT,
	CONTACT_CC_DELETED,
	CONTACT_CC_EMAIL_UPDATED_AT,
	CONTACT_CC_ID,
	CONTACT_CC_PERMISSION,
	CONTACT_CC_UPDATED_AT,
	CONTACT_LAST_SYNCED,
	CONTACT_OPTED_OUT_AT,
	CONTACT_OPTOUT_CC_CLOCK,
	ENGAGEMENT_HTML,
	HARD_BOUNCED,
	LAST_CLICKED,
	LAST_OPENED,
	LEAD,
	LEAD_CC_ID,
	LEAD_PUSH_ERROR,
	LEAD_PUSH_STATUS,
	LEAD_PUSHED_AT,
	PUSH_STATUSES,
	SETTINGS,
	STATUS_HTML,
)
from cc_sync.cc_sync.targets import TARGETS
from cc_sync.sync.streams import SCHEDULED_JOBS

SECTION = "cc_sync_section"
COLUMN = "cc_sync_column"


# Both forms get a "Constant Contact" section: on Contact after Unsubscribed's section, on Lead at the end
# of the form's first tab (its Unsubscribed sits under Additional Information). The section shows the
# status block the form script draws, which says the person's state in words and then the details; the
# stored fields behind it are hidden (they still filter lists and reports).
SECTION_FIELD = {
	"fieldname": SECTION,
	"label": "Constant Contact",
	"fieldtype": "Section Break",
	"insert_after": "unsubscribed",
	"collapsible": 0,
}
# First in the section: the status the form script draws from what the last sync stored.
STATUS_FIELD = {
	"fieldname": STATUS_HTML,
	"label": "Constant Contact Status",
	"fieldtype": "HTML",
	"insert_after": SECTION,
}


def contact_fields() -> list[dict]:
	ro = {"read_only": 1, "no_copy": 1}
	return [
		dict(SECTION_FIELD),
		dict(STATUS_FIELD),
		{
			"fieldname": CONTACT_CC_ID,
			"label": "CC Contact ID",
			"fieldtype": "Data",
			"insert_after": STATUS_HTML,
			# The unique index serves every lookup; a second, plain index on the same column would cost
			# a random page read and write per new contact once the table outgrows the buffer pool.
			"unique": 1,
			"search_index": 0,
			**ro,
		},
		{
			"fieldname": CONTACT_CC_PERMISSION,
			"label": "CC Permission to Send",
			"fieldtype": "Data",
			"insert_after": CONTACT_CC_ID,
			"in_standard_filter": 1,
			**ro,
		},
		{
			"fieldname": CONTACT_OPTED_OUT_AT,
			"label": "Opted Out At",
			"fieldtype": "Datetime",
			"insert_after": CONTACT_CC_PERMISSION,
			**ro,
		},
		{
			"fieldname": CONTACT_OPTOUT_CC_CLOCK,
			"label": "Opt-out Dated by CC",
			"fieldtype": "Check",
			"default": "0",
			"insert_after": CONTACT_OPTED_OUT_AT,
			"hidden": 1,
			**ro,
		},
		{"fieldname": COLUMN, "fieldtype": "Column Break", "insert_after": CONTACT_OPTOUT_CC_CLOCK},
		{
			"fieldname": CONTACT_LAST_SYNCED,
			"label": "Last Synced",
			"fieldtype": "Datetime",
			"insert_after": COLUMN,
			**ro,
		},
		{
			"fieldname": CONTACT_CC_DELETED,
			"label": "Deleted in CC",
			"fieldtype": "Check",
			"default": "0",
			"insert_after": CONTACT_LAST_SYNCED,
			"in_standard_filter": 1,
			# Every deletes run counts the contacts held as deleted: with this index that count reads only
			# their index entries, not the whole table. A new contact's entry (0, its time-ordered name)
			# lands at the end of the index, so it costs no random page.
			"search_index": 1,
			**ro,
		},
		{
			"fieldname": CONTACT_CC_UPDATED_AT,
			"label": "CC Updated At",
			"fieldtype": "Datetime",
			"insert_after": CONTACT_CC_DELETED,
			"hidden": 1,
			**ro,
		},
		{
			"fieldname": CONTACT_CC_EMAIL_UPDATED_AT,
			"label": "CC Email Updated At",
			"fieldtype": "Datetime",
			"insert_after": CONTACT_CC_UPDATED_AT,
			"hidden": 1,
			**ro,
		},
	]


ENGAGEMENT_SECTION = "cc_engagement_section"
ENGAGEMENT_COLUMN = "cc_engagement_column"


def engagement_fields(after: str) -> list[dict]:
	"""Email engagement, on Contact and Lead alike: the timeline the form script draws, and the summary
	the engagement stream keeps (in bulk) for list filters and reports."""
	ro = {"read_only": 1, "no_copy": 1}
	return [
		{
			"fieldname": ENGAGEMENT_SECTION,
			"label": "Email Engagement",
			"fieldtype": "Section Break",
			"insert_after": after,
			"collapsible": 1,
		},
		{
			"fieldname": ENGAGEMENT_HTML,
			"label": "Engagement Timeline",
			"fieldtype": "HTML",
			"insert_after": ENGAGEMENT_SECTION,
		},
		{"fieldname": ENGAGEMENT_COLUMN, "fieldtype": "Column Break", "insert_after": ENGAGEMENT_HTML},
		{
			"fieldname": LAST_OPENED,
			"label": "Last Opened",
			"fieldtype": "Datetime",
			"insert_after": ENGAGEMENT_COLUMN,
			**ro,
		},
		{
			"fieldname": LAST_CLICKED,
			"label": "Last Clicked",
			"fieldtype": "Datetime",
			"insert_after": LAST_OPENED,
			**ro,
		},
		{
			"fieldname": CAMPAIGNS_OPENED,
			"label": "Campaigns Opened",
			"fieldtype": "Int",
			"default": "0",
			"insert_after": LAST_CLICKED,
			**ro,
		},
		{
			"fieldname": CAMPAIGNS_CLICKED,
			"label": "Campaigns Clicked",
			"fieldtype": "Int",
			"default": "0",
			"insert_after": CAMPAIGNS_OPENED,
			**ro,
		},
		{
			"fieldname": BOUNCES,
			"label": "Bounces",
			"fieldtype": "Int",
			"default": "0",
			"insert_after": CAMPAIGNS_CLICKED,
			**ro,
		},
		{
			"fieldname": HARD_BOUNCED,
			"label": "Hard-bounced",
			"fieldtype": "Check",
			"default": "0",
			"description": "CC reported the address as non-existent or suspended: it is not pushed again "
			"until the address changes",
			"insert_after": BOUNCES,
			"in_standard_filter": 1,
			# The list filter and the number card read it on large sites.
			"search_index": 1,
			**ro,
		},
		{
			"fieldname": BOUNCE_REASON,
			"label": "Bounce Reason",
			"fieldtype": "Data",
			"insert_after": HARD_BOUNCED,
			"depends_on": HARD_BOUNCED,
			**ro,
		},
	]


def push_fields() -> list[dict]:
	"""A push target's fields: the Constant Contact section with the CC id and the push's bookkeeping."""
	ro = {"read_only": 1, "no_copy": 1}
	return [
		dict(SECTION_FIELD),
		dict(STATUS_FIELD),
		{
			"fieldname": LEAD_CC_ID,
			"label": "CC Contact ID",
			"fieldtype": "Data",
			"insert_after": STATUS_HTML,
			"search_index": 1,
			**ro,
		},
		{
			"fieldname": LEAD_PUSH_STATUS,
			"label": "CC Push Status",
			"fieldtype": "Select",
			"options": "\n".join(PUSH_STATUSES),
			"insert_after": LEAD_CC_ID,
			"in_standard_filter": 1,
			**ro,
		},
		{"fieldname": COLUMN, "fieldtype": "Column Break", "insert_after": LEAD_PUSH_STATUS},
		{
			"fieldname": LEAD_PUSHED_AT,
			"label": "CC Pushed At",
			"fieldtype": "Datetime",
			"insert_after": COLUMN,
			**ro,
		},
		{
			"fieldname": LEAD_PUSH_ERROR,
			"label": "CC Push Error",
			"fieldtype": "Small Text",
			"insert_after": LEAD_PUSHED_AT,
			**ro,
		},
	]


def custom_fields() -> dict[str, list[dict]]:
	"""The fields for every host DocType present on this site: Contact, and each push target whose
	DocType exists here (Lead with ERPNext or a stand-in, CRM Lead with Frappe CRM, Email Group Member)
	its push fields, on the form's first tab; Contact and Lead their email engagement too."""
	fields = {CONTACT: contact_fields() + engagement_fields(CONTACT_CC_EMAIL_UPDATED_AT)}
	for target in TARGETS.values():
		if target.installs_push_fields and frappe.db.exists("DocType", target.doctype):
			fields[target.doctype] = push_fields()
	if LEAD in fields:
		fields[LEAD] += engagement_fields(LEAD_PUSH_ERROR)
	for doctype, rows in fields.items():
		anchor = SECTION_FIELD["insert_after"] if doctype == CONTACT else _first_field(doctype)
		rows[0]["insert_after"] = section_end(doctype, anchor)
		for row in rows[2:]:
			row["hidden"] = 1
	return fields


def _first_field(doctype: str) -> str:
	"""The first standard field of a form: its first tab's first section ends where the app's starts."""
	fields = [df.fieldname for df in frappe.get_meta(doctype).fields if not df.get("is_custom_field")]
	return fields[0] if fields else SECTION_FIELD["insert_after"]


def section_end(doctype: str, fieldname: str) -> str:
	"""The last standard field of the section holding `fieldname`: the app's section starts after all of
	it, so no field of the host's (ERPNext's Blog Subscriber after Unsubscribed on Lead) lands in it. A
	DocType without that field gets the section after its last field."""
	fields = [df for df in frappe.get_meta(doctype).fields if not df.get("is_custom_field")]
	names = [df.fieldname for df in fields]
	if fieldname not in names:
		return names[-1] if names else fieldname
	last = fieldname
	for df in fields[names.index(fieldname) + 1 :]:
		if df.fieldtype in ("Section Break", "Tab Break"):
			break
		last = df.fieldname
	return last


# Settings that must not read as 0 (off) on a site that has never stored them: fields added after
# the site was installed hold nothing until set. Each scheduled job's interval comes from the stream table.
SETTINGS_DEFAULTS = {
	**{job.interval_field: job.default_interval for job in SCHEDULED_JOBS},
	"export_threshold": 5000,
	"engagement_window_days": 90,
	"engagement_share_percent": 20,
}


def ensure_settings_defaults() -> None:
	"""Store the defaults of settings the site has never stored; a stored value (0 too) is kept."""
	for field, value in SETTINGS_DEFAULTS.items():
		stored = frappe.db.sql(
			"select value from `tabSingles` where doctype=%s and field=%s", (SETTINGS, field)
		)
		if not stored:
			frappe.db.set_single_value(SETTINGS, field, value, update_modified=False)
	# A site whose sync was turned on before the app noted when: counted from this migrate, so a stream
	# that never runs after it is still reported.
	enabled = frappe.db.get_single_value(SETTINGS, "enabled")
	if enabled and not frappe.db.sql(
		"select value from `tabSingles` where doctype=%s and field='enabled_since' and ifnull(value, '') != ''",
		SETTINGS,
	):
		frappe.db.set_single_value(
			SETTINGS, "enabled_since", frappe.utils.now_datetime(), update_modified=False
		)


def setup() -> None:
	"""Create or update the custom fields and indexes; safe to run any number of times."""
	ensure_settings_defaults()
	fields = custom_fields()
	create_custom_fields(fields, update=True)
	indexes.ensure_indexes(with_lead=LEAD in fields)


def after_install() -> None:
	from cc_sync.cc_sync.desk_setup import grant_marketer_reads

	setup()
	desk_setup()
	grant_marketer_reads()


def after_migrate() -> None:
	setup()
	desk_setup()


def after_app_install(app_name: str) -> None:
	"""An app installed after cc_sync (ERPNext) may bring Lead: its fields are added at once, not at the
	next migrate, so the first push finds them."""
	if app_name != "cc_sync" and any(frappe.db.exists("DocType", d) for d in TARGETS):
		from cc_sync.cc_sync.desk_setup import grant_marketer_reads

		setup()
		grant_marketer_reads()


def desk_setup() -> None:
	"""The workspace's status block and its link from Integrations (see desk_setup)."""
	from cc_sync.cc_sync import desk_setup as desk

	desk.setup()


def before_uninstall() -> None:
	"""Remove the custom fields (their columns stay, as Frappe keeps data until `bench trim-tables`) and
	give Email Group Member back Frappe's own unique index."""
	indexes.restore_frappe_member_index()
	for doctype, fields in custom_fields().items():
		for field in fields:
			name = frappe.db.get_value(
				"Custom Field", {"dt": doctype, "fieldname": field["fieldname"]}, "name"
			)
			if name:
				frappe.delete_doc("Custom Field", name, ignore_permissions=True, force=True)
		frappe.clear_cache(doctype=doctype)
