"""Campaigns and the people's engagement with them, written in bulk (no document is saved per row).

An event is named by a hash of what makes it the same event (`EngagementEvent.key`), so a report page
read twice writes each row once. After each page, the engagement summary of every Contact and Lead of
the page's addresses is brought up to date in one statement each; `modified` is not moved (nothing a
person edits changed, and a moved Lead would be pushed again).
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence

import frappe

from cc_sync.cc_sync.constants import (
	BOUNCE_REASON,
	BOUNCES,
	CAMPAIGN,
	CAMPAIGNS_CLICKED,
	CAMPAIGNS_OPENED,
	CONTACT,
	ENGAGEMENT,
	ENGAGEMENT_KINDS,
	HARD_BOUNCED,
	LAST_CLICKED,
	LAST_OPENED,
	LEAD,
)
from cc_sync.cc_sync.sitetime import to_site
from cc_sync.cc_sync.store.sql import WriteCount, base_columns, insert_rows, select_in
from cc_sync.constant_contact.report_models import bounce_words
from cc_sync.sync.matching import normalise_email
from cc_sync.sync.records import CampaignRecord, EngagementEvent

EVENT_COLUMNS = (
	"name",
	"email",
	"kind",
	"at",
	"campaign",
	"cc_contact_id",
	"campaign_activity_id",
	"link_url",
	"bounce_code",
	"bounce_reason",
	"hard_bounce",
	"opt_out_reason",
)


def event_name(event: EngagementEvent) -> str:
	return hashlib.sha1(event.key.encode()).hexdigest()[:20]


def _rate(part: int, whole: int) -> float:
	return round(100.0 * part / whole, 2) if whole > 0 else 0.0


class Engagement:
	"""The engagement part of `FrappeStore`: campaigns, events, and the summaries on Contacts and (where
	the site has them) Leads."""

	def __init__(self, count: WriteCount, has_lead: bool) -> None:
		self.count = count
		self.has_lead = has_lead

	def save_campaigns(self, campaigns: Sequence[CampaignRecord]) -> None:
		for campaign in campaigns:
			counts = campaign.counts
			sends, bounces = counts.get("sends", 0), counts.get("bounces", 0)
			delivered = sends - bounces
			values = {
				"campaign_name": campaign.name[:140],
				"subject": (campaign.subject or "")[:140] or None,
				"status": campaign.status,
				"sent_at": to_site(campaign.sent_at),
				**{
					k: counts.get(k, 0)
					for k in ("sends", "opens", "opens_all", "clicks", "bounces", "hard_bounces", "optouts")
				},
				"open_rate": _rate(counts.get("opens", 0), delivered),
				"click_rate": _rate(counts.get("clicks", 0), delivered),
				"bounce_rate": _rate(bounces, sends),
				"optout_rate": _rate(counts.get("optouts", 0), delivered),
			}
			if frappe.db.exists(CAMPAIGN, campaign.campaign_id):
				frappe.db.set_value(CAMPAIGN, campaign.campaign_id, values, update_modified=False)
			else:
				doc = frappe.get_doc({"doctype": CAMPAIGN, "campaign_id": campaign.campaign_id, **values})
				doc.flags.from_cc_sync = True
				doc.insert(ignore_permissions=True)
			self.count.add()

	def add_engagement(self, events: Sequence[EngagementEvent]) -> int:
		by_name = {event_name(e): e for e in events}
		if not by_name:
			return 0
		held = {
			r.name for r in select_in(f"select name from `tab{ENGAGEMENT}` where name in %(values)s", by_name)
		}
		known_campaigns = {
			r.name
			for r in select_in(
				f"select name from `tab{CAMPAIGN}` where name in %(values)s",
				{e.campaign_id for e in by_name.values() if e.campaign_id},
			)
		}
		base = base_columns(frappe.utils.now_datetime())
		rows = []
		for name, e in by_name.items():
			if name in held:
				continue
			rows.append(
				(
					name,
					e.email,
					ENGAGEMENT_KINDS[e.kind],
					to_site(e.at),
					e.campaign_id if e.campaign_id in known_campaigns else None,
					e.cc_contact_id,
					e.activity_id,
					e.link_url,
					e.bounce_code,
					bounce_words(e.bounce_code) if e.bounce_code else None,
					1 if e.hard_bounce else 0,
					e.reason,
					*base.values(),
				)
			)
		if rows:
			insert_rows(ENGAGEMENT, (*EVENT_COLUMNS, *base), rows)
			self.count.add(len(rows))
			self._summarise({e.email for e in by_name.values()})
		return len(rows)

	def _summarise(self, emails: Collection[str]) -> None:
		"""Each Contact's and Lead's engagement summary from its address's events: one statement each."""
		targets = [(CONTACT, "email_id")]
		if self.has_lead:
			targets.append((LEAD, "email_id"))
		values = tuple(emails)
		for doctype, field in targets:
			frappe.db.sql(
				f"""update `tab{doctype}` t join (
					select email,
						max(if(kind = 'Opened', at, null)) last_opened,
						max(if(kind = 'Clicked', at, null)) last_clicked,
						count(distinct if(kind = 'Opened', campaign_activity_id, null)) opened,
						count(distinct if(kind = 'Clicked', campaign_activity_id, null)) clicked,
						sum(kind = 'Bounced') bounces,
						max(hard_bounce) hard,
						substring_index(group_concat(if(hard_bounce = 1, bounce_reason, null)
							order by at desc separator '\\n'), '\\n', 1) reason
					from `tab{ENGAGEMENT}` where email in %(values)s group by email
				) e on t.`{field}` = e.email and binary lower(trim(t.`{field}`)) = binary e.email
				set t.`{LAST_OPENED}` = e.last_opened, t.`{LAST_CLICKED}` = e.last_clicked,
					t.`{CAMPAIGNS_OPENED}` = e.opened, t.`{CAMPAIGNS_CLICKED}` = e.clicked,
					t.`{BOUNCES}` = e.bounces, t.`{HARD_BOUNCED}` = e.hard, t.`{BOUNCE_REASON}` = e.reason""",
				{"values": values},
			)

	def bounced_emails(self, emails: Collection[str]) -> dict[str, str]:
		wanted = set(emails)
		rows = select_in(
			f"""select email, bounce_code, at from `tab{ENGAGEMENT}`
			where hard_bounce = 1 and email in %(values)s order by at""",
			wanted,
		)
		# Exactly the address asked for, never one the column's collation says is the same.
		return {
			normalise_email(r.email): r.bounce_code or "" for r in rows if normalise_email(r.email) in wanted
		}
