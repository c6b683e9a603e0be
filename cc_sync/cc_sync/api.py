"""What the desk buttons call. Settings-wide actions are for System Managers; "Sync now" on a record
needs write permission on that record. Anything that changes state answers POST only.
"""

from __future__ import annotations

from typing import Any

import frappe
from frappe import _
from frappe.utils import cint, now_datetime

from cc_sync.cc_sync import record_guard
from cc_sync.cc_sync.constants import (
	CONNECTION_CONNECTED,
	CONNECTION_ERROR,
	CONTACT,
	CONTACT_CC_DELETED,
	CONTACT_CC_PERMISSION,
	CONTACT_LAST_SYNCED,
	LEAD,
	LEAD_PUSH_ERROR,
	LEAD_PUSH_STATUS,
	LEAD_PUSHED_AT,
	LIST,
	TRIGGER_CONTACT,
	TRIGGER_LEAD,
	TRIGGER_SETTINGS,
)
from cc_sync.cc_sync.doc_events import record_title
from cc_sync.cc_sync.jobs import enqueue_stream
from cc_sync.cc_sync.oauth import account_name, load_tokens, prove_entered_secret
from cc_sync.cc_sync.record_status import permission_words
from cc_sync.cc_sync.runner import end_run, new_log, run_error, write_report
from cc_sync.cc_sync.settings import (
	JOB_STREAMS,
	all_stored_values,
	get_settings,
	mark_connection_broken,
	require_connection,
	update_settings,
)
from cc_sync.cc_sync.store import contact_reads
from cc_sync.cc_sync.targets import TARGETS
from cc_sync.cc_sync.wiring import build, build_budget, build_client, build_store, save_budget
from cc_sync.constant_contact.errors import AuthError, ConstantContactError, TransportError
from cc_sync.constant_contact.ratelimit import DailyBudget
from cc_sync.sync.report import RunReport, StreamStatus
from cc_sync.sync.streams import JOB_ALL, STREAM_CHANGES, STREAM_OPTOUTS

RECORD_TRIGGERS = {CONTACT: TRIGGER_CONTACT, LEAD: TRIGGER_LEAD}
# A person waits on the form: an unreachable CC is retried once, not waited out like a background run.
INTERACTIVE_RETRIES = 1


def _unreachable() -> str:
	return _("Constant Contact could not be reached; nothing was changed. Try again in a minute.")


@frappe.whitelist(methods=["POST"])
def test_connection() -> dict[str, Any]:
	"""One cheap API call: does the stored connection still work? The answer is kept on the form."""
	frappe.only_for("System Manager")
	require_connection_or_tokens(get_settings())
	try:
		# A client secret entered since CC last accepted one is tried first (a token refresh).
		rejected = prove_entered_secret()
	except AuthError as exc:
		return {"ok": False, "message": mark_connection_broken(exc)}
	except TransportError:
		return {"ok": False, "message": _unreachable()}
	if rejected:
		return {"ok": False, "message": rejected}
	budget, client = _connected(require_connection_or_tokens)
	try:
		lists = client.get_contact_lists(limit=50)
	except AuthError as exc:
		message = mark_connection_broken(exc)
		save_budget(client, budget)
		return {"ok": False, "message": message}
	except TransportError:
		save_budget(client, budget)
		return {"ok": False, "message": _unreachable()}
	except ConstantContactError as exc:
		save_budget(client, budget)
		return {"ok": False, "message": _("Constant Contact answered with an error: {0}").format(exc)}
	tokens = load_tokens()
	update_settings(
		{
			"connection_status": CONNECTION_CONNECTED,
			"last_error": None,
			"connected_account": account_name(tokens.access_token) if tokens else None,
		}
	)
	save_budget(client, budget)
	return {
		"ok": True,
		"message": _("Connected. The account has {0} lists.").format(len(lists)),
		"api_calls": client.calls,
	}


def _connected(require: Any) -> tuple[DailyBudget, Any]:
	"""Today's budget and a client (retrying little), once `require` accepts the connection state."""
	settings = get_settings()
	require(settings)
	budget = build_budget(settings)
	client = build_client(settings, budget)
	client.max_retries = INTERACTIVE_RETRIES
	return budget, client


def require_connection_or_tokens(settings: Any) -> None:
	"""Test connection may also be used to clear an Error state, so only stored tokens are required."""
	if settings.connection_status == CONNECTION_ERROR and load_tokens() is not None:
		return
	require_connection(settings)


