"""Scheduled entry points and document hooks. They only decide and enqueue; the work runs in jobs.

A cheap gate runs every five minutes and enqueues each stream whose interval has passed, one job per
stream (`cc_sync::<stream>`, deduplicated), so no stream ever runs twice at once. Document hooks never
call Constant Contact inside a user's save: an opt-out is recorded in the same transaction and an
immediate opt-out push is queued once it commits.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import frappe
from frappe import _
from frappe.utils import cint, get_datetime, now_datetime

from cc_sync.cc_sync.constants import (
	CONNECTION_CONNECTED,
	EMAIL_GROUP,
	FLAG_FROM_SYNC,
	JOB_METHOD,
	JOB_PREFIX,
	JOB_TIMEOUT,
	LEAD_PUSH_STATUS,
	QUEUE,
	TRIGGER_OPTOUT,
	TRIGGER_SCHEDULER,
)
from cc_sync.cc_sync.settings import SCHEDULE, all_stored_values
from cc_sync.sync.records import STREAM_OPTOUT_PUSH

GATE_LOCK_KEY = "cc_sync:gate"
PENDING = "Pending"


# ---------------------------------------------------------------- scheduler


def enqueue_due_streams() -> list[str]:
	"""Cron gate: enqueue every stream whose interval has passed. Returns the streams queued."""
	from cc_sync.cc_sync.health import note_gate_tick
	from cc_sync.cc_sync.onboarding import tick_steps

	note_gate_tick()
	tick_steps()
	values = _settings_values()
	if not _syncing(values):
		return []
	now = now_datetime()
	queued = []
	# Two gates fired at once (two scheduler hosts, a manual run) must not both enqueue.
	with frappe.cache.lock(frappe.cache.make_key(GATE_LOCK_KEY), timeout=60, blocking_timeout=30):
		for stream, (interval_field, minutes_per_unit) in SCHEDULE.items():
			minutes = cint(values.get(interval_field)) * minutes_per_unit
			if minutes <= 0:
				continue
			last = values.get(f"last_{stream}_run")
			if last and now - get_datetime(last) < timedelta(minutes=minutes):
				continue
			if enqueue_stream(stream, TRIGGER_SCHEDULER):
				queued.append(stream)
	return queued


def _settings_values() -> dict[str, Any]:
	"""The few settings the gate reads, straight from the database (cheap, never a stale cache)."""
	return all_stored_values()


def _syncing(values: dict[str, Any]) -> bool:
	"""The sync is on: Enabled is ticked and the connection works."""
	return bool(cint(values.get("enabled"))) and values.get("connection_status") == CONNECTION_CONNECTED


def enqueue_stream(stream: str, trigger: str, *, dry_run: bool = False) -> bool:
	"""Queue one stream's job unless it is already queued or running."""
	job = frappe.enqueue(
		JOB_METHOD,
		queue=QUEUE,
		timeout=JOB_TIMEOUT,
		job_id=f"{JOB_PREFIX}{'dry_run::' if dry_run else ''}{stream}",
		deduplicate=True,
		stream=stream,
		trigger=trigger,
		dry_run=dry_run,
	)
	return job is not None


def run_stream(stream: str, trigger: str = TRIGGER_SCHEDULER, dry_run: bool = False) -> str:
	"""Job entry point: run the stream and return its status (the logs hold the details)."""
	from cc_sync.cc_sync.health import note_job_started
	from cc_sync.cc_sync.runner import run_job

	note_job_started()

	return run_job(stream, trigger, dry_run=bool(dry_run)).status


# ---------------------------------------------------------------- document hooks


def _from_sync(doc: Any) -> bool:
	return bool(doc.flags.get(FLAG_FROM_SYNC))


def _turned_on(doc: Any, fieldname: str) -> bool:
	"""True when this save set the check (a new document counts when it is set)."""
	if not cint(doc.get(fieldname)):
		return False
	before = doc.get_doc_before_save()
	return before is None or not cint(before.get(fieldname))


