"""ERPNext v15's Lead, as far as cc_sync sees it: the full name and the title are derived the same way.

Test apparatus: installed only on sites without ERPNext (see cc_sync_testkit/hooks.py).
"""

from __future__ import annotations

import frappe
from frappe import _
from frappe.model.document import Document


class Lead(Document):
	def validate(self) -> None:
		self.set_full_name()
		self.set_lead_name()
		self.set_title()

	def set_full_name(self) -> None:
		if self.first_name:
			self.lead_name = " ".join(
				filter(None, [self.salutation, self.first_name, self.middle_name, self.last_name])
			)

	def set_lead_name(self) -> None:
		if self.lead_name:
			return
		if self.company_name:
			self.lead_name = self.company_name
		elif self.email_id:
			self.lead_name = self.email_id.strip().split("@")[0]
		else:
			frappe.throw(_("A Lead requires either a person's name or an organization's name"))

	def set_title(self) -> None:
		self.title = self.company_name or self.lead_name
