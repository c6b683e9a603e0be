"""Bulk activities: the queue every activity waits in, `GET /activities` and `GET /activities/{id}`,
and the list membership (`add_list_memberships`, `remove_list_memberships`) and `contact_delete`
activities. Imports and exports are activities too (`imports`, `exports` apply them)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from .values import contact_status
from .wire import ApiError, _decode_cursor, _invalid, _page

QUEUE_CAP = 1000
ACTIVITY_RETENTION = timedelta(days=10)
PENDING = ("initialized", "processing")


class ActivitiesMixin:
	"""The activity endpoints of `ConstantContactEmulator` (which supplies the state)."""

	# -- activities -----------------------------------------------------------------------------------

	def _new_activity(self, kind: str, payload: dict[str, Any], status: dict[str, int]) -> dict[str, Any]:
		queued = sum(1 for a in self._activities.values() if a["state"] in PENDING)
		if queued >= QUEUE_CAP:
			raise ApiError(
				429,
				"too_many_requests",
				"You exceeded 1,000 queued activities for this user account",
				single=True,
			)
		now = self.now()
		act = {
			"activity_id": self.new_id(),
			"kind": kind,
			"state": "initialized",
			"created_at": now,
			"updated_at": now,
			"started_at": None,
			"completed_at": None,
			"polls": 0,
			"created_mono": self.clock.monotonic(),
			"payload": payload,
			"status": status,
			"errors": [],
			"csv": None,
		}
		self._activities[act["activity_id"]] = act
		if self.activity_steps <= 0:
			self._complete_through(act)
		return act

	def _activity_json(self, act: Mapping[str, Any]) -> dict[str, Any]:
		out: dict[str, Any] = {
			"activity_id": act["activity_id"],
			"state": act["state"],
			"created_at": act["created_at"],
		}
		for key in ("started_at", "completed_at"):
			if act[key]:
				out[key] = act[key]
		out["updated_at"] = act["updated_at"]
		out["percent_done"] = {"initialized": 0, "processing": 50}.get(act["state"], 100)
		out["activity_errors"] = list(act["errors"])
		out["status"] = dict(act["status"])
		links: dict[str, Any] = {"self": {"href": f"/v3/activities/{act['activity_id']}"}}
		if act["kind"] == "export":
			# Recorded CC: the 201 already carries the results link (the file answers 404 until the export
			# completes). The spec example says /v3/contacts_exports/; the real path is /v3/contact_exports/.
			links["results"] = {"href": f"/v3/contact_exports/{act['activity_id']}"}
		out["_links"] = links
		return out

	def _tick(self) -> None:
		"""Clock-driven completion, when `activity_seconds` is set: as real CC, which finishes an activity
		in its own time whether or not anyone polls it. Each is stamped with the time it finished.
		Campaign opt-outs whose time has come are applied first."""
		if self._work_time is None:
			self._campaign_tick()
		if self.activity_seconds is None or self._work_time is not None:
			return
		t = self.clock.monotonic()
		for act in list(self._activities.values()):
			late = t - act["created_mono"] - self.activity_seconds
			if act["state"] in PENDING and late >= 0:
				self._work_time = self.clock.now() - timedelta(seconds=late)
				try:
					self._complete_through(act)
				finally:
					self._work_time = None

	def _poll(self, act: dict[str, Any]) -> None:
		self._tick()
		if act["state"] not in PENDING:
			return
		act["polls"] += 1
		if act["polls"] >= self.activity_steps:
			self._complete_through(act)
		else:
			now = self.now()
			act["state"] = "processing"
			act["started_at"] = act["started_at"] or now
			act["updated_at"] = now

	def _complete_through(self, target: dict[str, Any]) -> None:
		"""Activities run serially in creation order: finishing one finishes every earlier one first."""
		for act in list(self._activities.values()):
			if act["state"] in PENDING:
				self._complete(act)
			if act is target:
				break

	def _complete(self, act: dict[str, Any]) -> None:
		now = self.now()
		act["started_at"] = act["started_at"] or now
		{
			"import": self._apply_import,
			"add_members": self._apply_add_members,
			"remove_members": self._apply_remove_members,
			"export": self._apply_export,
			"delete": self._apply_contact_delete,
		}[act["kind"]](act)
		act["state"] = "completed"
		act["completed_at"] = now
		act["updated_at"] = now
		self.version += 1

	def _get_activity(self, _params: dict[str, str], _body: Any, activity_id: str) -> tuple[int, Any]:
		act = self._activities.get(activity_id)
		oldest = (self.clock.now() - ACTIVITY_RETENTION).strftime("%Y-%m-%dT%H:%M:%SZ")
		if act is None or act["created_at"] < oldest:
			raise ApiError(404, "activities.api.not_found", f"Activity {activity_id} not found.")
		self._poll(act)
		return 200, self._activity_json(act)

	def _get_activities(self, params: dict[str, str], _body: Any) -> tuple[int, Any]:
		self._tick()
		if params.get("cursor"):
			params = {**_decode_cursor(params["cursor"])[0], "cursor": params["cursor"]}
		state = params.get("state")
		if state not in (None, "", "processing", "completed", "cancelled", "failed", "timed_out"):
			raise ApiError(400, "activities.api.validation.error", "state is not valid")
		cutoff = self.clock.now() - ACTIVITY_RETENTION
		oldest = cutoff.strftime("%Y-%m-%dT%H:%M:%SZ")
		# Kept for 10 days, newest first.
		acts = [a for a in reversed(self._activities.values()) if a["created_at"] >= oldest]
		if state:
			acts = [a for a in acts if a["state"] == state]
		page, links, _ = _page("activities", params, acts, 50, 500)
		entries = []
		for act in page:
			entry = self._activity_json(act)
			# Recorded: list entries' self links do not lead to the entry.
			entry["_links"] = {"self": {"href": "/v3/activities"}}
			entries.append(entry)
		out: dict[str, Any] = {"activities": entries}
		if links:
			out["_links"] = links
		return 200, out

	# -- list membership and delete activities ------------------------------------------------------

	def _membership_source(self, body: Any, *, allow_all: bool = True) -> dict[str, Any]:
		if not isinstance(body, dict):
			raise _invalid("The request body must be a JSON object.")
		source = body.get("source")
		targets = body.get("list_ids")
		if not isinstance(targets, list) or not 1 <= len(targets) <= 50:
			raise _invalid("list_ids is required (1 to 50 list ids)")
		for lid in targets:
			if lid not in self._lists:
				raise _invalid(f"list_id {lid} does not exist")
		if not isinstance(source, dict):
			raise _invalid("source is required")
		keys = [k for k in ("contact_ids", "list_ids", "all_active_contacts") if source.get(k)]
		if len(keys) != 1:
			raise _invalid("source takes exactly one of contact_ids, list_ids, all_active_contacts")
		if "contact_ids" in keys and (
			not isinstance(source["contact_ids"], list) or len(source["contact_ids"]) > 500
		):
			raise _invalid("source.contact_ids accepts at most 500 contact ids")
		if "list_ids" in keys and (not isinstance(source["list_ids"], list) or len(source["list_ids"]) > 50):
			raise _invalid("source.list_ids accepts at most 50 list ids")
		exclude = set((body.get("exclude") or {}).get("contact_ids") or [])
		return {
			"source": {keys[0]: source[keys[0]]},
			"list_ids": list(dict.fromkeys(targets)),
			"exclude": list(exclude),
		}

	def _source_records(self, payload: Mapping[str, Any]) -> list[dict[str, Any]]:
		source = payload["source"]
		exclude = set(payload.get("exclude") or ())
		if "contact_ids" in source:
			recs = [self._by_id[cid] for cid in dict.fromkeys(source["contact_ids"]) if cid in self._by_id]
			exclude = set()  # exclude applies only to list and all_active sources
		elif "list_ids" in source:
			members: set[str] = set()
			for lid in source["list_ids"]:
				if lid in self._lists:
					members |= self._lists[lid]["members"]
			recs = [self._by_id[cid] for cid in members]
			recs.sort(key=lambda r: r["seq"])
		else:
			recs = [r for r in self._order if contact_status(r) == "active"]
		return [r for r in recs if r["contact_id"] not in exclude]

	def _post_add_members(self, _params: dict[str, str], body: Any) -> tuple[int, Any]:
		payload = self._membership_source(body)
		total = len(payload["source"].get("contact_ids") or [])
		act = self._new_activity(
			"add_members",
			payload,
			{"items_total_count": total, "items_completed_count": 0, "list_count": len(payload["list_ids"])},
		)
		return 201, self._activity_json(act)

	def _post_remove_members(self, _params: dict[str, str], body: Any) -> tuple[int, Any]:
		payload = self._membership_source(body)
		total = len(payload["source"].get("contact_ids") or [])
		act = self._new_activity(
			"remove_members",
			payload,
			{"items_total_count": total, "items_completed_count": 0, "list_count": len(payload["list_ids"])},
		)
		return 201, self._activity_json(act)

	def _apply_add_members(self, act: dict[str, Any]) -> None:
		recs = self._source_records(act["payload"])
		lists = [self._lists[lid] for lid in act["payload"]["list_ids"] if lid in self._lists]
		act["status"]["items_total_count"] = len(recs)
		for rec in recs:
			act["status"]["items_completed_count"] += 1
			# Unsubscribed and deleted contacts are never added to lists. Membership changes do not move
			# the top-level updated_at (the worst case, as with list-tool edits).
			if rec["deleted_at"] or rec["permission"] == "unsubscribed":
				continue
			for lst in lists:
				self._link(rec, lst)

	def _apply_remove_members(self, act: dict[str, Any]) -> None:
		recs = self._source_records(act["payload"])
		act["status"]["items_total_count"] = len(recs)
		for rec in recs:
			act["status"]["items_completed_count"] += 1
			for lid in act["payload"]["list_ids"]:
				if lid in self._lists:
					self._unlink(rec, self._lists[lid])

	def _post_contact_delete(self, _params: dict[str, str], body: Any) -> tuple[int, Any]:
		if not isinstance(body, dict) or bool(body.get("contact_ids")) == bool(body.get("list_ids")):
			raise _invalid("Send exactly one of contact_ids or list_ids")
		if len(body.get("contact_ids") or []) > 500 or len(body.get("list_ids") or []) > 50:
			raise _invalid("contact_ids accepts at most 500 ids, list_ids at most 50")
		payload = {"contact_ids": body.get("contact_ids"), "list_ids": body.get("list_ids")}
		act = self._new_activity(
			"delete",
			payload,
			{
				"items_total_count": len(body.get("contact_ids") or []),
				"items_completed_count": 0,
				"list_count": len(body.get("list_ids") or []),
			},
		)
		return 201, self._activity_json(act)

	def _apply_contact_delete(self, act: dict[str, Any]) -> None:
		payload = act["payload"]
		if payload["contact_ids"]:
			recs = [self._by_id[c] for c in payload["contact_ids"] if c in self._by_id]
		else:
			recs = self._source_records({"source": {"list_ids": payload["list_ids"]}})
		act["status"]["items_total_count"] = len(recs)
		for rec in recs:
			act["status"]["items_completed_count"] += 1
			if not rec["deleted_at"]:
				self._delete(rec)
