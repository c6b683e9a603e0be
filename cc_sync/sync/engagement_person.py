"""One person's engagement for Sync now on a record: CC's per-contact `activity_details`, a few calls,
where the engagement stream reads whole campaign reports."""

from __future__ import annotations

from cc_sync.sync.context import RunContext
from cc_sync.sync.engagement import STATE
from cc_sync.sync.records import EngagementEvent
from cc_sync.sync.streams import STREAM_ENGAGEMENT

# activity_details' type to the event kind (Sync now on one record).
DETAIL_KINDS = {
	"em_sends": "sent",
	"em_opens": "open",
	"em_clicks": "click",
	"em_bounces": "bounce",
	"em_optouts": "optout",
}
SYNC_NOW_PAGES = 3


def sync_person(ctx: RunContext, cc_contact_id: str, email: str) -> int:
	"""One person's recent engagement from `activity_details` (a few calls), for Sync now on a record."""
	stream = ctx.report.stream(STREAM_ENGAGEMENT)
	state = ctx.store.get_state(STATE) or {}
	activities = state.get("activities", {})
	events = []
	pages = ctx.client.iter_contact_activity_pages(cc_contact_id)
	for _ in range(SYNC_NOW_PAGES):
		page = next(pages, None)
		if page is None:
			break
		for row in page.rows:
			kind = DETAIL_KINDS.get(row.tracking_activity_type or "")
			if kind is None or not row.campaign_activity_id:
				continue
			events.append(
				EngagementEvent(
					campaign_id=(activities.get(row.campaign_activity_id) or {}).get("campaign_id"),
					activity_id=row.campaign_activity_id,
					kind=kind,
					cc_contact_id=cc_contact_id,
					email=email,
					at=row.created_time,
				)
			)
		stream.fetched += len(page.rows)
	if ctx.dry_run or not events:
		return 0
	new = ctx.store.add_engagement(events)
	stream.created += new
	ctx.store.commit()
	return new
