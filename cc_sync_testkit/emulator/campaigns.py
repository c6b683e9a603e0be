"""Email campaigns, as CC's V3 reference documents them, and the account owner sending one.

- `GET /emails` (1-500 a page, default 50; `after_date`/`before_date` on `updated_at`), `GET /emails/{id}`
  (the campaign's activities by role: `primary_email`, `permalink`, `resend`) and
  `GET /emails/activities/{id}` (subject, lists, status). Their tracking reports are in `reports`.

Not documented, so chosen here: `/emails` lists the most recently updated campaign first.

`send_campaign` plays the account owner sending a campaign to a list: the sends happen now, and the opens,
clicks, bounces and opt-outs arrive over the emulator's clock (most within hours, the last within
`spread_hours`); an opt-out in a report is also the contact's opt-out, applied when its time comes.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from .values import EmulatorError, parse_ts
from .wire import ApiError, _decode_cursor, _encode_cursor, _invalid, _limit

REPORT_KINDS = ("sends", "opens", "unique_opens", "didnotopens", "clicks", "forwards", "optouts", "bounces")
TRACKING_TYPE = {
	"sends": "em_sends",
	"opens": "em_opens",
	"unique_opens": "em_opens",
	"didnotopens": "em_didnotopens",
	"clicks": "em_clicks",
	"forwards": "em_forwards",
	"optouts": "em_optouts",
	"bounces": "em_bounces",
}
REPORTED_ROLES = ("primary_email", "resend")
BOUNCE_CODES = ("B", "D", "F", "S", "V", "X", "Z")
# A plausible mix: non-existent addresses and blocks most often, vacation replies rarely.
BOUNCE_WEIGHTS = (35, 10, 10, 15, 5, 10, 15)
OPT_OUT_REASONS = (None, "The content is not what I expected", "I receive too many emails", None)
DEFAULT_LINKS = ("https://example.com/offer", "https://example.com/blog", "https://example.com/events")


def report_ts(when: datetime) -> str:
	"""CC's report form: UTC with milliseconds."""
	utc = when.astimezone(timezone.utc)
	return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


class _Track:
	"""One report's rows of one activity, kept oldest first with their times for bisecting."""

	def __init__(self) -> None:
		self.times: list[datetime] = []
		self.rows: list[dict[str, Any]] = []

	def merge(self, items: list[tuple[datetime, dict[str, Any]]]) -> None:
		items = sorted([*zip(self.times, self.rows, strict=False), *items], key=lambda item: item[0])
		self.times = [when for when, _ in items]
		self.rows = [row for _, row in items]

	def arrived(self, now: datetime) -> int:
		return bisect.bisect_right(self.times, now)


