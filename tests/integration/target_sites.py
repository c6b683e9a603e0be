"""What the site's people do with each push target's records, through Frappe's own documents: the store
contract's and the property worlds' records of ERPNext's Lead (the stand-in where ERPNext is absent),
Frappe CRM's CRM Lead and newsletter sign-ups (Email Group Member).

Imported only once a site is connected, because it imports frappe.
"""

from __future__ import annotations

from typing import Any

import frappe

from cc_sync.cc_sync.constants import EMAIL_GROUP_MEMBER, EMAIL_UNSUBSCRIBE, LEAD
from cc_sync.cc_sync.store.push import record_key
from cc_sync.sync.matching import normalise_email
from tests.integration.frappe_site import FrappeSite, make_store

CRM_LEAD = "CRM Lead"
# Where each target holds the address.
EMAIL_FIELD = {LEAD: "email_id", CRM_LEAD: "email", EMAIL_GROUP_MEMBER: "email"}


def target_store(target: str, **kwargs: Any):
	"""The Frappe store pushing this target alone (to every list mapped for push; a sign-up to its own
	group's)."""
	return make_store(push_targets=[(target, None)], **kwargs)


def records(target: str, email: str) -> list[str]:
	"""The target's records of exactly this address, oldest first (the collation takes rené@ for rene@)."""
	field = EMAIL_FIELD[target]
	rows = frappe.get_all(target, filters={field: email}, fields=["name", field], order_by="creation")
	return [r.name for r in rows if normalise_email(r.get(field)) == normalise_email(email)]


class TargetSite(FrappeSite):
	"""`FrappeSite`, and one push target's records: made, edited and opted out as the site's people do."""

	def __init__(self, target: str = LEAD, group: str = "Signups") -> None:
		self.target = target
		# The group a sign-up joins.
		self.group = group

	def add_record(self, email: str, **fields: Any) -> str:
		"""A new record of the target (a sign-up joins `group`); its key as the store names it."""
		if self.target == LEAD:
			return self.add_lead(email, **fields)
		if self.target == EMAIL_GROUP_MEMBER:
			self.add_member(self.group, email)
			[name] = [
				r.name
				for r in frappe.get_all(
					EMAIL_GROUP_MEMBER, {"email_group": self.group, "email": email}, ["name", "email"]
				)
				if normalise_email(r.email) == normalise_email(email)
			]
			return record_key(EMAIL_GROUP_MEMBER, name)
		doc = frappe.get_doc(
			{
				"doctype": CRM_LEAD,
				"first_name": fields.get("first_name") or email.split("@", 1)[0],
				"last_name": fields.get("last_name"),
				"organization": fields.get("company_name"),
				"email": email,
			}
		)
		doc.insert(ignore_permissions=True)
		frappe.db.commit()
		return record_key(CRM_LEAD, doc.name)

	def edit_record(self, key: str, **fields: Any) -> None:
		"""A person edits the record and saves it (a sign-up, which has no name or company, is saved
		again)."""
		if self.target == LEAD:
			self.edit_lead(key, **fields)
			return
		doc = frappe.get_doc(self.target, key.split("::", 1)[1])
		if self.target == CRM_LEAD:
			# The adapter's names: CRM Lead's organisation is Contact's company name.
			names = {"company_name": "organization", "designation": "job_title"}
			doc.update({names.get(f, f): v for f, v in fields.items()})
		doc.save(ignore_permissions=True)
		frappe.db.commit()

	def own_optout(self, email: str) -> None:
		"""The record's own opt-out: a Lead ticked Unsubscribed, a CRM Lead's unsubscribe link (an Email
		Unsubscribe for it), a sign-up's leave of its group."""
		if self.target == EMAIL_GROUP_MEMBER:
			self.leave_group(self.group, email)
			return
		[name, *_] = records(self.target, email)
		if self.target == LEAD:
			doc = frappe.get_doc(LEAD, name)
			doc.unsubscribed = 1
			doc.save(ignore_permissions=True)
		else:
			frappe.get_doc(
				{
					"doctype": EMAIL_UNSUBSCRIBE,
					"email": email,
					"global_unsubscribe": 0,
					"reference_doctype": CRM_LEAD,
					"reference_name": name,
				}
			).insert(ignore_permissions=True)
		frappe.db.commit()
