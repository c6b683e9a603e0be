"""The part of ERPNext v15's CRM Settings (erpnext/crm/doctype/crm_settings) that its Lead reads."""

from frappe.model.document import Document


class CRMSettings(Document):
	pass