class CampaignsMixin:
	"""The campaign endpoints, and `send_campaign` to make engagement happen (reports: `ReportsMixin`)."""

	def _init_campaigns(self) -> None:
		self._campaigns: dict[str, dict[str, Any]] = {}
		self._email_activities: dict[str, dict[str, Any]] = {}
		self._by_contact_events: dict[str, list[tuple[datetime, str, str, dict[str, Any]]]] = {}
		self._due_optouts: list[tuple[datetime, int, str, str | None]] = []
		self._optout_seq = 0

	# -- the account owner's side -------------------------------------------------------------------

	def send_campaign(
		self,
		list_id: str,
		*,
		name: str,
		open_rate: float,
		click_rate: float,
		bounce_rate: float,
		optout_rate: float,
		resend: bool = False,
		subject: str | None = None,
		spread_hours: float = 48.0,
		links: tuple[str, ...] = DEFAULT_LINKS,
		sent_at: datetime | None = None,
	) -> str:
		"""Send a campaign now to the list's subscribed members; returns its campaign_id.

		Rates are shares of the sends: `open_rate` of them open (some more than once), `click_rate` click
		(all of them openers), `bounce_rate` bounce (codes in a plausible mix), `optout_rate` opt out
		(openers). With `resend`, a `resend` activity goes a day later to those who did not open.
		`sent_at` dates the send in the past (a demo account with engagement that has already arrived).
		"""
		for label, rate in (("open", open_rate), ("click", click_rate), ("bounce", bounce_rate)):
			if not 0 <= rate <= 1:
				raise EmulatorError(f"{label}_rate must be between 0 and 1")
		if not 0 <= optout_rate <= 1:
			raise EmulatorError("optout_rate must be between 0 and 1")
		with self._lock:
			self._tick()
			lst = self._need_list(list_id)
			if any(c["name"] == name for c in self._campaigns.values()):
				raise EmulatorError(f"campaign name already exists: {name}")
			now = sent_at or self.clock.now()
			recipients = [
				rec
				for rec in self._order
				if rec["contact_id"] in lst["members"]
				and not rec["deleted_at"]
				and rec["permission"] in ("explicit", "implicit")
			]
			campaign_id = self.new_id()
			stamp = report_ts(now)
			campaign = {
				"campaign_id": campaign_id,
				"name": name,
				"current_status": "Done",
				"type": "NEWSLETTER",
				"type_code": 10,
				"created_at": stamp,
				"updated_at": stamp,
				"campaign_activities": [],
			}
			self._campaigns[campaign_id] = campaign
			rates = (open_rate, click_rate, bounce_rate, optout_rate)
			primary = self._new_email_activity(campaign, "primary_email", list_id, subject or name)
			self._new_email_activity(campaign, "permalink", list_id, subject or name)
			non_openers = self._send(primary, recipients, now, rates, spread_hours, links)
			if resend:
				again = self._new_email_activity(campaign, "resend", list_id, f"Resend: {subject or name}")
				self._send(again, non_openers, now + timedelta(days=1), rates, spread_hours, links)
			self.version += 1
			return campaign_id

	def campaign_activity_ids(self, campaign_id: str, role: str = "primary_email") -> list[str]:
		"""The ids of a campaign's activities of one role (tests' shortcut, not an API call)."""
		with self._lock:
			return [
				a["campaign_activity_id"]
				for a in self._campaigns[campaign_id]["campaign_activities"]
				if a["role"] == role
			]

	def _new_email_activity(
		self, campaign: dict[str, Any], role: str, list_id: str, subject: str
	) -> dict[str, Any]:
		activity_id = self.new_id()
		act = {
			"campaign_activity_id": activity_id,
			"campaign_id": campaign["campaign_id"],
			"role": role,
			"contact_list_ids": [list_id],
			"current_status": "Done",
			"format_type": 5,
			"from_name": "Emulated Sender",
			"from_email": "sender@example.com",
			"reply_to_email": "sender@example.com",
			"subject": subject,
			"name": campaign["name"],
			"tracks": {kind: _Track() for kind in REPORT_KINDS if kind != "didnotopens"},
			"opened": {},
			"bounced": set(),
		}
		campaign["campaign_activities"].append({"campaign_activity_id": activity_id, "role": role})
		self._email_activities[activity_id] = act
		return act

	def _send(
		self,
		act: dict[str, Any],
		recipients: list[dict[str, Any]],
		sent: datetime,
		rates: tuple[float, float, float, float],
		spread_hours: float,
		links: tuple[str, ...],
	) -> list[dict[str, Any]]:
		"""Plan every event of one activity; returns the delivered recipients planned not to open."""
		open_rate, click_rate, bounce_rate, optout_rate = rates
		rng = self.rng
		n = len(recipients)
		spread = timedelta(hours=spread_hours)
		order = list(range(n))
		rng.shuffle(order)
		n_bounce = round(n * bounce_rate)
		bounced = [recipients[i] for i in order[:n_bounce]]
		delivered = [recipients[i] for i in order[n_bounce:]]
		n_open = min(len(delivered), round(n * open_rate))
		openers = delivered[:n_open]
		clickers = openers[: min(n_open, round(n * click_rate))]
		leavers = openers[::-1][: min(n_open, round(n * optout_rate))]
		act["pending"] = {kind: [] for kind in act["tracks"]}
		for i, rec in enumerate(recipients):
			# CC sends over a while; a millisecond apart, ending at `sent`, keeps every send its own time.
			self._event(act, "sends", sent - timedelta(milliseconds=n - 1 - i), rec, {})
		for rec in bounced:
			code = rng.choices(BOUNCE_CODES, BOUNCE_WEIGHTS)[0]
			when = sent + timedelta(minutes=rng.uniform(1, 30))
			extra = {"bounce_code": code, "current_email_address": rec["address"]}
			self._event(act, "bounces", when, rec, extra)
		first_open: dict[str, datetime] = {}
		for rec in openers:
			delay = min(rng.expovariate(1 / 14400), spread.total_seconds() * 0.9)
			when = sent + timedelta(seconds=delay)
			first_open[rec["contact_id"]] = when
			device = rng.choice(("computer", "mobile", "tablet"))
			self._event(act, "opens", when, rec, {"device_type": device})
			self._event(act, "unique_opens", when, rec, {"device_type": device})
			for _ in range(rng.choice((0, 0, 1, 2))):
				later = min(when + timedelta(seconds=rng.expovariate(1 / 7200)), sent + spread)
				self._event(act, "opens", later, rec, {"device_type": device})
		for rec in clickers:
			for _ in range(rng.choice((1, 1, 2))):
				link = rng.randrange(len(links))
				when = first_open[rec["contact_id"]] + timedelta(seconds=rng.uniform(5, 1800))
				extra = {
					"device_type": "computer",
					"url_id": str(1100000000000 + link),
					"link_url": links[link],
				}
				self._event(act, "clicks", min(when, sent + spread), rec, extra)
		for rec in leavers:
			when = min(
				first_open[rec["contact_id"]] + timedelta(seconds=rng.uniform(30, 3600)), sent + spread
			)
			reason = rng.choice(OPT_OUT_REASONS)
			self._event(act, "optouts", when, rec, {"opt_out_reason": reason})
			self._optout_seq += 1
			heapq.heappush(self._due_optouts, (when, self._optout_seq, rec["contact_id"], reason))
		for kind, items in act.pop("pending").items():
			act["tracks"][kind].merge(items)
		for events in self._by_contact_events.values():
			events.sort(key=lambda e: e[0])
		opened = {rec["contact_id"] for rec in openers}
		return [rec for rec in delivered if rec["contact_id"] not in opened]

	def _event(
		self, act: dict[str, Any], kind: str, when: datetime, rec: Mapping[str, Any], extra: dict[str, Any]
	) -> None:
		row = {
			"contact_id": rec["contact_id"],
			"campaign_activity_id": act["campaign_activity_id"],
			"tracking_activity_type": TRACKING_TYPE[kind],
			"email_address": rec["address"],
			"first_name": rec["first_name"],
			"last_name": rec["last_name"],
			**extra,
			"created_time": report_ts(when),
		}
		# Values CC does not have are left out, as CC leaves them out.
		row = {k: v for k, v in row.items() if v is not None}
		act["pending"][kind].append((when, row))
		if kind == "unique_opens":
			act["opened"][rec["contact_id"]] = when
			return
		if kind == "bounces":
			act["bounced"].add(rec["contact_id"])
		self._by_contact_events.setdefault(rec["contact_id"], []).append(
			(when, kind, act["campaign_activity_id"], row)
		)

	def _campaign_tick(self) -> None:
		"""Opt-outs reported in a campaign become the contact's opt-out when their time comes."""
		now = self.clock.now()
		while self._due_optouts and self._due_optouts[0][0] <= now:
			when, _, contact_id, reason = heapq.heappop(self._due_optouts)
			rec = self._by_id.get(contact_id)
			if rec is None or rec["deleted_at"] or rec["permission"] == "unsubscribed":
				continue
			stamp = when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
			rec.update(
				permission="unsubscribed",
				opt_out_date=stamp,
				opt_out_source="Contact",
				opt_out_reason=reason,
				email_updated_at=stamp,
			)
			self.version += 1

	# -- endpoints ----------------------------------------------------------------------------------

	def _campaign_routes(self) -> list[tuple[str, str, Any]]:
		uid = r"([^/]+)"
		kinds = "|".join(REPORT_KINDS)
		return [
			("GET", "/v3/emails", self._get_emails),
			("GET", f"/v3/emails/activities/{uid}", self._get_email_activity),
			("GET", f"/v3/emails/{uid}", self._get_email),
			("GET", f"/v3/reports/email_reports/{uid}/tracking/({kinds})", self._get_tracking),
			("GET", f"/v3/reports/stats/email_campaign_activities/{uid}", self._get_activity_stats),
			("GET", f"/v3/reports/contact_reports/{uid}/activity_details", self._get_activity_details),
		]

	def _get_emails(self, params: dict[str, str], _body: Any) -> tuple[int, Any]:
		pos = 0
		if params.get("cursor"):
			params, pos = _decode_cursor(params["cursor"])
		limit = _limit(params, 50, 500)
		rows = self._listed_campaigns(params)
		out: dict[str, Any] = {"campaigns": rows[pos : pos + limit]}
		if pos + limit < len(rows):
			carried = {k: v for k, v in params.items() if k != "cursor"}
			carried["limit"] = str(limit)
			out["_links"] = {"next": {"href": f"/v3/emails?cursor={_encode_cursor(carried, pos + limit)}"}}
		return 200, out

	def _listed_campaigns(self, params: Mapping[str, str]) -> list[dict[str, Any]]:
		bounds = {}
		for key in ("after_date", "before_date"):
			if params.get(key):
				try:
					bounds[key] = parse_ts(params[key])
				except ValueError:
					raise _invalid(f"{key} must be an ISO-8601 date-time")
		rows = []
		for c in self._campaigns.values():
			updated = parse_ts(c["updated_at"])
			if "after_date" in bounds and not updated > bounds["after_date"]:
				continue
			if "before_date" in bounds and not updated < bounds["before_date"]:
				continue
			rows.append({k: v for k, v in c.items() if k != "campaign_activities"})
		rows.sort(key=lambda c: c["updated_at"], reverse=True)
		return rows

	def _get_email(self, _params: dict[str, str], _body: Any, campaign_id: str) -> tuple[int, Any]:
		campaign = self._campaigns.get(campaign_id)
		if campaign is None:
			raise ApiError(404, "emails.api.not_found", f"Email campaign {campaign_id} not found.")
		return 200, {**campaign, "campaign_activities": [dict(a) for a in campaign["campaign_activities"]]}

	def _get_email_activity(self, _params: dict[str, str], _body: Any, activity_id: str) -> tuple[int, Any]:
		act = self._need_email_activity(activity_id)
		return 200, {k: v for k, v in act.items() if k not in ("tracks", "opened", "bounced", "name")}

	def _need_email_activity(self, activity_id: str, *, reported: bool = False) -> dict[str, Any]:
		act = self._email_activities.get(activity_id)
		if act is None or (reported and act["role"] not in REPORTED_ROLES):
			raise ApiError(404, "reportingsvc.not_found", f"Campaign activity {activity_id} not found.")
		return act


def needed_scope(path: str) -> str | None:
	"""The OAuth scope CC's reference lists for a campaign or report path (None: not one of them)."""
	if path.startswith("/v3/emails") or path.startswith("/v3/reports/email_reports/"):
		return "campaign_data"
	if path.startswith("/v3/reports/stats/"):
		return "campaign_data"
	if path.startswith("/v3/reports/contact_reports/"):
		return "contact_data"
	return None
