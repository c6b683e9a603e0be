"""ERPNext v15's Lead Source (erpnext/crm/doctype/lead_source/lead_source.py): a name and nothing else."""

from frappe.model.document import Document


class LeadSource(Document):
	pass