def _record_optout(email: str | None, *, reason: str) -> None:
	"""Record the opt-out with this save (one transaction), then push it to CC once it commits."""
	from cc_sync.cc_sync.frappe_store import record_local_optout

	# Someone who is not logged in can only have used an unsubscribe link: the person's own choice.
	by_person = frappe.session.user == "Guest"
	if record_local_optout(email, by_person=by_person, reason=reason):
		frappe.db.after_commit.add(enqueue_optout_push)
		if by_person:
			return
		values = _settings_values()
		if _syncing(values):
			message = _("Opt-out sent to Constant Contact: {0}").format(email)
		else:
			message = _(
				"Opt-out recorded for {0}; it reaches Constant Contact once the sync is connected and on."
			).format(email)
		frappe.msgprint(message, alert=True, indicator="green")


def enqueue_optout_push() -> None:
	"""Push site opt-outs to CC now rather than at the next scheduled turn (if connected)."""
	values = _settings_values()
	if _syncing(values):
		enqueue_stream(STREAM_OPTOUT_PUSH, TRIGGER_OPTOUT)


def contact_on_update(doc: Any, method: str | None = None) -> None:
	if _from_sync(doc) or not _turned_on(doc, "unsubscribed"):
		return
	emails = [row.email_id for row in doc.get("email_ids") or []] or [doc.get("email_id")]
	for email in dict.fromkeys(e for e in emails if e):
		_record_optout(email, reason=f"Unsubscribed on Contact {doc.name}")


def _record_group_leave(email: str | None, group: str) -> None:
	"""Leaving one Email Group takes the person off the CC lists mapped to it, and nothing else, unless
	the settings make any group leave a global opt-out."""
	if cint(_settings_values().get("group_leave_is_global")):
		_record_optout(email, reason=f"Unsubscribed from Email Group {group}")
		return
	from cc_sync.cc_sync.frappe_consent import record_group_leave

	if record_group_leave(email, group, by_person=frappe.session.user == "Guest"):
		frappe.db.after_commit.add(enqueue_optout_push)


def email_group_member_before_insert(doc: Any, method: str | None = None) -> None:
	"""Someone opted out who is added to a group (by a user, an import) joins it unsubscribed."""
	if _from_sync(doc) or cint(doc.get("unsubscribed")) or not doc.get("email"):
		return
	from cc_sync.cc_sync.frappe_consent import consent_state
	from cc_sync.sync import consent
	from cc_sync.sync.matching import normalise_email

	address = normalise_email(doc.email)
	if address and consent.joins_unsubscribed(consent_state([address]).get(address)):
		doc.unsubscribed = 1
		# Not a leave of the group: the address's opt-out already reaches CC.
		doc.flags.cc_sync_opted_out_already = True


def email_group_member_on_update(doc: Any, method: str | None = None) -> None:
	if _from_sync(doc) or doc.flags.get("cc_sync_opted_out_already") or not _turned_on(doc, "unsubscribed"):
		return
	_record_group_leave(doc.email, doc.email_group)


def email_unsubscribe_after_insert(doc: Any, method: str | None = None) -> None:
	if _from_sync(doc):
		return
	if not cint(doc.global_unsubscribe) and doc.reference_doctype == EMAIL_GROUP and doc.reference_name:
		_record_group_leave(doc.email, doc.reference_name)
		return
	reason = "Unsubscribed from all email" if cint(doc.global_unsubscribe) else "Unsubscribed"
	if doc.reference_doctype:
		reason += f" ({doc.reference_doctype} {doc.reference_name})"
	_record_optout(doc.email, reason=reason)


def lead_on_change(doc: Any, method: str | None = None) -> None:
	"""Mark the lead for the next push, without a second save (and never for the sync's own writes);
	a lead marked Unsubscribed is an opt-out like any other."""
	if _from_sync(doc):
		return
	if _turned_on(doc, "unsubscribed") and doc.get("email_id"):
		_record_optout(doc.email_id, reason=f"Unsubscribed on Lead {doc.name}")
	if not frappe.get_meta(doc.doctype).has_field(LEAD_PUSH_STATUS):
		return
	if doc.get(LEAD_PUSH_STATUS) == PENDING:
		return
	doc.db_set(LEAD_PUSH_STATUS, PENDING, update_modified=False, notify=False)