@frappe.whitelist(methods=["POST"])
def run_overdue() -> dict[str, Any]:
	"""Queue at once every scheduled stream the health line finds overdue or never run."""
	frappe.only_for("System Manager")
	from cc_sync.cc_sync.health import health, overdue_jobs

	queued = [
		job for job, _said in overdue_jobs(all_stored_values()) if enqueue_stream(job, TRIGGER_SETTINGS)
	]
	return {"queued": queued, **health()}


@frappe.whitelist(methods=["POST"])
def refresh_lists() -> dict[str, Any]:
	"""Fetch CC's lists so they can be mapped; lists gone from CC are flagged, not deleted."""
	frappe.only_for("System Manager")
	budget, client = _connected(require_connection)
	try:
		lists = client.get_contact_lists(include_membership_count="all", status="all")
	except ConstantContactError as exc:
		if isinstance(exc, AuthError):
			mark_connection_broken(exc)
		save_budget(client, budget)
		frappe.db.commit()
		if isinstance(exc, TransportError):
			frappe.throw(_unreachable(), title=_("Constant Contact"))
		frappe.throw(_("Could not fetch the lists: {0}").format(exc))
	now = now_datetime()
	seen = set()
	for item in lists:
		if not item.list_id:
			continue
		seen.add(item.list_id)
		doc = (
			frappe.get_doc(LIST, item.list_id)
			if frappe.db.exists(LIST, item.list_id)
			else frappe.new_doc(LIST)
		)
		doc.update(
			{
				"list_id": item.list_id,
				"list_name": item.name or item.list_id,
				"membership_count": cint(item.membership_count),
				"deleted": int(item.deleted_at is not None),
				"description": item.description,
				"cc_updated_at": _naive(item.updated_at),
				"refreshed_at": now,
			}
		)
		doc.save(ignore_permissions=True) if not doc.is_new() else doc.insert(ignore_permissions=True)
	gone = frappe.get_all(LIST, filters={"name": ["not in", list(seen) or [""]], "deleted": 0}, pluck="name")
	for name in gone:
		frappe.db.set_value(LIST, name, {"deleted": 1, "refreshed_at": now})
	save_budget(client, budget)
	return {"lists": len(seen), "gone": len(gone), "api_calls": client.calls}


def _naive(value: Any) -> Any:
	from cc_sync.cc_sync.sitetime import to_site

	return to_site(value) if value else None


@frappe.whitelist(methods=["POST"])
def sync_now(stream: str = JOB_ALL, dry_run: int | str = 0) -> dict[str, Any]:
	"""Queue a run now, outside the schedule. A run of the same stream already waiting is not doubled."""
	frappe.only_for("System Manager")
	if stream not in JOB_STREAMS:
		frappe.throw(_("Unknown stream {0}").format(stream))
	require_connection(get_settings())
	dry = bool(cint(dry_run))
	queued = enqueue_stream(stream, TRIGGER_SETTINGS, dry_run=dry)
	return {"queued": queued, "stream": stream, "dry_run": dry}


@frappe.whitelist(methods=["POST"])
def recheck_optout_filter() -> dict[str, Any]:
	"""Re-check CC's opt-out filter (optout_after) now, where the sync reads opt-outs by the full scan
	because it proved unreliable: the opt-out job is queued and runs the check. Throttled per site (the
	check spends API calls)."""
	frappe.only_for("System Manager")
	from cc_sync.sync.optouts import STATE as OPTOUT_STATE

	store = build_store(get_settings())
	if (store.get_state(OPTOUT_STATE) or {}).get("reliable", True):
		frappe.throw(
			_("CC's opt-out filter is trusted on this account; every opt-out run checks it already."),
			title=_("Constant Contact"),
		)
	record_guard.check_recheck_throttle()
	# Under the run lock, so a run ending meanwhile does not write its state over the request.
	with record_guard.run_lock():
		state = store.get_state(OPTOUT_STATE) or {}
		store.set_state(OPTOUT_STATE, {**state, "recheck_requested": True})
		store.commit()
	queued = enqueue_stream(STREAM_OPTOUTS, TRIGGER_SETTINGS)
	return {"queued": queued}


