"""Who may press which button: record sync needs write permission, settings actions a System Manager."""

from __future__ import annotations

import pytest

import frappe

from cc_sync.cc_sync import api, oauth
from cc_sync.cc_sync.constants import CONTACT, SYNC_LOG
from cc_sync.constant_contact.auth import OAuthClient

NO_WRITE_USER = "tier2-reader@tier2.test"


@pytest.fixture
def reader():
	"""A desk user with no role that may write Contacts or run settings actions."""
	from tests.integration.app_helpers import drop_user, make_user

	yield make_user(NO_WRITE_USER)
	drop_user(NO_WRITE_USER)


@pytest.fixture
def contact():
	doc = frappe.get_doc(
		{
			"doctype": CONTACT,
			"first_name": "tier2 perm",
			"email_ids": [{"email_id": "perm@tier2.test", "is_primary": 1}],
		}
	).insert(ignore_permissions=True)
	frappe.db.commit()
	return doc.name


def test_sync_now_refuses_a_user_without_write_permission(reader, contact, monkeypatch):
	before = frappe.db.get_value(CONTACT, contact, ["modified", "unsubscribed"], as_dict=True)
	logs_before = frappe.db.count(SYNC_LOG)
	monkeypatch.setattr(api, "build", lambda *a, **k: pytest.fail("no client may be built"))
	frappe.set_user(reader)
	try:
		with pytest.raises(frappe.PermissionError):
			api.sync_record(CONTACT, contact)
	finally:
		frappe.set_user("Administrator")
	frappe.db.rollback()
	assert frappe.db.get_value(CONTACT, contact, ["modified", "unsubscribed"], as_dict=True) == before
	assert frappe.db.count(SYNC_LOG) == logs_before


@pytest.mark.parametrize(
	"action",
	[
		lambda: api.sync_now("changes"),
		lambda: api.refresh_lists(),
		lambda: api.test_connection(),
		lambda: oauth.connect(),
		lambda: api.recheck_optout_filter(),
	],
	ids=["sync_now", "refresh_lists", "test_connection", "connect", "recheck_optout_filter"],
)
def test_settings_actions_are_for_system_managers_only(reader, action, monkeypatch):
	# frappe.only_for lets everyone through while frappe.flags.in_test is set.
	monkeypatch.setattr(frappe.local.flags, "in_test", False)
	frappe.set_user(reader)
	try:
		with pytest.raises(frappe.PermissionError):
			action()
	finally:
		frappe.set_user("Administrator")


def test_the_oauth_return_refuses_a_non_manager_with_the_apps_own_page(reader, monkeypatch):
	monkeypatch.setattr(OAuthClient, "exchange_code", lambda *a, **k: pytest.fail("no code exchange"))
	frappe.local.response = frappe._dict()
	frappe.set_user(reader)
	try:
		oauth.callback(code="x", state="y")
	finally:
		frappe.set_user("Administrator")
	assert frappe.local.response.get("type") == "page"
	assert frappe.local.response.get("http_status_code") == 403
	frappe.local.response = frappe._dict()


def test_state_changing_methods_answer_post_only():
	for fn in (
		api.sync_record,
		api.sync_now,
		api.refresh_lists,
		api.test_connection,
		api.recheck_optout_filter,
		oauth.connect,
	):
		assert frappe.allowed_http_methods_for_whitelisted_func[fn] == ["POST"], fn.__name__
	assert oauth.callback in frappe.whitelisted and oauth.callback not in frappe.guest_methods
