"""Statuses are declared once, as enums, and what stores or shows them agrees with the declaration.

A status renamed in one place only would leave a log its DocType refuses to save, a Lead whose push
status the field cannot hold, or a list view that colours nothing; these tests say where.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from cc_sync.cc_sync import constants
from cc_sync.cc_sync.constants import STATUS_LABELS, STREAM_ROW_STATUSES, LogStatus, OptOutStatus
from cc_sync.sync.records import SENT_STATUSES, PushStatus
from cc_sync.sync.report import StreamStatus

DOCTYPES = Path(__file__).resolve().parents[2] / "cc_sync" / "cc_sync" / "doctype"


def _options(doctype: str, fieldname: str) -> list[str]:
	meta = json.loads((DOCTYPES / doctype / f"{doctype}.json").read_text())
	(field,) = [f for f in meta["fields"] if f["fieldname"] == fieldname]
	return field["options"].split("\n")


def _literal(doctype: str, fieldname: str) -> list[str]:
	"""The values of the controller's generated `fieldname: DF.Literal[...]` type."""
	text = (DOCTYPES / doctype / f"{doctype}.py").read_text()
	body = re.search(rf"\b{fieldname}: DF\.Literal\[(.*?)\]", text, re.S).group(1)
	return re.findall(r'"([^"]*)"', body)


def _values(enum: type) -> list[str]:
	return [member.value for member in enum]


def test_a_status_reads_stores_and_compares_as_its_plain_word():
	for member in (*LogStatus, *OptOutStatus, *PushStatus):
		assert str(member) == f"{member}" == member.value
		assert member == member.value and member in {member.value}
		assert json.dumps(member) == json.dumps(member.value)


def test_the_sync_logs_statuses_are_the_enums():
	assert _options("constant_contact_sync_log", "status") == _values(LogStatus)
	assert _literal("constant_contact_sync_log", "status") == _values(LogStatus)
	rows = [s.value for s in STREAM_ROW_STATUSES]
	assert _options("constant_contact_sync_log_stream", "status") == rows
	assert _literal("constant_contact_sync_log_stream", "status") == rows


def test_every_engine_status_has_a_log_status_a_stream_row_can_hold():
	assert set(STATUS_LABELS) == set(StreamStatus)
	assert set(STATUS_LABELS.values()) == set(STREAM_ROW_STATUSES)


def test_the_opt_out_queue_statuses_are_the_enum():
	assert _options("constant_contact_opt_out", "status") == _values(OptOutStatus)
	assert _literal("constant_contact_opt_out", "status") == _values(OptOutStatus)


def test_the_lead_push_status_field_holds_every_push_status():
	assert constants.PUSH_STATUSES == ("", *_values(PushStatus))
	assert SENT_STATUSES == {PushStatus.QUEUED, PushStatus.PUSHED}


def test_the_desk_scripts_name_only_log_statuses():
	"""Every status the Sync Log and settings scripts compare with or colour is a Sync Log status."""
	scripts = [
		DOCTYPES / "constant_contact_sync_log" / "constant_contact_sync_log.js",
		DOCTYPES / "constant_contact_sync_log" / "constant_contact_sync_log_list.js",
		DOCTYPES / "constant_contact_settings" / "constant_contact_settings.js",
	]
	named: set[str] = set()
	for script in scripts:
		text = script.read_text()
		named.update(re.findall(r'doc\.status === "(\w+)"', text))
		for group in re.findall(r"\[([^\]]*)\]\.includes\(doc\.status\)", text):
			named.update(re.findall(r'"(\w+)"', group))
		# Colour tables: `{ Success: "green", ... }`.
		for table in re.findall(r"\{([^{}]*\b(?:Success|Failed)\s*:[^{}]*)\}", text):
			named.update(re.findall(r"\b(\w+)\s*:", table))
	assert named
	assert named <= set(_values(LogStatus)), named - set(_values(LogStatus))


def test_the_connection_statuses_are_the_settings_options():
	declared = [
		constants.CONNECTION_NOT_CONNECTED,
		constants.CONNECTION_CONNECTED,
		constants.CONNECTION_ERROR,
	]
	assert _options("constant_contact_settings", "connection_status") == declared
	script = (DOCTYPES / "constant_contact_settings" / "constant_contact_settings.js").read_text()
	named = set(re.findall(r'connection_status === "([^"]+)"', script))
	assert named and named <= set(declared)


def test_the_permission_vocabulary_is_the_clients_and_every_value_has_a_state_the_forms_show():
	from cc_sync.constant_contact import models
	from cc_sync.sync import consent, engine

	assert consent.KNOWN_PERMISSIONS is models.KNOWN_PERMISSIONS == frozenset(models.Permission)
	assert set(engine._STATE_BY_PERMISSION) == set(models.Permission)
	script = (DOCTYPES.parents[1] / "public" / "js" / "record_sync.bundle.js").read_text()
	table = re.search(r"cc_sync\.STORED_STATES = \{(.*?)\n\};", script, re.S).group(1)
	shown = set(re.findall(r'^\t"?([^":\n]+)"?:', table, re.M))
	states = {*engine._STATE_BY_PERMISSION.values(), engine.STATE_NOT_IN_CC, "deleted", "unknown"}
	assert states <= shown, states - shown
