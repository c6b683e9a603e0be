"""Push targets: the DocTypes whose records cc_sync pushes to Constant Contact, one adapter module each.

Adding a target is one module stating its `TARGET` (see `base.PushTarget`) and a line in `TARGETS`.
The settings offer the targets whose DocType exists on the site and refuse any other DocType.
"""

from __future__ import annotations

import frappe
from frappe import _

from cc_sync.cc_sync.targets import crm_lead, email_group_member, lead
from cc_sync.cc_sync.targets.base import PushTarget

TARGETS: dict[str, PushTarget] = {
	module.TARGET.doctype: module.TARGET for module in (lead, crm_lead, email_group_member)
}


def available() -> list[str]:
	"""The targets whose DocType exists on this site, in the table's order."""
	return [doctype for doctype in TARGETS if frappe.db.exists("DocType", doctype)]


def target_for(doctype: str) -> PushTarget:
	"""The target of a DocType, or a plain refusal naming what can be pushed."""
	target = TARGETS.get(doctype)
	if target is None or not frappe.db.exists("DocType", doctype):
		frappe.throw(
			_("{0} cannot be pushed to Constant Contact. Choose one of: {1}").format(
				_(doctype), ", ".join(_(d) for d in available()) or _("none on this site")
			),
			title=_("Push"),
		)
	return target
