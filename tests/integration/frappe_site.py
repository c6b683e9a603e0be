"""Site-side helpers for the tier 2 tests: what users do on the site, and cleaning up after them.

Imported only once a site is connected (never at collection), because it imports frappe.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import frappe

from cc_sync.cc_sync import install
from cc_sync.cc_sync.constants import (
	CAMPAIGN,
	CONTACT,
	EMAIL_GROUP,
	EMAIL_GROUP_MEMBER,
	EMAIL_UNSUBSCRIBE,
	ENGAGEMENT,
	IMPORT,
	LEAD,
	LIST_MAPPING,
	OPT_OUT,
	SETTINGS,
	SETTINGS_DELETED_COUNT,
	WATERMARK_FIELD,
)
from cc_sync.cc_sync.store import FrappeStore, record_local_optout
from cc_sync.sync.matching import normalise_email

# Every address a tier 2 test creates ends in one of these; cleanup removes whatever uses them.
TEST_DOMAINS = ("example.com", "tier2.test")
WATERMARKS = ("changes", "optouts", "deletes", "reconcile", "push")


STANDIN_APP = "cc_sync_testkit"


def ensure_test_setup() -> str:
	"""The Lead the tests push: ERPNext's own, or where ERPNext is absent the testkit's stand-in.

	The stand-in is a standard DocType with ERPNext v15's Lead field names, shipped as a Frappe app in
	the test apparatus (cc_sync_testkit, never in what a site installs) and installed by `dev/site` on
	its sites; being standard, its form loads cc_sync's Lead form script as ERPNext's Lead does (a custom
	DocType would not). Then the app's custom fields, as after_migrate puts them. Returns which Lead the
	tests use.
	"""
	installed = frappe.get_installed_apps()
	if "erpnext" in installed:
		lead = "ERPNext's Lead"
	elif STANDIN_APP in installed:
		lead = (
			"the stand-in Lead of cc_sync_testkit, with ERPNext v15's field names (ERPNext is not installed)"
		)
	else:
		raise RuntimeError(
			"tier 2 needs a Lead DocType: install ERPNext, or the stand-in "
			f"(add {STANDIN_APP} to sites/apps.txt, then bench --site SITE install-app {STANDIN_APP}; "
			"dev/site does both)"
		)
	install.setup()
	frappe.db.commit()
	return lead


# Rows a test may create, by DocType; whatever a test adds to these is removed after it, by name.
SYNC_STATE = "sync_state"
TRACKED = (
	CONTACT,
	LEAD,
	EMAIL_GROUP_MEMBER,
	EMAIL_UNSUBSCRIBE,
	OPT_OUT,
	IMPORT,
	EMAIL_GROUP,
	ENGAGEMENT,
	CAMPAIGN,
	# Frappe CRM's, where it is installed (dev/site installs it on the test site).
	"CRM Lead",
	"CRM Deal",
	"CRM Organization",
)
# Frappe CRM's records that carry an address, with their child tables.
CRM_RECORDS = {
	"CRM Lead": ("CRM Status Change Log", "CRM Products", "CRM Rolling Response Time"),
	"CRM Deal": ("CRM Contacts", "CRM Status Change Log", "CRM Products", "CRM Rolling Response Time"),
}


@dataclass
class SiteState:
	watermarks: dict[str, Any] = field(default_factory=dict)
	rows: dict[str, set[str]] = field(default_factory=dict)
	# The settings' list mappings, put back after a test that changed them.
	mappings: list[dict[str, Any]] = field(default_factory=list)


def begin_test() -> SiteState:
	frappe.db.rollback()
	purge()
	state = SiteState(rows={doctype: _names(doctype) for doctype in TRACKED if _exists(doctype)})
	state.mappings = _mapping_rows()
	for stream in WATERMARKS:
		fieldname = WATERMARK_FIELD[stream]
		value = frappe.db.get_single_value(SETTINGS, fieldname, cache=False)
		state.watermarks[fieldname] = value if value and value.year > 1 else None
		frappe.db.set_single_value(SETTINGS, fieldname, None, update_modified=False)
	# The streams' own state (the opt-out self-check) starts empty too, and is put back afterwards.
	state.watermarks[SYNC_STATE] = frappe.db.get_single_value(SETTINGS, SYNC_STATE, cache=False)
	frappe.db.set_single_value(SETTINGS, SYNC_STATE, None, update_modified=False)
	# And the deleted count a deletes run keeps (0 reads as never counted).
	state.watermarks[SETTINGS_DELETED_COUNT] = frappe.db.get_single_value(
		SETTINGS, SETTINGS_DELETED_COUNT, cache=False
	)
	frappe.db.set_single_value(SETTINGS, SETTINGS_DELETED_COUNT, 0, update_modified=False)
	frappe.db.commit()
	return state


def end_test(state: SiteState) -> None:
	frappe.db.rollback()
	purge()
	# Exactly what the test made, whatever its address looks like (padded, upper case, none at all).
	for doctype, before in state.rows.items():
		made = _names(doctype) - before
		if not made:
			continue
		if doctype == CONTACT:
			_delete_contacts(made)
		elif doctype == EMAIL_GROUP:
			frappe.db.delete(EMAIL_GROUP_MEMBER, {"email_group": ["in", list(made)]})
			frappe.db.delete(EMAIL_GROUP, {"name": ["in", list(made)]})
		elif doctype in CRM_RECORDS:
			_delete_crm_records(doctype, made)
		else:
			frappe.db.delete(doctype, {"name": ["in", list(made)]})
	frappe.db.set_single_value(SETTINGS, state.watermarks, update_modified=False)
	if _mapping_rows() != state.mappings:
		_write_mapping_rows(state.mappings)
	frappe.db.commit()


def _mapping_rows() -> list[dict[str, Any]]:
	return frappe.db.sql(
		f"select * from `tab{LIST_MAPPING}` where parent = %s and parenttype = %s order by idx",
		(SETTINGS, SETTINGS),
		as_dict=True,
	)


def _write_mapping_rows(rows: list[dict[str, Any]]) -> None:
	frappe.db.delete(LIST_MAPPING, {"parent": SETTINGS, "parenttype": SETTINGS})
	for row in rows:
		columns = list(row)
		frappe.db.sql(
			f"insert into `tab{LIST_MAPPING}` ({', '.join(f'`{c}`' for c in columns)}) "
			f"values ({', '.join(['%s'] * len(columns))})",
			[row[c] for c in columns],
		)


def _exists(doctype: str) -> bool:
	return bool(frappe.db.exists("DocType", doctype))


def _names(doctype: str) -> set[str]:
	return set(frappe.db.sql_list(f"select name from `tab{doctype}`"))


def _delete_contacts(names: set[str] | list[str]) -> None:
	for table in ("Contact Email", "Contact Phone", "Dynamic Link"):
		frappe.db.sql(
			f"delete from `tab{table}` where parenttype = 'Contact' and parent in %(names)s",
			{"names": tuple(names)},
		)
	frappe.db.sql("delete from `tabContact` where name in %(names)s", {"names": tuple(names)})


def _delete_crm_records(doctype: str, names: set[str] | list[str]) -> None:
	if not names:
		return
	for child in CRM_RECORDS[doctype]:
		if _exists(child):
			frappe.db.delete(child, {"parenttype": doctype, "parent": ["in", list(names)]})
	frappe.db.delete(doctype, {"name": ["in", list(names)]})


def purge() -> None:
	"""Delete every Contact, Lead, member row, opt-out and unsubscribe of the test domains.

	Addresses are compared as a person reads them (trimmed, any case), so a row a test stored with
	a padded or upper-case address, or one an earlier run left behind when it died, goes too.
	"""
	for domain in TEST_DOMAINS:
		pattern = f"%@{domain}"
		contacts = frappe.db.sql_list(
			"""select distinct parent from `tabContact Email`
			where parenttype = 'Contact' and lower(trim(email_id)) like %s
			union select name from `tabContact` where lower(trim(email_id)) like %s""",
			(pattern, pattern),
		)
		if contacts:
			_delete_contacts(contacts)
		frappe.db.sql("delete from `tabEmail Group Member` where lower(trim(email)) like %s", pattern)
		frappe.db.sql("delete from `tabEmail Unsubscribe` where lower(trim(email)) like %s", pattern)
		frappe.db.sql(f"delete from `tab{OPT_OUT}` where lower(trim(email)) like %s", pattern)
		frappe.db.sql(f"delete from `tab{ENGAGEMENT}` where email like %s", pattern)
		frappe.db.sql(f"delete from `tab{LEAD}` where lower(trim(email_id)) like %s", pattern)
		for doctype in CRM_RECORDS:
			if _exists(doctype):
				_delete_crm_records(
					doctype,
					frappe.db.sql_list(
						f"select name from `tab{doctype}` where lower(trim(email)) like %s", pattern
					),
				)
	# Leads the tests create without a (valid) address, and the Contacts the Lead made of them.
	leads = frappe.db.sql_list(f"select name from `tab{LEAD}` where lead_name like 'tier2 %%'")
	if leads:
		made = frappe.db.sql_list(
			"""select distinct parent from `tabDynamic Link` where parenttype = 'Contact'
			and link_doctype = %(lead)s and link_name in %(names)s""",
			{"lead": LEAD, "names": tuple(leads)},
		)
		if made:
			_delete_contacts(made)
	frappe.db.sql(f"delete from `tab{LEAD}` where lead_name like 'tier2 %%'")
	frappe.db.commit()


class FrappeSite:
	"""The store contract's `site` helper on a real site: every event goes through Frappe's own API."""

	def add_contact(self, email: str | None, *, unsubscribed: bool = False, **fields: Any) -> str:
		local = (email or "someone").split("@", 1)[0]
		doc = frappe.get_doc(
			{
				"doctype": CONTACT,
				"first_name": fields.pop("first_name", None) or local,
				**fields,
				"email_ids": [{"email_id": email, "is_primary": 1}] if email else [],
			}
		)
		doc.insert(ignore_permissions=True)
		if unsubscribed:
			record_local_optout(email)
		frappe.db.commit()
		return doc.name

	def add_lead(self, email: str | None, *, unsubscribed: bool = False, **fields: Any) -> str:
		name = " ".join(filter(None, [fields.get("first_name"), fields.get("last_name")]))
		doc = frappe.get_doc(
			{
				"doctype": LEAD,
				"lead_name": name or f"tier2 {email}",
				"email_id": email,
				"unsubscribed": 1 if unsubscribed else 0,
				**fields,
			}
		)
		doc.insert(ignore_permissions=True)
		if unsubscribed:
			record_local_optout(email)
		frappe.db.commit()
		return doc.name

	def edit_lead(self, key: str, **fields: Any) -> None:
		doc = frappe.get_doc(LEAD, key)
		doc.update(fields)
		doc.save(ignore_permissions=True)
		frappe.db.commit()

	def unsubscribe_locally(self, email: str, by_person: bool = False) -> None:
		record_local_optout(email, by_person=by_person)
		frappe.db.commit()

	def global_unsubscribe(self, email: str, *, unseen: bool = False) -> None:
		"""The real Frappe path: an unsubscribe link writes a global Email Unsubscribe.

		`unseen` keeps the app's doc_event out of it, as for a row written before the app was installed.
		"""
		doc = frappe.get_doc({"doctype": EMAIL_UNSUBSCRIBE, "email": email, "global_unsubscribe": 1})
		if unseen:
			doc.flags.from_cc_sync = True
		doc.insert(ignore_permissions=True)
		frappe.db.commit()

	def unsubscribe_in_desk(self, contact: str) -> None:
		"""A user ticks Unsubscribed on the Contact form and saves."""
		doc = frappe.get_doc(CONTACT, contact)
		doc.unsubscribed = 1
		doc.save(ignore_permissions=True)
		frappe.db.commit()

	def member_rows(self, email: str) -> dict[str, bool]:
		"""The address's rows exactly (the column's collation takes rené@ for rene@)."""
		rows = frappe.get_all(
			EMAIL_GROUP_MEMBER, filters={"email": email}, fields=["email", "email_group", "unsubscribed"]
		)
		return {r.email_group: bool(r.unsubscribed) for r in rows if _same(r.email, email)}

	def add_member(self, group: str, email: str) -> None:
		self.make_group(group)
		frappe.get_doc({"doctype": EMAIL_GROUP_MEMBER, "email_group": group, "email": email}).insert(
			ignore_permissions=True
		)
		frappe.db.commit()

	def leave_group(self, group: str, email: str) -> None:
		"""The person unsubscribes from one Email Group (its member row, saved as the desk does)."""
		rows = frappe.get_all(EMAIL_GROUP_MEMBER, {"email_group": group, "email": email}, ["name", "email"])
		doc = frappe.get_doc(EMAIL_GROUP_MEMBER, next(r.name for r in rows if _same(r.email, email)))
		doc.unsubscribed = 1
		doc.save(ignore_permissions=True)
		frappe.db.commit()

	def email_unsubscribe(self, email: str, global_unsubscribe: bool = True) -> None:
		"""An unsubscribe link: a global Email Unsubscribe, or one for a single document."""
		values = {
			"doctype": EMAIL_UNSUBSCRIBE,
			"email": email,
			"global_unsubscribe": 1 if global_unsubscribe else 0,
		}
		if not global_unsubscribe:
			values.update(reference_doctype="User", reference_name="Administrator")
		frappe.get_doc(values).insert(ignore_permissions=True)
		frappe.db.commit()

	def map_lists(self, mappings: Any) -> None:
		"""The settings' List mappings become these (each a `ListMapping`), rows as the form saves them;
		the test's end puts the site's own back."""
		now = frappe.utils.now_datetime()
		_write_mapping_rows(
			[
				{
					"name": frappe.generate_hash(length=10),
					"creation": now,
					"modified": now,
					"owner": "Administrator",
					"modified_by": "Administrator",
					"docstatus": 0,
					"idx": idx,
					"parent": SETTINGS,
					"parentfield": "list_mappings",
					"parenttype": SETTINGS,
					"cc_list": m.cc_list_id,
					"email_group": m.group,
					"direction": m.direction,
					"enabled": 1 if m.enabled else 0,
				}
				for idx, m in enumerate(mappings, 1)
			]
		)
		for m in mappings:
			self.make_group(m.group)
		frappe.db.commit()

	def make_group(self, name: str) -> None:
		if not frappe.db.exists(EMAIL_GROUP, name):
			frappe.get_doc({"doctype": EMAIL_GROUP, "title": name}).insert(ignore_permissions=True)
			frappe.db.commit()

	def contacts(self, email: str) -> list[frappe._dict]:
		rows = frappe.db.sql(
			"select parent, email_id from `tabContact Email` where parenttype = 'Contact' and email_id = %s",
			email,
		)
		names = {parent for parent, address in rows if _same(address, email)}
		return [frappe.get_doc(CONTACT, n) for n in sorted(names)]

	def lead(self, key: str):
		return frappe.get_doc(LEAD, key)


def _same(stored: str | None, email: str | None) -> bool:
	return normalise_email(stored) == normalise_email(email)


def make_store(**kwargs: Any) -> FrappeStore:
	return FrappeStore(**kwargs)
