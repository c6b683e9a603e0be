"""The OAuth callback finishes only the flow this user started here, and keeps tokens in Password fields."""

from __future__ import annotations

import pytest

import frappe

from cc_sync.cc_sync import oauth
from cc_sync.cc_sync.constants import CONNECTION_CONNECTED, SETTINGS
from cc_sync.cc_sync.settings import update_settings
from cc_sync.constant_contact.auth import OAuthClient
from cc_sync.constant_contact.errors import AuthError
from cc_sync.constant_contact.models import TokenSet
from tests.integration.app_helpers import save_settings, settings_restored

ACCESS = "a.eyJzdWIiOiJvd25lckB0aWVyMi50ZXN0In0.c"


@pytest.fixture
def pending_flow():
	with settings_restored():
		save_settings(lambda doc: doc.update({"client_id": "tier2-client", "client_secret": "tier2-secret"}))
		key = oauth.STATE_CACHE_KEY.format(user=frappe.session.user)
		frappe.cache.set_value(key, {"state": "the-right-state", "verifier": "v" * 64}, expires_in_sec=60)
		yield key
		frappe.cache.delete_value(key)


def _token_rows() -> list:
	return frappe.db.sql(
		"select fieldname, password from `__Auth` where doctype=%s and name=%s order by fieldname",
		(SETTINGS, SETTINGS),
	)


def _page() -> tuple[str, int, str]:
	"""What the callback answered: response type, HTTP status, and the page's text."""
	return (
		frappe.local.response.get("type"),
		frappe.local.response.get("http_status_code"),
		str(getattr(frappe.local, "message", "")),
	)


@pytest.fixture
def fresh_response():
	frappe.local.response = frappe._dict()
	frappe.local.message = ""
	yield
	frappe.local.response = frappe._dict()


def test_the_callback_rejects_a_wrong_state_with_its_own_page(pending_flow, fresh_response, monkeypatch):
	monkeypatch.setattr(OAuthClient, "exchange_code", lambda *a, **k: pytest.fail("no code exchange"))
	before = (_token_rows(), frappe.db.get_single_value(SETTINGS, "connection_status"))
	oauth.callback(code="stolen-code", state="an-attackers-state")
	kind, status, text = _page()
	assert (kind, status) == ("page", 400) and "older than ten minutes" in text
	assert frappe.local.response.get("route") == "message"
	frappe.db.rollback()
	assert (_token_rows(), frappe.db.get_single_value(SETTINGS, "connection_status")) == before
	# The state is single use: even the right one cannot be replayed after a failed attempt.
	frappe.local.response = frappe._dict()
	oauth.callback(code="stolen-code", state="the-right-state")
	assert _page()[:2] == ("page", 400)


def test_the_callback_rejects_a_missing_state(pending_flow, fresh_response, monkeypatch):
	monkeypatch.setattr(OAuthClient, "exchange_code", lambda *a, **k: pytest.fail("no code exchange"))
	oauth.callback(code="some-code")
	assert _page()[:2] == ("page", 400)


def test_cancelling_reconnect_keeps_the_working_connection(pending_flow, fresh_response, monkeypatch):
	update_settings({"connection_status": CONNECTION_CONNECTED, "last_error": None}, commit=True)
	before = _token_rows()
	oauth.callback(state="the-right-state", error="access_denied", error_description="The user denied")
	kind, _, text = _page()
	assert kind == "page" and "The user denied" in text and "unchanged" in text
	frappe.db.rollback()
	assert frappe.db.get_single_value(SETTINGS, "connection_status") == CONNECTION_CONNECTED
	assert not frappe.db.get_single_value(SETTINGS, "last_error")
	assert _token_rows() == before


def test_a_wrong_client_secret_is_found_at_connect_time(pending_flow, fresh_response, monkeypatch):
	monkeypatch.setattr(
		OAuthClient, "exchange_code", lambda *a, **k: TokenSet(access_token="a", refresh_token="r-1")
	)

	def refuse(self, refresh_token):
		raise AuthError(401, "invalid_client", "Client authentication failed.")

	monkeypatch.setattr(OAuthClient, "refresh", refuse)
	status_before, tokens_before = frappe.db.get_single_value(SETTINGS, "connection_status"), _token_rows()
	oauth.callback(code="the-code", state="the-right-state")
	kind, _, text = _page()
	assert kind == "page" and "Client secret" in text
	frappe.db.rollback()
	assert frappe.db.get_single_value(SETTINGS, "connection_status") == status_before
	assert _token_rows() == tokens_before


def test_the_right_state_stores_tokens_encrypted_and_connects(pending_flow, monkeypatch):
	seen = {}

	def exchange(self, code, code_verifier=None):
		seen.update(code=code, verifier=code_verifier)
		return TokenSet(access_token=ACCESS, refresh_token="r-0", expires_in=None)

	def refresh(self, refresh_token):
		# The secret is proven at once by a first refresh; the rotated pair is what gets stored.
		assert refresh_token == "r-0"
		return TokenSet(access_token=ACCESS, refresh_token="r-1", expires_in=None)

	monkeypatch.setattr(OAuthClient, "exchange_code", exchange)
	monkeypatch.setattr(OAuthClient, "refresh", refresh)
	oauth.callback(code="the-code", state="the-right-state")
	assert seen == {"code": "the-code", "verifier": "v" * 64}
	assert frappe.local.response["type"] == "redirect"
	settings = frappe.get_doc(SETTINGS)
	assert settings.connection_status == CONNECTION_CONNECTED
	assert settings.connected_account == "owner@tier2.test"
	assert settings.get_password("refresh_token") == "r-1"
	# Stored encrypted, and the form only ever sees asterisks.
	assert all("r-1" not in row[1] for row in _token_rows())
	assert settings.as_dict(no_default_fields=True).get("refresh_token") in (None, "", "*" * len("r-1"))
