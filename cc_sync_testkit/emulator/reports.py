"""The tracking reports of email campaigns, as CC's V3 reference documents them.

- `GET /reports/email_reports/{activity}/tracking/{sends|opens|unique_opens|didnotopens|clicks|forwards|
  optouts|bounces}`: up to 500 rows a page (default 500), newest first, no date filter; only for
  `primary_email` and `resend` activities.
- `GET /reports/stats/email_campaign_activities/{ids}`: up to ten ids; an unknown id is listed under
  `errors`, a malformed one answers 404 for all; `last_refresh_time` per activity.
- `GET /reports/contact_reports/{contact}/activity_details`: one person's tracking, newest first,
  1-100 a page (default 100); `tracking_activities_list` or `tracking_activity_type` is required.

Every report timestamp carries milliseconds (`2019-04-25T11:08:00.123Z`), unlike contacts' whole seconds.
Not documented, so chosen here: `last_refresh_time` is the time of the newest tracked event (it stays put
while nothing arrives).
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any

from .campaigns import REPORTED_ROLES, TRACKING_TYPE, report_ts
from .wire import ApiError, _decode_cursor, _encode_cursor, _invalid, _limit

# activity_details' types (landing-page types are accepted and have no rows here).
DETAIL_TYPES = (
	"em_sends",
	"em_opens",
	"em_clicks",
	"em_bounces",
	"em_optouts",
	"em_forwards",
	"p_contact_open",
	"p_contact_click",
	"p_contact_add",
	"p_contact_update",
)
REPORT_PAGE_MAX = 500
DETAILS_PAGE_MAX = 100
STATS_MAX_IDS = 10
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class ReportsMixin:
	"""The reporting endpoints of `ConstantContactEmulator` (whose `CampaignsMixin` keeps the campaigns and
	their tracked events)."""

	def _get_tracking(
		self, params: dict[str, str], _body: Any, activity_id: str, kind: str
	) -> tuple[int, Any]:
		act = self._need_email_activity(activity_id, reported=True)
		now = self.clock.now()
		if kind == "didnotopens":
			rows = self._did_not_open(act, now)
			total = len(rows)
		else:
			track = act["tracks"][kind]
			rows = track.rows
			total = track.arrived(now)
		# The cursor holds the absolute end of the next page, so rows that arrive meanwhile (at the top,
		# newest first) neither shift nor repeat what a reader is paging through.
		end = total
		if params.get("cursor"):
			params, end = _decode_cursor(params["cursor"])
		limit = _limit(params, REPORT_PAGE_MAX, REPORT_PAGE_MAX)
		code = params.get("bounce_code")
		start = max(0, end - limit)
		page = [dict(r) for r in reversed(rows[start:end])]
		if code and kind == "bounces":
			page = [r for r in page if r["bounce_code"] == code]
		out: dict[str, Any] = {"tracking_activities": page, "_links": {}}
		if start > 0:
			carried = {k: v for k, v in params.items() if k != "cursor"}
			carried["limit"] = str(limit)
			href = f"/v3/reports/email_reports/{activity_id}/tracking/{kind}"
			out["_links"] = {"next": {"href": f"{href}?cursor={_encode_cursor(carried, start)}"}}
		return 200, out

	@staticmethod
	def _did_not_open(act: dict[str, Any], now: datetime) -> list[dict[str, Any]]:
		track = act["tracks"]["sends"]
		out = []
		for row in track.rows[: track.arrived(now)]:
			opened = act["opened"].get(row["contact_id"])
			if row["contact_id"] in act["bounced"] or (opened is not None and opened <= now):
				continue
			out.append({**row, "tracking_activity_type": "em_didnotopens"})
		return out

	def _get_activity_stats(self, _params: dict[str, str], _body: Any, ids: str) -> tuple[int, Any]:
		wanted = [i.strip() for i in ids.split(",") if i.strip()]
		if not wanted or len(wanted) > STATS_MAX_IDS:
			raise _invalid(f"between 1 and {STATS_MAX_IDS} campaign_activity_ids are allowed")
		if any(not _UUID.match(i) for i in wanted):
			raise ApiError(
				404, "reportingsvc.not_found.invalid_path_param", "A campaign_activity_id is malformed."
			)
		now = self.clock.now()
		results, errors = [], []
		for activity_id in wanted:
			act = self._email_activities.get(activity_id)
			if act is None or act["role"] not in REPORTED_ROLES:
				errors.append(
					{
						"error_key": "reportingsvc.not_found.campaign_activity_ids",
						"error_message": f"Could not find any stats for campaign activity {activity_id}.",
					}
				)
				continue
			results.append(self._stats(act, now))
		return 200, {"results": results, "errors": errors}

	def _stats(self, act: dict[str, Any], now: datetime) -> dict[str, Any]:
		tracks = act["tracks"]
		arrived = {kind: t.arrived(now) for kind, t in tracks.items()}
		bounce_rows = tracks["bounces"].rows[: arrived["bounces"]]
		clickers = {r["contact_id"] for r in tracks["clicks"].rows[: arrived["clicks"]]}
		stats = {
			"em_sends": arrived["sends"],
			"em_opens": arrived["unique_opens"],
			"em_opens_all": arrived["opens"],
			"em_clicks": len(clickers),
			"em_clicks_all": arrived["clicks"],
			"em_bounces": arrived["bounces"],
			"em_optouts": arrived["optouts"],
			"em_forwards": arrived["forwards"],
			"em_abuse": 0,
			"em_not_opened": max(0, arrived["sends"] - arrived["unique_opens"] - arrived["bounces"]),
		}
		words = {
			"B": "nonexistent_address",
			"D": "undeliverable",
			"F": "mailbox_full",
			"S": "suspended",
			"V": "vacation",
			"X": "other",
			"Z": "blocked",
		}
		for code, word in words.items():
			stats[f"em_bounces_{word}"] = sum(1 for r in bounce_rows if r["bounce_code"] == code)
		newest = max(
			(t.times[n - 1] for t, n in ((tracks[k], arrived[k]) for k in tracks) if n), default=None
		)
		out = {
			"campaign_id": act["campaign_id"],
			"campaign_activity_id": act["campaign_activity_id"],
			"stats": stats,
		}
		if newest is not None:
			out["last_refresh_time"] = report_ts(newest)
		return out

	def _get_activity_details(self, params: dict[str, str], _body: Any, contact_id: str) -> tuple[int, Any]:
		if contact_id not in self._by_id:
			raise ApiError(404, "reportingsvc.not_found", f"Contact {contact_id} not found.")
		start = 0
		if params.get("cursor"):
			params, start = _decode_cursor(params["cursor"])
		listed = params.get("tracking_activities_list")
		typed = params.get("tracking_activity_type")
		if bool(listed) == bool(typed):
			raise _invalid("use either tracking_activities_list or tracking_activity_type")
		types = [t.strip() for t in (listed or typed or "").split(",") if t.strip()]
		unknown = [t for t in types if t not in DETAIL_TYPES]
		if unknown:
			raise _invalid(f"tracking activity type {unknown[0]} is not valid")
		limit = _limit(params, DETAILS_PAGE_MAX, DETAILS_PAGE_MAX)
		names = params.get("include_campaign_activity_names", "true").lower() != "false"
		now = self.clock.now()
		events = self._by_contact_events.get(contact_id, [])
		rows = []
		for when, kind, activity_id, row in reversed(events):
			if when > now or TRACKING_TYPE[kind] not in types:
				continue
			out = {
				"contact_id": contact_id,
				"campaign_activity_id": activity_id,
				"created_time": row["created_time"],
				"tracking_activity_type": TRACKING_TYPE[kind],
			}
			if names:
				out["campaign_activity_name"] = self._email_activities[activity_id]["name"]
			rows.append(out)
		page = rows[start : start + limit]
		body: dict[str, Any] = {"tracking_activities": page, "_links": {}}
		if start + limit < len(rows):
			carried = {k: v for k, v in params.items() if k != "cursor"}
			carried["limit"] = str(limit)
			href = f"/v3/reports/contact_reports/{contact_id}/activity_details"
			body["_links"] = {"next": {"href": f"{href}?cursor={_encode_cursor(carried, start + limit)}"}}
		return 200, body


def ceil_pages(rows: int, per_page: int = REPORT_PAGE_MAX) -> int:
	"""How many report pages `rows` rows take (at least one: an empty report is one call)."""
	return max(1, math.ceil(rows / per_page))
