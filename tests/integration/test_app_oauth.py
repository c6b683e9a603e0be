"""The OAuth callback finishes only the flow this user started here, and keeps tokens in Password fields."""

from __future__ import annotations

import pytest

import frappe

from cc_sync.cc_sync import oauth
from cc_sync.cc_sync.constants import CONNECTION_CONNECTED, SETTINGS
from cc_sync.constant_contact.auth import OAuthClient
from cc_sync.constant_contact.models import TokenSet
from tests.integration.app_helpers import save_settings, settings_restored


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


def test_the_callback_rejects_a_wrong_state(pending_flow, monkeypatch):
	monkeypatch.setattr(OAuthClient, "exchange_code", lambda *a, **k: pytest.fail("no code exchange"))
	before = (_token_rows(), frappe.db.get_single_value(SETTINGS, "connection_status"))
	with pytest.raises(frappe.PermissionError):
		oauth.callback(code="stolen-code", state="an-attackers-state")
	frappe.db.rollback()
	assert (_token_rows(), frappe.db.get_single_value(SETTINGS, "connection_status")) == before
	# The state is single use: even the right one cannot be replayed after a failed attempt.
	with pytest.raises(frappe.PermissionError):
		oauth.callback(code="stolen-code", state="the-right-state")


def test_the_callback_rejects_a_missing_state(pending_flow, monkeypatch):
	monkeypatch.setattr(OAuthClient, "exchange_code", lambda *a, **k: pytest.fail("no code exchange"))
	with pytest.raises(frappe.PermissionError):
		oauth.callback(code="some-code")


def test_the_right_state_stores_tokens_encrypted_and_connects(pending_flow, monkeypatch):
	seen = {}

	def exchange(self, code, code_verifier=None):
		seen.update(code=code, verifier=code_verifier)
		return TokenSet(
			access_token="a.eyJzdWIiOiJvd25lckB0aWVyMi50ZXN0In0.c", refresh_token="r-1", expires_in=None
		)

	monkeypatch.setattr(OAuthClient, "exchange_code", exchange)
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
