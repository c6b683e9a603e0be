"""Typed, tolerant views of CC's email campaign and reporting payloads.

Report rows are read one at a time: a row without a contact id or a readable `created_time` is left out
of its page and counted in `skipped`, so one odd row never costs the rest. Report timestamps carry
milliseconds (`2019-04-25T11:08:00.000Z`), unlike contacts' whole seconds; `DateTime` reads both.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator
from pydantic import ValidationError as PydanticValidationError

from cc_sync.constant_contact.values import CCModel, DateTime, StrList, link_href, opt_int

# The tracking reports of one campaign activity (`/reports/email_reports/{id}/tracking/{report}`).
TRACKING_REPORTS = (
	"sends",
	"opens",
	"unique_opens",
	"didnotopens",
	"clicks",
	"forwards",
	"optouts",
	"bounces",
)
# CC's one-letter bounce codes, in CC's words (BouncesTrackingActivity.bounce_code).
BOUNCE_CODES = {
	"B": "Non-existent address",
	"D": "Undeliverable",
	"F": "Mailbox full",
	"S": "Suspended",
	"V": "Vacation or autoreply (delivered)",
	"X": "Other",
	"Z": "Blocked",
}


def bounce_words(code: str | None) -> str:
	"""A bounce code in CC's words ("B" -> "Non-existent address"); an unknown code as itself."""
	return BOUNCE_CODES.get((code or "").upper(), code or "unknown code")


# Campaign activity roles the reports answer for (CC: "only for primary_email and resend").
REPORTED_ROLES = ("primary_email", "resend")


def _lift_next(data: Any) -> Any:
	if isinstance(data, dict) and "_links" in data and "next_href" not in data:
		return {**data, "next_href": link_href(data["_links"])}
	return data


class EmailCampaignSummary(CCModel):
	"""One entry of `GET /emails` (no activities: those come from `GET /emails/{id}`)."""

	campaign_id: str | None = None
	name: str | None = None
	current_status: str | None = None
	type: str | None = None
	created_at: DateTime = None
	updated_at: DateTime = None


class EmailCampaignPage(CCModel):
	campaigns: list[EmailCampaignSummary] = Field(default_factory=list)
	next_href: str | None = None

	@model_validator(mode="before")
	@classmethod
	def _lift_links(cls, data: Any) -> Any:
		return _lift_next(data)


class ActivityReference(CCModel):
	campaign_activity_id: str | None = None
	role: str | None = None


class EmailCampaign(EmailCampaignSummary):
	"""`GET /emails/{id}`: the campaign and its activities by role (primary_email, permalink, resend)."""

	campaign_activities: list[ActivityReference] = Field(default_factory=list)

	def reported_activities(self) -> list[ActivityReference]:
		return [a for a in self.campaign_activities if a.campaign_activity_id and a.role in REPORTED_ROLES]


class EmailCampaignActivity(CCModel):
	"""`GET /emails/activities/{id}`: what was sent (subject, lists) and its status."""

	campaign_activity_id: str | None = None
	campaign_id: str | None = None
	role: str | None = None
	subject: str | None = None
	current_status: str | None = None
	contact_list_ids: StrList = None


class TrackingRow(CCModel):
	"""One row of a tracking report (or of a contact's `activity_details`)."""

	contact_id: str
	campaign_activity_id: str | None = None
	tracking_activity_type: str | None = None
	email_address: str | None = None
	created_time: DateTime = None
	# clicks
	link_url: str | None = None
	url_id: str | None = None
	# bounces
	bounce_code: str | None = None
	current_email_address: str | None = None
	# opt-outs
	opt_out_reason: str | None = None
	# activity_details
	campaign_activity_name: str | None = None


class TrackingPage(CCModel):
	"""A page of a tracking report, newest first."""

	rows: list[TrackingRow] = Field(default_factory=list)
	next_href: str | None = None
	skipped: int = 0

	@model_validator(mode="before")
	@classmethod
	def _read_rows(cls, data: Any) -> Any:
		data = _lift_next(data)
		if not isinstance(data, dict):
			return data
		raw_rows = data.get("tracking_activities")
		rows: list[TrackingRow] = []
		skipped = 0
		for raw in raw_rows if isinstance(raw_rows, list) else []:
			try:
				row = TrackingRow.model_validate(raw)
			except PydanticValidationError:
				skipped += 1
				continue
			if row.created_time is None:
				skipped += 1
				continue
			rows.append(row)
		return {"next_href": data.get("next_href"), "rows": rows, "skipped": skipped}


class ActivityStats(CCModel):
	"""One entry of `GET /reports/stats/email_campaign_activities/{ids}`."""

	campaign_id: str | None = None
	campaign_activity_id: str | None = None
	stats: dict[str, Any] = Field(default_factory=dict)
	last_refresh_time: DateTime = None

	def count(self, key: str) -> int | None:
		return opt_int(self.stats.get(key))


class ActivityStatsResult(CCModel):
	results: list[ActivityStats] = Field(default_factory=list)
	errors: list[dict[str, Any]] = Field(default_factory=list)
