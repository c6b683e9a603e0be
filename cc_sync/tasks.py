"""Scheduled entry points. They only decide and enqueue; the work runs in jobs (`cc_sync.cc_sync.jobs`).

A cheap gate runs every five minutes and enqueues each stream whose interval has passed, one job per
stream (`cc_sync::<stream>`, deduplicated), so no stream ever runs twice at once; and the opt-out push
when a site opt-out whose push failed is due again. The document-event
handlers live in `cc_sync.cc_sync.doc_events`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import frappe
from frappe.utils import cint, get_datetime, now_datetime

from cc_sync.cc_sync.constants import OPT_OUT, SCHEDULE, TRIGGER_SCHEDULER, OptOutStatus
from cc_sync.cc_sync.jobs import (
	enqueue_stream,
	run_stream,  # noqa: F401 (jobs queued before it moved to `jobs` name it here)
	sync_is_on,
)
from cc_sync.cc_sync.settings import all_stored_values, campaign_data_granted
from cc_sync.sync.streams import STREAM_ENGAGEMENT, STREAM_OPTOUT_PUSH, STREAM_OPTOUTS

GATE_LOCK_KEY = "cc_sync:gate"


def enqueue_due_streams() -> list[str]:
	"""Cron gate: enqueue every stream whose interval has passed. Returns the streams queued."""
	from cc_sync.cc_sync.machinery import note_gate_tick
	from cc_sync.cc_sync.onboarding import tick_steps

	note_gate_tick()
	tick_steps()
	values = all_stored_values()
	if not sync_is_on(values):
		return []
	now = now_datetime()
	queued = []
	# Email engagement stays off on a connection without CC's campaign_data (the settings page says why).
	off = set() if campaign_data_granted() else {STREAM_ENGAGEMENT}
	# Two gates fired at once (two scheduler hosts, a manual run) must not both enqueue.
	with frappe.cache.lock(frappe.cache.make_key(GATE_LOCK_KEY), timeout=60, blocking_timeout=30):
		for stream, job in SCHEDULE.items():
			minutes = cint(values.get(job.interval)) * job.minutes_per_unit
			if minutes <= 0 or stream in off:
				continue
			last = values.get(job.last_run)
			if last and now - get_datetime(last) < timedelta(minutes=minutes):
				continue
			if enqueue_stream(stream, TRIGGER_SCHEDULER):
				queued.append(stream)
		if STREAM_OPTOUTS not in queued and optout_retries_due(now):
			# A site opt-out whose push failed is due again (a minute after a transient failure): it
			# goes at this tick, not at the next opt-out run.
			if enqueue_stream(STREAM_OPTOUT_PUSH, TRIGGER_SCHEDULER):
				queued.append(STREAM_OPTOUT_PUSH)
	return queued


def optout_retries_due(now: Any) -> bool:
	"""Is a site opt-out whose push failed due to be tried again? (One indexed-size query: few rows.)"""
	return bool(
		frappe.db.sql(
			f"""select 1 from `tab{OPT_OUT}` where status = %s and attempts > 0 and retry_at <= %s limit 1""",
			(OptOutStatus.PENDING, now),
		)
	)
