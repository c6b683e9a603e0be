"""What a Contact or Lead form shows of the person's email engagement: the timeline and why a bounce
stops the push. Read-only; the engagement stream (and Sync now) write what it reads."""

from __future__ import annotations

from typing import Any

import frappe

from cc_sync.cc_sync.constants import (
	BOUNCE_REASON,
	CAMPAIGN,
	CONTACT,
	ENGAGEMENT,
	HARD_BOUNCED,
	LEAD,
)
from cc_sync.cc_sync.record_status import _emails

TIMELINE_ROWS = 50


@frappe.whitelist(methods=["GET"])
def timeline(doctype: str, name: str) -> dict[str, Any]:
	"""The newest campaign events of the record's addresses (sent, opened, clicked which link, bounced
	with the reason in words, unsubscribed from which campaign), and the hard bounce, if any."""
	if doctype not in (CONTACT, LEAD):
		frappe.throw(frappe._("Only Contacts and Leads have an email engagement timeline"))
	doc = frappe.get_doc(doctype, name)
	doc.check_permission("read")
	emails = _emails(doc)
	rows = []
	if emails:
		rows = frappe.db.sql(
			f"""select e.kind, e.at, e.email, e.campaign, c.campaign_name, e.link_url, e.bounce_code,
				e.bounce_reason, e.hard_bounce, e.opt_out_reason
			from `tab{ENGAGEMENT}` e left join `tab{CAMPAIGN}` c on c.name = e.campaign
			where e.email in %(emails)s order by e.at desc limit {TIMELINE_ROWS}""",
			{"emails": tuple(emails)},
			as_dict=True,
		)
	return {
		"rows": [{k: (str(v) if hasattr(v, "isoformat") else v) for k, v in r.items()} for r in rows],
		"hard_bounced": bool(doc.get(HARD_BOUNCED)),
		"bounce_reason": doc.get(BOUNCE_REASON),
	}
