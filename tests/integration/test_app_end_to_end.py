"""The whole app over HTTP: the emulator served on loopback, the site's own web server, a real
OAuth connection through the emulator's authorize and token endpoints, a sync through the runner,
and the Sync Logs it leaves. Skipped with one line when the site's web server is not running.
"""

from __future__ import annotations

import os

import pytest
import requests

import frappe

from cc_sync.cc_sync import runner
from cc_sync.cc_sync.constants import (
	CONF_API_BASE,
	CONF_AUTH_BASE,
	CONNECTION_CONNECTED,
	CONTACT,
	EMAIL_GROUP,
	EMAIL_GROUP_MEMBER,
	LIST,
	SETTINGS,
	SYNC_LOG,
	TRIGGER_SHELL,
)
from cc_sync.cc_sync.settings import WATERMARK_FIELDS, update_settings
from tests.integration.app_helpers import save_settings, serve_emulator, settings_restored

SITE_URL = os.environ.get("CC_SYNC_SITE_URL", "http://127.0.0.1:8000")
ADMIN_PASSWORD = os.environ.get("CC_SYNC_ADMIN_PASSWORD", "admin")
GROUP = "tier2 CC newsletter"


@pytest.fixture
def emulator():
	"""`python -m cc_sync_testkit.emulator serve` on a free loopback port."""
	with serve_emulator() as info:
		yield info


@pytest.fixture
def web():
	try:
		requests.get(f"{SITE_URL}/api/method/ping", timeout=3).raise_for_status()
	except requests.RequestException:
		pytest.skip(f"tier 2 end to end: no web server for the site at {SITE_URL} (set CC_SYNC_SITE_URL)")
	session = requests.Session()
	session.post(
		f"{SITE_URL}/api/method/login", data={"usr": "Administrator", "pwd": ADMIN_PASSWORD}
	).raise_for_status()
	return session


@pytest.fixture
def pointed_at(emulator, frappe_site):
	"""Site config sends the API and OAuth calls to the emulator (the only way to change hosts)."""
	from frappe.installer import update_site_config

	old = {k: frappe.conf.get(k) for k in (CONF_API_BASE, CONF_AUTH_BASE)}
	lists_before = set(frappe.get_all(LIST, pluck="name"))
	with settings_restored():
		update_site_config(CONF_API_BASE, emulator["api"])
		update_site_config(CONF_AUTH_BASE, emulator["auth"])
		frappe.local.conf[CONF_API_BASE] = emulator["api"]
		frappe.local.conf[CONF_AUTH_BASE] = emulator["auth"]

		def point(doc):
			doc.client_id, doc.client_secret = emulator["id"], emulator["secret"]
			doc.set("list_mappings", [])

		save_settings(point)
		# A fresh account: every stream starts from the beginning.
		update_settings({field: None for field in WATERMARK_FIELDS}, commit=True)
		try:
			yield emulator
		finally:
			for key, value in old.items():
				update_site_config(key, value if value else "None")
				frappe.local.conf[key] = value
			frappe.db.rollback()
			for name in set(frappe.get_all(LIST, pluck="name")) - lists_before:
				frappe.db.delete(LIST, {"name": name})
			frappe.db.commit()


def _connect_over_http(session: requests.Session) -> None:
	r = session.post(f"{SITE_URL}/api/method/cc_sync.cc_sync.oauth.connect")
	r.raise_for_status()
	url = r.json()["message"]["url"]
	authorize = session.get(url, allow_redirects=False)
	assert authorize.status_code == 302, authorize.text
	back = authorize.headers["Location"]
	assert back.startswith(SITE_URL + "/api/method/cc_sync.cc_sync.oauth.callback?")
	done = session.get(back, allow_redirects=False)
	assert done.status_code in (302, 303), done.text[:500]
	assert done.headers["Location"].endswith("/app/constant-contact-settings")


