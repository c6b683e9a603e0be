"""Email engagement: campaigns, their events, and the hard bounces they report."""

from __future__ import annotations

import copy
from collections.abc import Collection, Sequence

from cc_sync.sync.records import CampaignRecord, EngagementEvent
from cc_sync_testkit.memory.tables import MemoryTables


class MemoryEngagement(MemoryTables):
	"""Campaigns and their engagement events, read back per address and for hard bounces."""

	def save_campaigns(self, campaigns: Sequence[CampaignRecord]) -> None:
		self._before("save_campaigns")
		for campaign in campaigns:
			old = self.campaigns.get(campaign.campaign_id)
			self.campaigns[campaign.campaign_id] = copy.deepcopy(campaign)
			self._undo.append(
				lambda c=campaign.campaign_id, o=old: (
					self.campaigns.__setitem__(c, o) if o else self.campaigns.pop(c, None)
				)
			)

	def add_engagement(self, events: Sequence[EngagementEvent]) -> int:
		self._before("add_engagement")
		new = [e for e in {e.key: e for e in events}.values() if e.key not in self.engagement]
		for event in new:
			self.engagement[event.key] = event
			self._undo.append(lambda k=event.key: self.engagement.pop(k, None))
		return len(new)

	def bounced_emails(self, emails: Collection[str]) -> dict[str, str]:
		wanted = set(emails)
		latest: dict[str, EngagementEvent] = {}
		for event in self.engagement.values():
			if event.hard_bounce and event.email in wanted:
				if event.email not in latest or event.at > latest[event.email].at:
					latest[event.email] = event
		return {email: event.bounce_code or "" for email, event in latest.items()}

	def engagement_of(self, email: str) -> list[EngagementEvent]:
		"""One address's events, newest first (what a record's timeline shows)."""
		return sorted(
			(e for e in self.engagement.values() if e.email == email), key=lambda e: e.at, reverse=True
		)
