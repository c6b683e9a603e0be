"""ERPNext v15's Lead, as far as cc_sync meets it: its names, its Contact, its duplicate check, its deletion.

Test apparatus: installed only on sites without ERPNext (see cc_sync_testkit/hooks.py). Each behaviour
below is ERPNext v15's own (frappe/erpnext, branch version-15), named by file and function:

- `erpnext/crm/doctype/lead/lead.py`, `Lead.before_insert`: when CRM Settings' `auto_creation_of_contact`
  is ticked (on by default: `erpnext/crm/doctype/crm_settings/crm_settings.json`), a Contact is inserted
  from the Lead (`Lead.create_contact`: its name parts, organisation, job title as designation, the
  address as primary email, phones) before the Lead itself, firing every Contact hook; a lead known only
  by its full name gets name parts from it (`parse_full_name`).
- `Lead.after_insert` / `Lead.link_to_contact`: that Contact is linked to the Lead and saved again.
- `Lead.validate` / `Lead.check_email_id_is_unique`: a second Lead with the same address is refused with
  `frappe.DuplicateEntryError`, unless CRM Settings' `allow_lead_duplication_based_on_emails` is ticked;
  the Contact `before_insert` made is then left to the caller's rollback, as on ERPNext.
- `Lead.validate_email_id`: an invalid address fails validation (`validate_email_address(throw=True)`).
- `Lead.on_trash`: `frappe.contacts.address_and_contact.delete_contact_and_address` deletes each Contact
  and Address linked to this Lead alone, and unlinks those linked elsewhere too.
- `lead.json`: `source` is a Link to Lead Source; `status` offers "Do Not Contact".

Left out, as cc_sync never meets them: `Lead.validate_email_id` also sets `image` from Gravatar
(`frappe.utils.has_gravatar`, an HTTP request to gravatar.com that Frappe itself skips while importing,
installing or testing, and this machine cannot make); `set_status` (StatusUpdater's Opportunity and
Quotation statuses), Prospects, Issues and calendar events, none of which touch contacts or consent.
"""

from __future__ import annotations

import frappe
from frappe import _
from frappe.contacts.address_and_contact import delete_contact_and_address
from frappe.model.document import Document
from frappe.utils import comma_and, get_link_to_form, validate_email_address

CRM_SETTINGS = "CRM Settings"


class Lead(Document):
	def before_insert(self) -> None:
		self.contact_doc = None
		if frappe.db.get_single_value(CRM_SETTINGS, "auto_creation_of_contact"):
			self.contact_doc = self.create_contact()
		# leads created by email inbox only have the full name set
		if self.lead_name and not any([self.first_name, self.middle_name, self.last_name]):
			self.first_name, self.middle_name, self.last_name = parse_full_name(self.lead_name)

	def after_insert(self) -> None:
		self.link_to_contact()

	def validate(self) -> None:
		self.set_full_name()
		self.set_lead_name()
		self.set_title()
		self.check_email_id_is_unique()
		self.validate_email_id()

	def on_trash(self) -> None:
		delete_contact_and_address(self.doctype, self.name)

	def set_full_name(self) -> None:
		if self.first_name:
			self.lead_name = " ".join(
				filter(None, [self.salutation, self.first_name, self.middle_name, self.last_name])
			)

	def set_lead_name(self) -> None:
		if self.lead_name:
			return
		if not self.company_name and not self.email_id and not self.flags.ignore_mandatory:
			frappe.throw(_("A Lead requires either a person's name or an organization's name"))
		elif self.company_name:
			self.lead_name = self.company_name
		else:
			self.lead_name = self.email_id.split("@")[0]

	def set_title(self) -> None:
		self.title = self.company_name or self.lead_name

	def check_email_id_is_unique(self) -> None:
		if not self.email_id:
			return
		if frappe.db.get_single_value(CRM_SETTINGS, "allow_lead_duplication_based_on_emails"):
			return
		duplicates = frappe.get_all("Lead", filters={"email_id": self.email_id, "name": ["!=", self.name]})
		if duplicates:
			links = [frappe.bold(get_link_to_form("Lead", lead.name)) for lead in duplicates]
			frappe.throw(
				_("Email Address must be unique, it is already used in {0}").format(comma_and(links)),
				frappe.DuplicateEntryError,
			)

	def validate_email_id(self) -> None:
		if not self.email_id:
			return
		if not self.flags.ignore_email_validation:
			validate_email_address(self.email_id, throw=True)
		if self.email_id == self.lead_owner:
			frappe.throw(_("Lead Owner cannot be same as the Lead Email Address"))

	def create_contact(self):
		if not self.lead_name:
			self.set_full_name()
			self.set_lead_name()
		contact = frappe.new_doc("Contact")
		contact.update(
			{
				"first_name": self.first_name or self.lead_name,
				"last_name": self.last_name,
				"salutation": self.salutation,
				"gender": self.gender,
				"designation": self.job_title,
				"company_name": self.company_name,
			}
		)
		if self.email_id:
			contact.append("email_ids", {"email_id": self.email_id, "is_primary": 1})
		if self.phone:
			contact.append("phone_nos", {"phone": self.phone, "is_primary_phone": 1})
		if self.mobile_no:
			contact.append("phone_nos", {"phone": self.mobile_no, "is_primary_mobile_no": 1})
		contact.insert(ignore_permissions=True)
		contact.reload()  # load changes by hooks on contact
		return contact

	def link_to_contact(self) -> None:
		if self.contact_doc:
			self.contact_doc.append(
				"links", {"link_doctype": "Lead", "link_name": self.name, "link_title": self.lead_name}
			)
			self.contact_doc.save()


def parse_full_name(full_name: str) -> tuple[str, str | None, str | None]:
	"""ERPNext v15's `erpnext/selling/doctype/customer/customer.py`, `parse_full_name`."""
	names = full_name.split()
	first_name, middle_name, last_name = names[0], None, None
	if len(names) >= 2:
		last_name = names[-1]
	if len(names) > 2:
		middle_name = " ".join(names[1:-1])
	return first_name, middle_name, last_name
