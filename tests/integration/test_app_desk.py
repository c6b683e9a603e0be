"""The desk a marketer works in: the Constant Contact workspace and its cards, the health line with
the action that fixes it, the Constant Contact User role, and the settings checks that prevent harm."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import frappe

from cc_sync.cc_sync import api, dashboard, health, machinery
from cc_sync.cc_sync.constants import (
	CONNECTION_CONNECTED,
	CONNECTION_ERROR,
	CONTACT,
	LEAD,
	LIST,
	OPT_OUT,
	SETTINGS,
	SYNC_LOG,
)
from cc_sync.cc_sync.settings import update_settings
from tests.integration.app_helpers import drop_user, make_user, save_settings, settings_restored

MARKETER = "tier2-marketer@tier2.test"
ROLE = "Constant Contact User"


@pytest.fixture
def marketer():
	"""A desk user whose only app role is Constant Contact User (no System Manager)."""
	yield make_user(MARKETER, (ROLE,))
	frappe.set_user("Administrator")
	drop_user(MARKETER)


@pytest.fixture
def connected():
	with settings_restored():
		update_settings(
			{"client_id": "tier2", "connection_status": CONNECTION_CONNECTED, "enabled": 1}, commit=True
		)
		yield


def test_the_workspace_is_public_for_managers_and_marketers_and_linked_from_integrations():
	ws = frappe.get_doc("Workspace", "Constant Contact")
	assert ws.public and {r.role for r in ws.roles} == {"System Manager", ROLE}
	blocks = [b["type"] for b in json.loads(ws.content)]
	assert blocks[0] == "custom_block" and blocks.count("number_card") == 11 and blocks.count("chart") == 4
	# The desk finds each block by its label in the workspace's tables.
	labels = {r.label for r in (*ws.number_cards, *ws.charts, *ws.custom_blocks)}
	for block in json.loads(ws.content):
		name = block["data"].get(f"{block['type']}_name")
		if block["type"] in ("number_card", "chart", "custom_block"):
			assert name in labels, name
	assert frappe.db.exists("Custom HTML Block", "Constant Contact Status")
	for card in ws.number_cards:
		method = frappe.db.get_value("Number Card", card.number_card_name, "method")
		assert frappe.get_attr(method)(filters=None) is not None, card.number_card_name
	integrations = frappe.get_doc("Workspace", "Integrations")
	assert any(s.url == "/app/constant-contact" for s in integrations.shortcuts)
	assert "Constant Contact" in integrations.content


def test_the_marketer_reads_the_desk_but_not_the_settings_and_runs_no_settings_action(marketer, monkeypatch):
	# frappe.only_for lets everyone through while frappe.flags.in_test is set.
	monkeypatch.setattr(frappe.local.flags, "in_test", False)
	frappe.set_user(MARKETER)
	try:
		assert frappe.has_permission(SYNC_LOG, "read")
		assert frappe.has_permission(OPT_OUT, "read")
		assert frappe.has_permission(LIST, "read")
		assert not frappe.has_permission(SETTINGS, "read")
		assert not frappe.has_permission(SYNC_LOG, "write")
		from frappe.desk.desktop import get_desktop_page

		page = get_desktop_page(json.dumps({"name": "Constant Contact", "title": "Constant Contact"}))
		assert len(page["number_cards"]["items"]) == 11 and len(page["charts"]["items"]) == 4
		assert page["custom_blocks"]["items"]
		line = health.get_health()
		assert line["level"] in ("green", "orange", "red") and line["can_act"] is False
		monkeypatch.setattr(api, "enqueue_stream", lambda *a, **k: pytest.fail("nothing may be queued"))
		with pytest.raises(frappe.PermissionError):
			api.sync_now("all")
		assert dashboard.contacts_in_sync()["route"] == ["List", CONTACT]
	finally:
		frappe.set_user("Administrator")


def test_a_user_without_the_role_sees_no_sync_health(marketer):
	frappe.set_user("Guest")
	try:
		with pytest.raises(frappe.PermissionError):
			health.get_health()
	finally:
		frappe.set_user("Administrator")


def test_the_health_line_names_the_first_thing_to_fix(connected, monkeypatch):
	monkeypatch.setattr(health, "worker_problem", lambda: None)
	monkeypatch.setattr(health, "scheduler_problem", lambda: None)
	update_settings({"connection_status": CONNECTION_ERROR, "last_error": "invalid_grant"})
	line = health.health()
	assert line["level"] == "red" and line["action"]["label"] == "Reconnect"
	assert line["detail"] == "invalid_grant" and "invalid_grant" not in line["message"]

	update_settings({"connection_status": CONNECTION_CONNECTED})
	monkeypatch.setattr(health, "scheduler_problem", lambda: "The site's scheduler is off")
	assert health.health()["message"] == "The site's scheduler is off"
	monkeypatch.setattr(health, "scheduler_problem", lambda: None)

	monkeypatch.setattr(health, "worker_problem", lambda: "No background worker")
	assert health.health()["message"] == "No background worker"
	monkeypatch.setattr(health, "worker_problem", lambda: None)

	update_settings({"enabled": 0})
	assert health.health()["action"]["label"] == "Turn on"


def test_the_scheduler_check_reads_the_sites_own_switch(monkeypatch):
	import frappe.utils.scheduler as scheduler

	monkeypatch.setattr(scheduler, "is_scheduler_inactive", lambda verbose=True: True)
	assert "scheduler is off" in machinery.scheduler_problem()
	monkeypatch.setattr(scheduler, "is_scheduler_inactive", lambda verbose=True: False)
	frappe.cache.delete_value(machinery.GATE_TICK_KEY)
	assert machinery.scheduler_problem() is None


def test_no_worker_on_the_long_queue_is_reported(monkeypatch):
	import frappe.utils.background_jobs as jobs

	monkeypatch.setattr(jobs, "get_workers", lambda queue=None: [])
	monkeypatch.setattr(machinery, "_oldest_waiting_seconds", lambda queue: 0.0)
	frappe.cache.delete_value(machinery.JOB_STARTED_KEY)
	assert "bench worker --queue long" in machinery.worker_problem()
	# RQ forgets a live worker's registration when Redis restarts: a sync job that started lately on a
	# worker still proves the queue is served.
	machinery.note_job_started()
	assert machinery.worker_problem() is None
	monkeypatch.setattr(machinery, "_oldest_waiting_seconds", lambda queue: 600.0)
	assert "bench worker --queue long" in machinery.worker_problem()
	frappe.cache.delete_value(machinery.JOB_STARTED_KEY)
	monkeypatch.setattr(jobs, "get_workers", lambda queue=None: ["a worker"])
	assert machinery.worker_problem() is None


@pytest.mark.parametrize(
	"filters, message",
	[
		('{"no_such_field": "x"}', "has no field no_such_field"),
		('[["nor_this", "=", 1]]', "has no field nor_this"),
	],
)
def test_push_filters_naming_a_missing_field_are_refused_on_save(connected, filters, message):
	def edit(doc):
		doc.push_doctype = LEAD
		doc.push_filters = filters

	with pytest.raises(frappe.ValidationError, match=message):
		save_settings(edit)


def test_good_push_filters_save(connected):
	doc = save_settings(lambda d: d.update({"push_doctype": LEAD, "push_filters": '{"status": "Open"}'}))
	assert json.loads(doc.push_filters) == {"status": "Open"}


def test_a_mapping_to_a_list_deleted_in_cc_is_flagged_on_save_and_on_the_health_line(connected, monkeypatch):
	monkeypatch.setattr(health, "worker_problem", lambda: None)
	monkeypatch.setattr(health, "scheduler_problem", lambda: None)
	group = "tier2 desk group"
	if not frappe.db.exists("Email Group", group):
		frappe.get_doc({"doctype": "Email Group", "title": group}).insert(ignore_permissions=True)
	lst = frappe.get_doc(
		{"doctype": LIST, "list_id": "tier2-gone-list", "list_name": "Spring promo", "deleted": 1}
	).insert(ignore_permissions=True)
	try:
		frappe.message_log = []
		save_settings(
			lambda d: d.set(
				"list_mappings",
				[{"cc_list": lst.name, "email_group": group, "direction": "both", "enabled": 1}],
			)
		)
		assert any("deleted in Constant Contact" in str(m) for m in frappe.message_log)
		line = health.health()
		assert line["level"] == "red" and "Spring promo" in line["message"]
	finally:
		save_settings(lambda d: d.set("list_mappings", []))
		frappe.delete_doc(LIST, lst.name, force=True, ignore_permissions=True)
		frappe.db.commit()


def test_system_managers_are_told_once_when_syncing_breaks_and_again_only_after_it_worked(monkeypatch):
	from cc_sync.cc_sync import alerts

	sent = []
	monkeypatch.setattr(alerts, "notify_system_managers", lambda subject, detail, log: sent.append(subject))
	frappe.cache.delete_value(alerts.ALERT_KEY)
	try:
		assert alerts.note_run("Failed", connection_broken=False, log_name="L1", error="boom")
		for _ in range(5):  # every scheduled tick while it stays broken
			assert not alerts.note_run("Failed", connection_broken=False, log_name="L2", error="boom")
		assert alerts.note_run("Failed", connection_broken=True, log_name="L3", error="invalid_grant")
		assert not alerts.note_run("Failed", connection_broken=False, log_name="L4", error="x")
		alerts.note_run("Success", connection_broken=False, log_name="L5", error=None)
		assert alerts.note_run("Failed", connection_broken=False, log_name="L6", error="again")
		assert len(sent) == 3 and "connection" in sent[1]
	finally:
		frappe.cache.delete_value(alerts.ALERT_KEY)


def test_the_alert_reaches_each_system_managers_bell():
	from cc_sync.cc_sync import alerts

	manager = make_user("tier2-manager@tier2.test", ("System Manager",))
	try:
		before = {
			u: frappe.db.count("Notification Log", {"for_user": u, "type": "Alert"})
			for u in (manager, "Administrator")
		}
		alerts.notify_system_managers("tier2 alert", "detail", "CCLOG-0000001")
		after = {
			u: frappe.db.count("Notification Log", {"for_user": u, "type": "Alert"})
			for u in (manager, "Administrator")
		}
		frappe.db.rollback()
		assert after == {u: n + 1 for u, n in before.items()}
	finally:
		drop_user(manager)


def test_saving_an_opt_out_says_it_was_sent_to_constant_contact(connected):
	doc = frappe.get_doc(
		{
			"doctype": CONTACT,
			"first_name": "tier2 optout",
			"email_ids": [{"email_id": "leaving@tier2.test", "is_primary": 1}],
		}
	).insert(ignore_permissions=True)
	frappe.message_log = []
	doc.unsubscribed = 1
	doc.save(ignore_permissions=True)
	messages = [
		json.loads(m).get("message") if isinstance(m, str) else m.get("message") for m in frappe.message_log
	]
	assert "Opt-out sent to Constant Contact: leaving@tier2.test" in messages
	frappe.db.rollback()


def test_the_guided_setup_ticks_each_step_when_its_state_exists(connected):
	from cc_sync.cc_sync import onboarding

	steps = [s.step for s in frappe.get_doc("Module Onboarding", onboarding.ONBOARDING).steps]
	assert steps == [
		"CC Create Application",
		"CC Enter Keys",
		"CC Connect",
		"CC Map Lists",
		"CC Dry Run",
		"CC Enable",
	]
	before = {s: frappe.db.get_value("Onboarding Step", s, "is_complete") for s in steps}
	was_complete = frappe.db.get_value("Module Onboarding", onboarding.ONBOARDING, "is_complete")
	try:
		for s in steps:
			frappe.db.set_value("Onboarding Step", s, "is_complete", 0)
		frappe.db.set_value("Module Onboarding", onboarding.ONBOARDING, "is_complete", 0)
		update_settings({"enabled": 0})
		onboarding.tick_steps()
		done = {s for s in steps if frappe.db.get_value("Onboarding Step", s, "is_complete")}
		assert {"CC Create Application", "CC Connect"} <= done and "CC Enable" not in done
		update_settings({"enabled": 1})
		onboarding.tick_steps()
		assert frappe.db.get_value("Onboarding Step", "CC Enable", "is_complete") == 1
		# Every step done: Frappe marks the whole onboarding complete (a save that must validate).
		for s in steps:
			frappe.db.set_value("Onboarding Step", s, "is_complete", 1)
		doc = frappe.get_doc("Module Onboarding", onboarding.ONBOARDING)
		assert doc.check_completion()
	finally:
		for s, value in before.items():
			frappe.db.set_value("Onboarding Step", s, "is_complete", value)
		frappe.db.set_value("Module Onboarding", onboarding.ONBOARDING, "is_complete", was_complete)
		frappe.db.commit()


def test_test_connection_says_plainly_when_cc_cannot_be_reached(connected, monkeypatch):
	import socket
	from datetime import datetime, timedelta, timezone

	from frappe.utils import now_datetime
	from frappe.utils.password import set_encrypted_password

	from cc_sync.cc_sync.constants import CONF_API_BASE

	with socket.socket() as s:
		s.bind(("127.0.0.1", 0))
		closed = s.getsockname()[1]
	set_encrypted_password(SETTINGS, SETTINGS, "a.eyJzdWIiOiJ0aWVyMiJ9.c", "access_token")
	set_encrypted_password(SETTINGS, SETTINGS, "tier2-refresh", "refresh_token")
	set_encrypted_password(SETTINGS, SETTINGS, "tier2-secret", "client_secret")
	update_settings({"token_expires_at": now_datetime() + timedelta(hours=2), "api_calls_today": 7})
	# The day's count is kept per UTC day (CC's budget resets at 00:00 UTC), whatever the site's time zone.
	update_settings({"api_calls_day": datetime.now(timezone.utc).date()}, commit=True)
	monkeypatch.setitem(frappe.local.conf, CONF_API_BASE, f"http://127.0.0.1:{closed}/v3")
	answer = api.test_connection()
	assert answer == {
		"ok": False,
		"message": "Constant Contact could not be reached; nothing was changed. Try again in a minute.",
	}
	assert frappe.db.get_single_value(SETTINGS, "connection_status") == CONNECTION_CONNECTED
	assert frappe.db.get_single_value(SETTINGS, "api_calls_today") == 7


def test_a_marketer_lands_on_the_constant_contact_workspace(marketer):
	from frappe.boot import get_bootinfo

	frappe.set_user(MARKETER)
	try:
		boot = get_bootinfo()
		assert boot.user.default_workspace["name"] == "Constant Contact"
		# The desk reads the stream table from the server, not from copies of its own.
		assert [j["name"] for j in boot.cc_sync["jobs"]][:2] == ["all", "optouts"]
	finally:
		frappe.set_user("Administrator")
	assert (get_bootinfo().user.get("default_workspace") or {}).get("name") != "Constant Contact"


def test_the_list_picker_names_each_list_with_its_members_in_words_in_name_order():
	from frappe.desk.search import search_link

	lists = [
		("tier2-count-b", "Tier2 Counted B", 1234, 0),
		("tier2-count-a", "Tier2 Counted A", 1, 0),
		("tier2-count-gone", "Tier2 Counted Gone", 50, 1),
	]
	for list_id, name, members, deleted in lists:
		frappe.get_doc(
			{
				"doctype": LIST,
				"list_id": list_id,
				"list_name": name,
				"membership_count": members,
				"deleted": deleted,
			}
		).insert(ignore_permissions=True)
	try:
		# What the settings' CC list field asks for (its set_query), through Frappe's own link search.
		found = search_link(
			LIST, "Tier2 Counted", query="cc_sync.cc_sync.list_picker.cc_lists", page_length=10
		)
		assert [(r["label"], r["description"]) for r in found] == [
			("Tier2 Counted A", "tier2-count-a, 1 member"),
			("Tier2 Counted B", "tier2-count-b, 1,234 members"),
		]
		settings_js = (
			Path(frappe.get_app_path("cc_sync"))
			/ "cc_sync/doctype/constant_contact_settings/constant_contact_settings.js"
		).read_text()
		assert '"cc_sync.cc_sync.list_picker.cc_lists"' in settings_js
	finally:
		for list_id, *_ in lists:
			frappe.delete_doc(LIST, list_id, force=True, ignore_permissions=True)
		frappe.db.commit()


def test_one_field_map_row_says_which_defaults_stop_being_synced(connected, monkeypatch):
	said: list[str] = []
	monkeypatch.setattr(frappe, "msgprint", lambda message, *a, **k: said.append(str(message)))
	save_settings(lambda doc: doc.set("field_map", []))
	said.clear()
	row = {"cc_field": "first_name", "site_field": "first_name", "field_owner": "cc"}
	save_settings(lambda doc: doc.set("field_map", [row]))
	warning = " ".join(m for m in said if "no longer be synced" in m)
	assert "last_name → last_name" in warning and "job_title → designation" in warning
	assert "first_name → first_name" not in warning
	# Saved again unchanged: said once, not on every save.
	said.clear()
	save_settings(lambda doc: doc.update({"overlap_minutes": 7}))
	assert not [m for m in said if "no longer be synced" in m]


def test_the_guided_setups_dry_run_step_asks_then_starts_a_dry_run(connected, monkeypatch):
	from pathlib import Path

	from cc_sync.cc_sync import onboarding

	step = frappe.get_doc("Onboarding Step", "CC Dry Run")
	assert (step.action, step.reference_document, step.action_label) == (
		"Update Settings",
		SETTINGS,
		"Start a dry run",
	)
	# The desk's guided-setup script, loaded on every desk page, gives this step (by its name) the route
	# option that makes the settings form ask and then start a dry run.
	assert "guided_setup.bundle.js" in frappe.get_hooks("app_include_js", app_name="cc_sync")
	script = Path(frappe.get_app_path("cc_sync", "public", "js", "guided_setup.bundle.js")).read_text()
	assert f'"{step.name}"' in script and 'cc_start: "dry_run"' in script
	# What the form calls once the person confirms: a dry run of every stream, queued, nothing written.
	queued = []
	monkeypatch.setattr(api, "require_connection", lambda settings: None)  # no tokens on the test site
	monkeypatch.setattr(
		api, "enqueue_stream", lambda stream, trigger, dry_run=False: queued.append((stream, dry_run)) or True
	)
	assert api.sync_now("all", 1) == {"queued": True, "stream": "all", "dry_run": True}
	assert queued == [("all", True)]
	# The step ticks itself only once a dry run has left its log.
	assert onboarding.step_states()["CC Dry Run"] == bool(frappe.db.exists(SYNC_LOG, {"dry_run": 1}))


def test_a_marketer_opening_the_settings_is_told_they_are_not_permitted(marketer):
	from pathlib import Path

	from frappe.boot import get_bootinfo
	from frappe.desk.form.load import getdoc

	frappe.set_user(MARKETER)
	try:
		boot = get_bootinfo()
		# Frappe's desk routes only the DocTypes a user may read: the settings' route is no DocType route
		# for a marketer, and no Page of that name exists, so Frappe would answer "Page not found".
		assert SETTINGS not in boot.user.can_read
		with pytest.raises(frappe.PermissionError):
			getdoc(SETTINGS, SETTINGS)
	finally:
		frappe.set_user("Administrator")
	route = SETTINGS.lower().replace(" ", "-")  # the desk's slug of a DocType name
	assert route == "constant-contact-settings" and not frappe.db.exists("Page", route)
	# The desk's standard page for that route says why instead, and gives away nothing of the settings.
	assert "settings_access.bundle.js" in frappe.get_hooks("app_include_js", app_name="cc_sync")
	script = Path(frappe.get_app_path("cc_sync", "public", "js", "settings_access.bundle.js")).read_text()
	assert f'frappe.standard_pages["{route}"]' in script
	assert "You are not permitted to open the Constant Contact settings: ask a System Manager." in script
