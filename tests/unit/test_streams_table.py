"""The streams are declared once (`cc_sync.sync.streams`): everything else that names them agrees with it.

A stream added, renamed or relabelled in one place only would leave a job the scheduler never runs, a
menu entry the API refuses, or a log row its DocType cannot store; these tests say where.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from cc_sync.cc_sync import constants
from cc_sync.sync import engine, streams
from cc_sync.sync.records import ALL_STREAMS

ROOT = Path(__file__).resolve().parents[2]
DOCTYPES = ROOT / "cc_sync" / "cc_sync" / "doctype"
SETTINGS_JS = DOCTYPES / "constant_contact_settings" / "constant_contact_settings.js"


def _select_options(doctype: str, fieldname: str) -> list[str]:
	meta = json.loads((DOCTYPES / doctype / f"{doctype}.json").read_text())
	(field,) = [f for f in meta["fields"] if f["fieldname"] == fieldname]
	return field["options"].split("\n")


def _fieldnames(doctype: str) -> set[str]:
	meta = json.loads((DOCTYPES / doctype / f"{doctype}.json").read_text())
	return {f["fieldname"] for f in meta["fields"]}


def _js_rows(const: str) -> list[list[str]]:
	"""The rows of a `const NAME = [[...], ...];` table in the settings form's script, as strings."""
	body = re.search(rf"const {const} = \[(.*?)\n\];", SETTINGS_JS.read_text(), re.S).group(1)
	rows = re.findall(r"\[(.*?)\],", body)
	return [re.findall(r'"([^"]*)"|(\d+)', row) for row in rows]


def _first_of_each(rows: list[list[tuple[str, str]]]) -> list[list[str]]:
	return [[a or b for a, b in row] for row in rows]


def test_the_table_names_every_stream_once():
	names = [s.name for s in streams.STREAMS]
	assert len(names) == len(set(names))
	assert set(names) == set(ALL_STREAMS)
	for s in streams.STREAMS:
		assert set(s.needs) <= set(names), s.name


def test_the_engine_phases_come_from_the_table():
	assert engine.PULL_STREAMS == ("optouts", "changes", "deletes", "reconcile", "optout_scan")
	assert set(engine.PUSH_NEEDS) == {"optouts", "changes", "deletes"}
	assert set(engine.DEFAULT_STREAMS) == set(ALL_STREAMS) - {"reconcile", "optout_scan"}


def test_the_log_labels_and_the_log_doctypes_options_agree():
	labels = [s.label for s in streams.STREAMS]
	assert list(constants.STREAM_LABELS.values()) == labels
	assert _select_options("constant_contact_sync_log_stream", "stream") == labels
	assert _select_options("constant_contact_sync_log_plan", "stream") == labels
	assert _select_options("constant_contact_sync_log", "stream") == [
		constants.JOB_ALL_LABEL,
		*labels,
		constants.JOB_RECORD_LABEL,
	]


def test_every_job_asks_for_known_streams_and_every_scheduled_job_is_a_job():
	for job, wanted in constants.JOB_STREAMS.items():
		assert set(wanted) <= set(ALL_STREAMS), job
	assert set(constants.SCHEDULE) <= set(constants.JOB_STREAMS)
	# The opt-out push runs on its own only when a site opt-out asks for it, never on a timer.
	assert "optout_push" not in constants.SCHEDULE


def test_each_scheduled_job_has_its_settings_fields():
	fields = _fieldnames("constant_contact_settings")
	for job, named in constants.SCHEDULE.items():
		assert {named.interval, named.last_run, named.last_status} <= fields, job
	assert set(constants.WATERMARK_FIELD.values()) <= fields
	# Every stream that keeps a watermark has its field, and no other stream has one.
	assert set(constants.WATERMARK_FIELD) == {s.name for s in streams.STREAMS if s.watermark}


def test_the_settings_form_offers_the_jobs_and_shows_the_schedule():
	offered = [row[0] for row in _first_of_each(_js_rows("CC_STREAMS"))]
	assert len(offered) == len(set(offered))
	# Every job but the opt-out push, which a site opt-out starts by itself.
	assert set(offered) == set(constants.JOB_STREAMS) - {"optout_push"}
	scheduled = [(r[0], r[2], int(r[3]), r[4], r[5]) for r in _first_of_each(_js_rows("CC_SCHEDULED"))]
	assert scheduled == [
		(job, f.interval, f.minutes_per_unit, f.last_run, f.last_status)
		for job, f in constants.SCHEDULE.items()
	]


def test_the_command_line_offers_every_job():
	source = (ROOT / "cc_sync" / "commands.py").read_text()
	assert "from cc_sync.cc_sync.constants import JOB_STREAMS" in source
	assert re.search(r"^STREAM_CHOICES = .*\bJOB_STREAMS\b", source, re.M)


def test_the_structure_page_lists_the_streams_as_declared():
	page = (ROOT / "docs" / "structure.md").read_text()
	rows = re.findall(r"^\| `(\w+)` \| (\w+) \| ([^|]+) \|", page, re.M)
	assert [(name, phase, label.strip()) for name, phase, label in rows] == [
		(s.name, s.phase.value, s.label) for s in streams.STREAMS
	]
	needs = {
		m.group(1): tuple(re.findall(r"`(\w+)`", m.group(2)))
		for m in re.finditer(r"^\| `(\w+)` \|(?:[^|]*\|){4}([^|]*)\|$", page, re.M)
	}
	assert needs == {s.name: s.needs for s in streams.STREAMS}


def test_a_stream_status_reads_and_serialises_as_its_plain_word():
	"""Logs, the form's JSON and the shell show the status word, never the enum's name."""
	from cc_sync.sync.report import RunReport, StreamStatus

	report = RunReport(started=None)
	report.stream("changes").status = StreamStatus.FAILED
	report.stream("push").status = StreamStatus.SKIPPED
	assert report.status == "failed"
	assert f"{report.status}" == "failed"
	assert json.dumps({"status": report.status}) == '{"status": "failed"}'