def test_connect_sync_and_read_the_logs_end_to_end(web, pointed_at):
	_connect_over_http(web)
	frappe.db.rollback()
	frappe.clear_document_cache(SETTINGS, SETTINGS)
	settings = frappe.get_doc(SETTINGS)
	assert settings.connection_status == CONNECTION_CONNECTED
	assert settings.get_password("refresh_token")

	# The form's buttons, over HTTP.
	test = web.post(f"{SITE_URL}/api/method/cc_sync.cc_sync.api.test_connection").json()["message"]
	assert test["ok"], test
	lists = web.post(f"{SITE_URL}/api/method/cc_sync.cc_sync.api.refresh_lists").json()["message"]
	assert lists["lists"] == 2

	# Map the first list onto an Email Group, as a person would in the form.
	frappe.db.rollback()
	if not frappe.db.exists(EMAIL_GROUP, GROUP):
		frappe.get_doc({"doctype": EMAIL_GROUP, "title": GROUP}).insert(ignore_permissions=True)
	first_list = frappe.get_all(LIST, filters={"deleted": 0}, order_by="list_name asc", pluck="name")[0]
	save_settings(
		lambda doc: doc.append(
			"list_mappings", {"cc_list": first_list, "email_group": GROUP, "direction": "both", "enabled": 1}
		)
	)
	calls_before = frappe.db.get_single_value(SETTINGS, "api_calls_today") or 0

	result = runner.run_job("all", TRIGGER_SHELL)

	assert result.status in ("Success", "Partial"), result
	assert len(result.logs) == 1
	log = frappe.get_doc(SYNC_LOG, result.logs[0])
	by_stream = {row.stream: row for row in log.streams}
	assert {"Opt-outs", "Deletes", "Changes", "Push"} <= set(by_stream)
	assert by_stream["Changes"].fetched > 0 and by_stream["Changes"].created > 0
	assert by_stream["Changes"].watermark_after is not None
	assert log.trigger == TRIGGER_SHELL and log.created == sum(row.created for row in log.streams)
	assert log.api_calls == sum(row.api_calls for row in log.streams) > 0
	assert frappe.db.get_single_value(SETTINGS, "api_calls_today") > calls_before
	assert frappe.db.get_single_value(SETTINGS, "last_sync_log") == log.name
	assert frappe.db.count(EMAIL_GROUP_MEMBER, {"email_group": GROUP}) > 0

	# "Sync now" on one Contact, over HTTP, answers with CC's view of the person.
	contact = frappe.db.get_value(
		"Contact Email", {"email_id": ["like", "%@example.com"], "parenttype": CONTACT}, "parent"
	)
	r = web.post(
		f"{SITE_URL}/api/method/cc_sync.cc_sync.api.sync_record", data={"doctype": CONTACT, "name": contact}
	)
	r.raise_for_status()
	answer = r.json()["message"]
	assert answer["cc"]["state"] in ("subscribed", "unsubscribed", "deleted")
	assert answer["logs"]

	# A second run applies nothing new: no duplicate Contact, nothing created.
	again = runner.run_job("changes", TRIGGER_SHELL)
	assert again.status == "Success"
	second = frappe.get_doc(SYNC_LOG, again.logs[0])
	assert second.created == 0


def test_a_revoked_connection_fails_the_run_loudly_and_shows_on_the_settings(web, pointed_at):
	_connect_over_http(web)
	frappe.db.rollback()
	# CC no longer accepts either token (revoked, or a refresh token used twice).
	from frappe.utils.password import set_encrypted_password

	set_encrypted_password(SETTINGS, SETTINGS, "revoked-access", "access_token")
	set_encrypted_password(SETTINGS, SETTINGS, "revoked-refresh", "refresh_token")
	frappe.db.commit()

	result = runner.run_job("changes", TRIGGER_SHELL)

	assert result.status == "Failed"
	log = frappe.get_doc(SYNC_LOG, result.logs[0])
	assert log.status == "Failed" and "needs attention" in log.error
	assert frappe.db.get_single_value(SETTINGS, "connection_status") == "Error"
	assert "needs attention" in frappe.db.get_single_value(SETTINGS, "last_error")
	# Until someone reconnects, the scheduler leaves the account alone.
	from cc_sync import tasks

	assert tasks.enqueue_due_streams() == []
