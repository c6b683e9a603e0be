"""Background jobs: queue a job for one stream (deduplicated, one per stream), and the job that runs it.

Every caller queues through here: the scheduler's gate (`cc_sync.tasks`), the settings buttons and
"Sync now" (`api`), the command line and the opt-out hooks (`doc_events`). The job id is
`cc_sync::<stream>`, so no stream ever runs twice at once.
"""

from __future__ import annotations

from typing import Any

import frappe
from frappe.utils import cint

from cc_sync.cc_sync.constants import (
	CONNECTION_CONNECTED,
	JOB_METHOD,
	JOB_PREFIX,
	JOB_TIMEOUT,
	QUEUE,
	TRIGGER_OPTOUT,
	TRIGGER_SCHEDULER,
)
from cc_sync.cc_sync.settings import all_stored_values
from cc_sync.sync.streams import STREAM_OPTOUT_PUSH


def sync_is_on(values: dict[str, Any] | None = None) -> bool:
	"""The sync is on: Enabled is ticked and the connection works (only then does anything reach CC)."""
	values = all_stored_values() if values is None else values
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
	from cc_sync.cc_sync.machinery import note_job_started
	from cc_sync.cc_sync.runner import run_job

	note_job_started()

	return run_job(stream, trigger, dry_run=bool(dry_run)).status


def enqueue_optout_push() -> None:
	"""Push site opt-outs to CC now rather than at the next scheduled turn (if connected)."""
	if sync_is_on():
		enqueue_stream(STREAM_OPTOUT_PUSH, TRIGGER_OPTOUT)
