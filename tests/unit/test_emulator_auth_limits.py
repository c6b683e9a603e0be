"""OAuth (codes, PKCE, rotating refresh tokens), 401 on expiry, and the rate and daily limits."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime, timezone
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from cc_sync.constant_contact.clock import FakeClock
from cc_sync_testkit.emulator import ConstantContactEmulator

BASE = "https://api.cc.email"
AUTH = "https://authz.constantcontact.com/oauth2/default/v1"
REDIRECT = "https://site.example/cc/callback"


@pytest.fixture
def clock() -> FakeClock:
	return FakeClock(datetime(2024, 6, 1, 23, 59, 0, tzinfo=timezone.utc))


@pytest.fixture
def emu(clock: FakeClock) -> ConstantContactEmulator:
	return ConstantContactEmulator(clock, redirect_uris=[REDIRECT])


def basic(emu: ConstantContactEmulator) -> tuple[str, str]:
	return emu.client_id, emu.client_secret


def authorize(emu: ConstantContactEmulator, **extra: str) -> str:
	params = {
		"client_id": emu.client_id,
		"redirect_uri": REDIRECT,
		"response_type": "code",
		"scope": "contact_data offline_access",
		"state": "xyz",
		**extra,
	}
	resp = requests.get(f"{AUTH}/authorize", params=params, allow_redirects=False)
	assert resp.status_code == 302, resp.text
	location = urlsplit(resp.headers["Location"])
	query = parse_qs(location.query)
	assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
	assert query["state"] == ["xyz"]
	return query["code"][0]


def test_code_flow_single_use_and_refresh_rotation(emu):
	with emu.mocked():
		code = authorize(emu)
		form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
		first = requests.post(f"{AUTH}/token", data=form, auth=basic(emu))
		assert first.status_code == 200
		tokens = first.json()
		assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 86400
		claims = json.loads(base64.urlsafe_b64decode(tokens["access_token"].split(".")[1] + "=="))
		assert claims["exp"] - claims["iat"] == 86400
		again = requests.post(f"{AUTH}/token", data=form, auth=basic(emu))
		assert again.status_code == 400 and again.json()["error"] == "invalid_grant"

		old = tokens["refresh_token"]
		refreshed = requests.post(
			f"{AUTH}/token", data={"grant_type": "refresh_token", "refresh_token": old}, auth=basic(emu)
		)
		assert refreshed.status_code == 200
		new = refreshed.json()["refresh_token"]
		assert new != old
		reused = requests.post(
			f"{AUTH}/token", data={"grant_type": "refresh_token", "refresh_token": old}, auth=basic(emu)
		)
		assert reused.status_code == 400
		assert reused.json() == {
			"error": "invalid_grant",
			"error_description": "The refresh token is invalid or expired.",
		}
		ok = requests.get(
			f"{BASE}/v3/contacts", headers={"Authorization": f"Bearer {refreshed.json()['access_token']}"}
		)
		assert ok.status_code == 200
		wrong_secret = requests.post(
			f"{AUTH}/token",
			data={"grant_type": "refresh_token", "refresh_token": new},
			auth=(emu.client_id, "nope"),
		)
		assert wrong_secret.status_code == 401


def test_code_expires_after_five_minutes_and_state_is_required(emu, clock):
	with emu.mocked():
		code = authorize(emu)
		clock.advance(301)
		late = requests.post(
			f"{AUTH}/token",
			data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT},
			auth=basic(emu),
		)
		assert late.status_code == 400
		no_state = requests.get(
			f"{AUTH}/authorize",
			params={"client_id": emu.client_id, "redirect_uri": REDIRECT, "response_type": "code"},
			allow_redirects=False,
		)
		assert no_state.status_code == 400


def test_pkce_verifier_is_checked(emu):
	verifier = "v" * 64
	challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
	with emu.mocked():
		code = authorize(emu, code_challenge=challenge, code_challenge_method="S256")
		bad = requests.post(
			f"{AUTH}/token",
			data={
				"grant_type": "authorization_code",
				"code": code,
				"redirect_uri": REDIRECT,
				"code_verifier": "w" * 64,
				"client_id": emu.client_id,
			},
		)
		assert bad.status_code == 400
		code = authorize(emu, code_challenge=challenge, code_challenge_method="S256")
		good = requests.post(
			f"{AUTH}/token",
			data={
				"grant_type": "authorization_code",
				"code": code,
				"redirect_uri": REDIRECT,
				"code_verifier": verifier,
				"client_id": emu.client_id,
			},
		)
		assert good.status_code == 200 and "refresh_token" in good.json()


def test_no_refresh_token_without_offline_access(emu):
	with emu.mocked():
		code = authorize(emu, scope="contact_data")
		body = requests.post(
			f"{AUTH}/token",
			data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT},
			auth=basic(emu),
		).json()
		assert "access_token" in body and "refresh_token" not in body


def test_expired_access_token_gets_single_object_401(emu, clock):
	access, _ = emu.issue_tokens()
	headers = {"Authorization": f"Bearer {access}"}
	with emu.mocked():
		assert requests.get(f"{BASE}/v3/contacts", headers=headers).status_code == 200
		emu.expire_access_tokens()
		resp = requests.get(f"{BASE}/v3/contacts", headers=headers)
		assert resp.status_code == 401
		assert resp.json() == {"error_key": "unauthorized", "error_message": "Unauthorized"}
		assert resp.headers["WWW-Authenticate"] == "Bearer realm=api.cc.email"
		fresh, _ = emu.issue_tokens()
		clock.advance(86400)
		assert (
			requests.get(f"{BASE}/v3/contacts", headers={"Authorization": f"Bearer {fresh}"}).status_code
			== 401
		)
		assert requests.get(f"{BASE}/v3/contacts").status_code == 401


def test_more_than_four_requests_in_a_second_are_throttled(emu, clock):
	access, _ = emu.issue_tokens()
	headers = {"Authorization": f"Bearer {access}"}
	with emu.mocked():
		codes = [requests.get(f"{BASE}/v3/contacts", headers=headers).status_code for _ in range(5)]
		assert codes == [200, 200, 200, 200, 429]
		throttled = requests.get(f"{BASE}/v3/contacts", headers=headers)
		assert throttled.json() == {"error_key": "throttled", "error_message": "Too Many Requests"}
		clock.advance(1.0)
		assert requests.get(f"{BASE}/v3/contacts", headers=headers).status_code == 200
		assert emu.calls == 7 and emu.throttled == 2
		emu.rate_limit = None
		assert all(requests.get(f"{BASE}/v3/contacts", headers=headers).status_code == 200 for _ in range(10))


def test_daily_quota_and_midnight_utc_reset(clock):
	emu = ConstantContactEmulator(clock, rate_limit=None, daily_quota=3)
	access, _ = emu.issue_tokens()
	headers = {"Authorization": f"Bearer {access}"}
	with emu.mocked():
		codes = [requests.get(f"{BASE}/v3/contacts", headers=headers).status_code for _ in range(4)]
		assert codes == [200, 200, 200, 429]
		resp = requests.get(f"{BASE}/v3/contacts", headers=headers)
		assert resp.json() == {"error_key": "quota_exceeded", "error_message": "Limit Exceeded"}
		assert emu.calls_today == 3
		clock.advance(60)  # 00:00 UTC passes
		assert requests.get(f"{BASE}/v3/contacts", headers=headers).status_code == 200
		assert emu.calls_today == 1
		assert emu.call_log[-1] == ("GET", "/v3/contacts", "")
