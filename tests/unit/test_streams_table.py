"""The streams and jobs are declared once (`cc_sync.sync.streams`): everything else is derived from that
table or held to it, and a second copy anywhere in the app fails here.

A stream added, renamed or relabelled in one place only would leave a job the scheduler never runs, a
menu entry the API refuses, a settings field that reads as 0 (off), or a log row its DocType cannot
store; these tests say where.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import fields as dataclass_fields
from pathlib import Path

from cc_sync.cc_sync import constants
from cc_sync.sync import engine, streams
from cc_sync.sync.report import StreamReport

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "cc_sync"
DOCTYPES = APP / "cc_sync" / "doctype"
TABLE = APP / "sync" / "streams.py"


def _meta(doctype: str) -> dict:
	return json.loads((DOCTYPES / doctype / f"{doctype}.json").read_text())


def _select_options(doctype: str, fieldname: str) -> list[str]:
	(field,) = [f for f in _meta(doctype)["fields"] if f["fieldname"] == fieldname]
	return field["options"].split("\n")


def _fields(doctype: str) -> dict[str, dict]:
	return {f["fieldname"]: f for f in _meta(doctype)["fields"]}


def _job_fields() -> set[str]:
	named = {
		f for j in streams.SCHEDULED_JOBS for f in (j.interval_field, j.last_run_field, j.last_status_field)
	}
	return named | set(constants.WATERMARK_FIELD.values())


def test_the_table_names_every_stream_once():
	names = [s.name for s in streams.STREAMS]
	assert len(names) == len(set(names))
	assert streams.ALL_STREAMS == tuple(names)
	for s in streams.STREAMS:
		assert set(s.needs) <= set(names), s.name


def test_the_engine_takes_its_steps_and_phases_from_the_table():
	assert engine.PULL_STREAMS == ("optouts", "changes", "deletes", "reconcile", "optout_scan")
	assert set(engine.PUSH_NEEDS) == {"optouts", "changes", "deletes"}
	assert set(engine.DEFAULT_STREAMS) == set(streams.ALL_STREAMS) - {
		"reconcile",
		"optout_scan",
		"engagement",
	}
	# Every stream is a step of a run, and every step that is not a pull has its module.
	assert set(streams.RUN_ORDER) == set(streams.ALL_STREAMS)
	pulls = streams.names(phase=streams.Phase.PULL)
	assert set(engine.STEPS) == set(streams.ALL_STREAMS) - set(pulls)
	# Pulls first, and each stream after everything it needs.
	order = list(streams.RUN_ORDER)
	assert tuple(order[: len(pulls)]) == pulls
	for s in streams.STREAMS:
		for need in s.needs:
			assert order.index(need) < order.index(s.name), (need, s.name)


def test_the_log_labels_and_the_log_doctypes_options_agree():
	labels = [s.label for s in streams.STREAMS]
	assert list(constants.STREAM_LABELS.values()) == labels
	assert _select_options("constant_contact_sync_log_stream", "stream") == labels
	assert _select_options("constant_contact_sync_log_plan", "stream") == labels
	assert _select_options("constant_contact_sync_log", "stream") == [
		streams.JOB_BY_NAME[streams.JOB_ALL].label,
		*labels,
		constants.JOB_RECORD_LABEL,
	]


def test_every_job_asks_for_known_streams_and_every_scheduled_job_is_a_job():
	for job in streams.JOBS:
		assert set(job.streams) <= set(streams.ALL_STREAMS), job.name
	assert [j.name for j in streams.JOBS] == list(constants.JOB_STREAMS)
	assert list(constants.SCHEDULE) == [j.name for j in streams.SCHEDULED_JOBS]
	# The opt-out push runs on its own only when a site opt-out asks for it, never on a timer.
	assert "optout_push" not in constants.SCHEDULE


def test_each_scheduled_job_has_its_settings_fields_with_the_tables_default():
	fields = _fields("constant_contact_settings")
	for job in streams.SCHEDULED_JOBS:
		interval = fields[job.interval_field]
		assert interval["fieldtype"] == "Int", job.name
		assert int(interval["default"]) * job.minutes_per_unit == job.every_minutes, job.name
		assert ("(hours)" in interval["label"]) == (job.minutes_per_unit == 60), job.name
		assert fields[job.last_run_field]["fieldtype"] == "Datetime", job.name
		assert job.last_status_field in fields, job.name
	# Every stream that keeps a watermark has its field, and no other stream has one.
	assert set(constants.WATERMARK_FIELD) == {s.name for s in streams.STREAMS if s.watermark}
	for stream, fieldname in constants.WATERMARK_FIELD.items():
		assert fields[fieldname]["fieldtype"] == "Datetime", stream


def test_the_settings_doctype_holds_no_job_field_the_table_does_not_name():
	"""A job or watermark field left on the form after its row left the table would never be read."""
	pattern = re.compile(r"^(\w+_interval(_hours)?|last_\w+_(run|status)|\w+_watermark)$")
	on_form = {f for f in _fields("constant_contact_settings") if pattern.match(f)}
	assert on_form == _job_fields()


def test_a_site_that_never_stored_an_interval_gets_the_tables_default():
	"""A job added after a site was installed must not read as 0 (off) there."""
	source = (APP / "cc_sync" / "install.py").read_text()
	assert "job.interval_field: job.default_interval for job in SCHEDULED_JOBS" in source


def test_every_count_is_a_field_of_a_stream_report_and_of_the_logs():
	# The report's own int counts are exactly the table's (and its API calls).
	ints = {f.name for f in dataclass_fields(StreamReport) if f.type in ("int", int)}
	assert ints == {*streams.COUNTERS, "api_calls"}
	for doctype, extra in (
		("constant_contact_sync_log", {"api_calls", "runs", "plan_total"}),
		("constant_contact_sync_log_stream", {"api_calls"}),
	):
		int_fields = {f for f, d in _fields(doctype).items() if d["fieldtype"] == "Int"}
		assert int_fields == {*streams.COUNTERS, *extra}, doctype


def test_the_desk_reads_the_table_from_the_server():
	"""The settings form, the log list and Sync now on a record get the jobs and counts at login."""
	hooks = (APP / "hooks.py").read_text()
	assert re.search(r'^boot_session = "cc_sync\.cc_sync\.boot\.boot_session"$', hooks, re.M)
	boot = (APP / "cc_sync" / "boot.py").read_text()
	assert "from cc_sync.sync.streams import COUNTS, JOBS, STREAMS" in boot
	for script in _scripts():
		assert "cc_sync.tables()" in script.read_text() or not re.search(
			r"\b(interval|watermark)\b", script.read_text()
		), script


def _scripts() -> list[Path]:
	return sorted(APP.rglob("*.js"))


def _python() -> list[Path]:
	return sorted(p for p in APP.rglob("*.py") if p != TABLE)


def _literal_groups(path: Path) -> list[set[str]]:
	"""The string literals of each tuple, list, set and dict in a Python module, one set per display."""
	groups = []
	for node in ast.walk(ast.parse(path.read_text())):
		items = node.keys if isinstance(node, ast.Dict) else getattr(node, "elts", None)
		if isinstance(node, ast.Dict | ast.Tuple | ast.List | ast.Set) and items:
			groups.append(
				{n.value for n in items if isinstance(n, ast.Constant) and isinstance(n.value, str)}
			)
	return groups


def _copies(words: set[str], most: int, script_words: set[str]) -> list[str]:
	"""Where more than `most` of `words` sit in one Python display or, quoted, in one desk script."""
	copies = []
	for path in _python():
		for group in _literal_groups(path):
			if len(group & words) > most:
				copies.append(f"{path.relative_to(ROOT)}: {sorted(group & words)}")
	for path in _scripts():
		found = {w for w in script_words if re.search(rf"[\"'`]{re.escape(w)}[\"'`]", path.read_text())}
		if len(found) > most:
			copies.append(f"{path.relative_to(ROOT)}: {sorted(found)}")
	return copies


def test_no_second_copy_of_the_stream_or_job_table_appears_in_the_app():
	# Two stream names side by side are a table (one alone is a use, like the record sync's pull).
	names = set(streams.ALL_STREAMS)
	copies = _copies(names, 1, names)
	assert not copies, "declared in cc_sync/sync/streams.py only:\n" + "\n".join(copies)


def test_no_second_copy_of_the_counts_appears_in_the_app():
	# Three count names are a table ("created" and "updated" are also CC's own query words); in a
	# script, its phrases are ("{0} created").
	copies = _copies(set(streams.COUNTERS), 2, {c.phrase for c in streams.COUNTS})
	assert not copies, "declared in cc_sync/sync/streams.py only:\n" + "\n".join(copies)


def test_no_settings_field_of_the_table_is_spelled_out_elsewhere():
	spelled = []
	for path in [*_python(), *_scripts()]:
		text = path.read_text()
		spelled += [
			f"{path.relative_to(ROOT)}: {w}" for w in _job_fields() if re.search(rf"[\"'`]{w}[\"'`]", text)
		]
	assert not spelled


def test_the_command_line_offers_every_job():
	source = (APP / "commands.py").read_text()
	assert re.search(r"^from cc_sync\.cc_sync\.constants import JOB_STREAMS\b", source, re.M)
	assert re.search(r"^STREAM_CHOICES = tuple\(JOB_STREAMS\)$", source, re.M)


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
