"""The scheduled jobs' table is the one the settings form, the scheduler and the property suite share."""

from __future__ import annotations

import json
from pathlib import Path

from cc_sync.sync.records import ALL_STREAMS
from cc_sync.sync.schedule import DEFAULT_INTERVAL_MINUTES, JOB_STREAMS

SETTINGS_JSON = (
	Path(__file__).resolve().parents[2]
	/ "cc_sync/cc_sync/doctype/constant_contact_settings/constant_contact_settings.json"
)
# Interval fields on the settings form, and minutes per unit of each.
FIELDS = {
	"optouts": ("optouts_interval", 1),
	"changes": ("changes_interval", 1),
	"deletes": ("deletes_interval", 1),
	"push": ("push_interval", 1),
	"reconcile": ("reconcile_interval_hours", 60),
	"optout_scan": ("optout_scan_interval_hours", 60),
}


def test_the_settings_form_defaults_are_the_schedules_defaults():
	fields = {f["fieldname"]: f for f in json.loads(SETTINGS_JSON.read_text())["fields"]}
	for job, minutes in DEFAULT_INTERVAL_MINUTES.items():
		fieldname, unit = FIELDS[job]
		assert int(fields[fieldname]["default"]) * unit == minutes, job


def test_every_job_runs_streams_the_engine_knows():
	assert set(DEFAULT_INTERVAL_MINUTES) <= set(JOB_STREAMS)
	for job, streams in JOB_STREAMS.items():
		assert set(streams) <= set(ALL_STREAMS), job