@frappe.whitelist(methods=["POST"])
def sync_record(doctype: str, name: str) -> dict[str, Any]:
	"""Sync one Contact or Lead with CC right away and show where the person stands in CC.

	Runs inline (a handful of API calls), so the answer appears on the form at once; throttled per user
	and record and run under the site's sync lock (see `record_guard`).
	"""
	target = TARGETS.get(doctype)
	if doctype != CONTACT and (target is None or not target.form_script):
		frappe.throw(_("Only Contacts and pushed records (Leads, CRM Leads) can be synced one at a time"))
	doc = frappe.get_doc(doctype, name)
	doc.check_permission("write")
	email = (doc.get(target.email_field if target else "email_id") or "").strip()
	if not email:
		frappe.throw(_("This {0} has no email address to sync").format(_(doctype)))
	settings = get_settings()
	wiring = build(settings)
	record_guard.check_throttle(doctype, name)
	record_guard.check_reserve(wiring.budget.used, wiring.budget.limit)
	with record_guard.run_lock():
		return _sync_record_locked(doctype, name, email, wiring, f"{doctype} {record_title(doc)}")


def _sync_record_locked(doctype: str, name: str, email: str, wiring: Any, reference: str) -> dict[str, Any]:
	run_id = frappe.generate_hash(length=10)
	log = new_log(
		STREAM_CHANGES,
		RECORD_TRIGGERS.get(doctype, TRIGGER_LEAD),
		dry_run=False,
		run_id=run_id,
		reference=reference,
	)
	frappe.db.commit()
	try:
		result = wiring.engine.sync_email(email)
		report: RunReport = result["report"]
		logs = write_report(log, report, STREAM_CHANGES)
		if report.stream(STREAM_CHANGES).status == StreamStatus.SUCCESS:
			_mark_synced(result["email"])
	except Exception as exc:
		frappe.db.rollback()
		log.reload()
		end_run(log, wiring, exc)
		if isinstance(exc, AuthError):
			frappe.throw(run_error(exc), title=_("Constant Contact"))
		raise
	end_run(log, wiring)
	return {
		"email": result["email"],
		# CC's view of the person, its permission to send also in words (as the forms say it).
		"cc": {
			**_jsonable(result["cc"]),
			"permission": permission_words((result["cc"] or {}).get("permission_to_send")),
		},
		"status": report.status,
		"totals": report.totals(),
		"errors": [s.error for s in report.streams.values() if s.error],
		"notes": [n.reason for s in report.streams.values() for n in (*s.errors, *s.skips, *s.warnings)][:10],
		"logs": [lg.name for lg in logs],
		"site": site_view(doctype, name, result["email"]),
	}


def _mark_synced(email: str) -> None:
	"""Sync now just read this person from CC: their Contacts say so, also when CC held nothing new to
	write (the sync writes a contact, and its Last synced, only when something changed)."""
	for name in set(
		frappe.get_all("Contact Email", {"email_id": email, "parenttype": CONTACT}, pluck="parent")
	):
		frappe.db.set_value(CONTACT, name, CONTACT_LAST_SYNCED, now_datetime(), update_modified=False)
	frappe.db.commit()


def site_view(doctype: str, name: str, email: str) -> dict[str, Any]:
	"""What the site now holds for this person: its opt-out flag and when it last heard from CC."""
	view: dict[str, Any] = {}
	meta = frappe.get_meta(doctype)
	fields = ["unsubscribed"]
	if doctype == CONTACT:
		fields += [CONTACT_LAST_SYNCED, CONTACT_CC_PERMISSION, CONTACT_CC_DELETED]
	else:
		fields += [LEAD_PUSH_STATUS, LEAD_PUSHED_AT, LEAD_PUSH_ERROR]
		contact = contact_reads.contact_for(email)
		if contact:
			view["last_synced"] = frappe.db.get_value(CONTACT, contact, CONTACT_LAST_SYNCED)
	present = [f for f in fields if meta.has_field(f)]
	if present:
		values = frappe.db.get_value(doctype, name, present, as_dict=True) or {}
		view.update(values)
	if doctype == CONTACT:
		view["last_synced"] = view.get(CONTACT_LAST_SYNCED)
	return _jsonable(view)


def _jsonable(value: Any) -> Any:
	if isinstance(value, dict):
		return {k: _jsonable(v) for k, v in value.items()}
	if hasattr(value, "isoformat"):
		return value.isoformat()
	return value
