"""Email campaigns and their reports: what was sent, and who opened, clicked, bounced or opted out.

Every endpoint here needs the OAuth scope `campaign_data` except `activity_details`, which CC lists under
`contact_data`; a token without it is answered 403 (`PermissionDenied`). Reports answer only for
`primary_email` and `resend` activities, newest row first, with no date filter: a reader that wants only
what is new stops at the first page older than what it already holds.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, datetime
from urllib.parse import quote

from cc_sync.constant_contact.contacts import format_cc_datetime
from cc_sync.constant_contact.params import check_ids, check_limit
from cc_sync.constant_contact.report_models import (
	TRACKING_REPORTS,
	ActivityStatsResult,
	EmailCampaign,
	EmailCampaignActivity,
	EmailCampaignPage,
	TrackingPage,
)
from cc_sync.constant_contact.transport import Transport

MAX_CAMPAIGN_PAGE = 500
MAX_REPORT_PAGE = 500
MAX_DETAILS_PAGE = 100
MAX_STATS_IDS = 10
# The email types of a contact's activity_details (the landing-page types are left out).
EMAIL_ACTIVITY_TYPES = ("em_sends", "em_opens", "em_clicks", "em_bounces", "em_optouts", "em_forwards")


class ReportsAPI(Transport):
	"""The email campaign and reporting endpoints."""

	def iter_email_campaign_pages(
		self,
		*,
		after_date: datetime | date | str | None = None,
		before_date: datetime | date | str | None = None,
		limit: int = MAX_CAMPAIGN_PAGE,
	) -> Iterator[EmailCampaignPage]:
		"""Campaigns page by page, deleted ones too; the dates bound `updated_at`, not the send time.

		ref: https://developer.constantcontact.com/api_reference/index.html#!/Email_Campaigns/retrieveEmailCampaignsUsingGET
		"""
		check_limit(limit, MAX_CAMPAIGN_PAGE)
		params = {
			"after_date": format_cc_datetime(after_date) if after_date is not None else None,
			"before_date": format_cc_datetime(before_date) if before_date is not None else None,
			"limit": limit,
		}
		for body in self._iter_pages("/emails", params):
			yield self._model(EmailCampaignPage, body)

	def get_email_campaign(self, campaign_id: str) -> EmailCampaign:
		"""One campaign with its activities (`campaign_activity_id` and `role` each).

		ref: https://developer.constantcontact.com/api_reference/index.html#!/Email_Campaigns/retrieveEmailCampaignUsingGET
		"""
		return self._model(EmailCampaign, self._request("GET", f"/emails/{quote(campaign_id, safe='')}"))

	def get_email_campaign_activity(self, activity_id: str) -> EmailCampaignActivity:
		"""One campaign activity: its subject, lists and status.

		ref: https://developer.constantcontact.com/api_reference/index.html#!/Email_Campaigns/retrieveEmailCampaignActivityUsingGET
		"""
		body = self._request("GET", f"/emails/activities/{quote(activity_id, safe='')}")
		return self._model(EmailCampaignActivity, body)

	def iter_tracking_pages(
		self, activity_id: str, report: str, *, limit: int = MAX_REPORT_PAGE
	) -> Iterator[TrackingPage]:
		"""One tracking report of a campaign activity, newest row first, page by page.

		`report` is one of sends, opens, unique_opens, didnotopens, clicks, forwards, optouts, bounces.

		ref: https://developer.constantcontact.com/api_reference/index.html#!/Email_Reporting/getOpens
		"""
		if report not in TRACKING_REPORTS:
			raise ValueError(f"not a tracking report: {report!r}")
		check_limit(limit, MAX_REPORT_PAGE)
		path = f"/reports/email_reports/{quote(activity_id, safe='')}/tracking/{report}"
		for body in self._iter_pages(path, {"limit": limit}):
			yield self._model(TrackingPage, body)

	def continue_tracking_pages(self, next_href: str) -> Iterator[TrackingPage]:
		"""Page on from a `next_href` an earlier report page gave (its cursor carries the limit).

		ref: https://developer.constantcontact.com/api_reference/index.html#!/Email_Reporting/getOpens
		"""
		for body in self._iter_pages(next_href, {}):
			yield self._model(TrackingPage, body)

	def get_activity_stats(self, activity_ids: Sequence[str]) -> ActivityStatsResult:
		"""Counts and `last_refresh_time` for up to ten campaign activities in one call.

		An unknown id comes back under `errors`; a malformed one makes CC answer 404 for all.

		ref: https://developer.constantcontact.com/api_reference/index.html#!/Email_Reporting/getEmailCampaignActivitySummary
		"""
		ids = check_ids("activity_ids", activity_ids, MAX_STATS_IDS)
		path = "/reports/stats/email_campaign_activities/" + ",".join(quote(i, safe="") for i in ids)
		return self._model(ActivityStatsResult, self._request("GET", path))

	def iter_contact_activity_pages(
		self,
		contact_id: str,
		types: Sequence[str] = EMAIL_ACTIVITY_TYPES,
		*,
		limit: int = MAX_DETAILS_PAGE,
	) -> Iterator[TrackingPage]:
		"""One contact's email tracking, newest first (needs `contact_data`, not `campaign_data`).

		ref: https://developer.constantcontact.com/api_reference/index.html#!/Contacts_Reporting/getContactTracking
		"""
		check_limit(limit, MAX_DETAILS_PAGE)
		params = {"tracking_activities_list": ",".join(types), "limit": limit}
		path = f"/reports/contact_reports/{quote(contact_id, safe='')}/activity_details"
		for body in self._iter_pages(path, params):
			yield self._model(TrackingPage, body)
