"""The emulator over real HTTP on loopback, and its CLI wiring."""

from __future__ import annotations

import pytest
import requests

from cc_sync_testkit.emulator import ConstantContactEmulator, generate_account
from cc_sync_testkit.emulator.__main__ import main


def test_real_http_server_on_a_free_port():
	emu = ConstantContactEmulator(rate_limit=None)
	generate_account(emu, contacts=30, lists=2, seed=1, delete_ratio=0)
	access, refresh = emu.issue_tokens()
	server = emu.start_server("127.0.0.1", 0)
	try:
		assert server.api_base.startswith("http://127.0.0.1:")
		resp = requests.get(
			f"{server.api_base}/contacts",
			params={"limit": 20},
			headers={"Authorization": f"Bearer {access}"},
			timeout=5,
		)
		assert resp.status_code == 200
		body = resp.json()
		assert len(body["contacts"]) == 20
		nxt = requests.get(
			server.base_url + body["_links"]["next"]["href"],
			headers={"Authorization": f"Bearer {access}"},
			timeout=5,
		)
		assert len(nxt.json()["contacts"]) == 10
		token = requests.post(
			f"{server.auth_base}/token",
			data={"grant_type": "refresh_token", "refresh_token": refresh},
			auth=(emu.client_id, emu.client_secret),
			timeout=5,
		)
		assert token.status_code == 200
		assert requests.get(f"{server.api_base}/contacts", timeout=5).status_code == 401
		emu.faults.http_timeout_seconds = 0.5
		emu.inject("timeout")
		with pytest.raises(requests.exceptions.ReadTimeout):
			requests.get(
				f"{server.api_base}/contacts", headers={"Authorization": f"Bearer {access}"}, timeout=0.2
			)
	finally:
		server.stop()
	with pytest.raises(requests.exceptions.ConnectionError):
		requests.get(f"{server.api_base}/contacts", timeout=1)


def test_server_refuses_non_loopback_hosts():
	with pytest.raises(ValueError):
		ConstantContactEmulator().start_server("0.0.0.0", 0)


def test_cli_requires_a_command(capsys):
	with pytest.raises(SystemExit):
		main([])
	assert "serve" in capsys.readouterr().err
