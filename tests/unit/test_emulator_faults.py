"""Injected faults (5xx, timeouts, broken bodies) never leave half-applied state."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
import requests

from cc_sync.constant_contact.clock import FakeClock
from cc_sync_testkit.emulator import ConstantContactEmulator, FaultConfig

BASE = "https://api.cc.email"


@pytest.fixture
def emu() -> ConstantContactEmulator:
	return ConstantContactEmulator(FakeClock(datetime(2024, 6, 1, tzinfo=timezone.utc)), rate_limit=None)


@pytest.fixture
def http(emu: ConstantContactEmulator):
	access, _ = emu.issue_tokens()
	with emu.mocked():
		session = requests.Session()
		session.headers["Authorization"] = f"Bearer {access}"
		yield session


def create(http: requests.Session, address: str) -> requests.Response:
	return http.post(
		f"{BASE}/v3/contacts", json={"email_address": {"address": address}, "create_source": "Account"}
	)


def test_injected_500_and_503_apply_nothing(emu, http):
	emu.inject(500)
	emu.inject("503", path_prefix="/v3/contacts")
	first = create(http, "a@example.com")
	assert first.status_code == 500 and isinstance(first.json(), list)
	assert create(http, "a@example.com").status_code == 503
	assert len(emu) == 0
	assert create(http, "a@example.com").status_code == 201
	assert len(emu) == 1


def test_read_timeout_on_post_applied_or_not_by_config(emu, http):
	emu.inject("timeout")
	with pytest.raises(requests.exceptions.ReadTimeout):
		create(http, "applied@example.com")
	assert emu.find_by_email("applied@example.com") is not None  # CC may have accepted it
	emu.faults.applied_before_timeout = False
	emu.inject("timeout")
	with pytest.raises(requests.exceptions.ReadTimeout):
		create(http, "lost@example.com")
	assert emu.find_by_email("lost@example.com") is None
	emu.inject("connect_timeout")
	calls = emu.calls
	with pytest.raises(requests.exceptions.ConnectTimeout):
		create(http, "never@example.com")
	assert emu.calls == calls and emu.find_by_email("never@example.com") is None


def test_malformed_body_is_truncated_json_with_200(emu, http):
	emu.add_contact("m@example.com")
	emu.inject("malformed", path_prefix="/v3/contacts")
	resp = http.get(f"{BASE}/v3/contacts")
	assert resp.status_code == 200
	with pytest.raises(ValueError):
		resp.json()
	assert http.get(f"{BASE}/v3/contacts").json()["contacts"]


def test_faults_at_a_seeded_rate(emu, http):
	emu.faults = FaultConfig(rate=0.3, kinds=("500", "503"), seed=7)
	codes = [http.get(f"{BASE}/v3/contacts").status_code for _ in range(200)]
	failures = sum(code >= 500 for code in codes)
	assert 30 <= failures <= 90
	assert set(codes) == {200, 500, 503}
	emu.faults = FaultConfig(rate=0.3, kinds=("500", "503"), seed=7)
	again = [http.get(f"{BASE}/v3/contacts").status_code for _ in range(200)]
	assert again == codes
	assert len(emu.faults.injected) == failures


def test_fault_rate_leaves_state_consistent(emu, http):
	emu.faults = FaultConfig(rate=0.5, kinds=("500", "503", "timeout", "malformed"), seed=3)
	created = set()
	for i in range(60):
		address = f"c{i}@example.com"
		try:
			resp = create(http, address)
		except requests.exceptions.ReadTimeout:
			continue
		if resp.status_code == 201:
			created.add(address)
	emu.faults.rate = 0.0
	for i in range(60):
		address = f"c{i}@example.com"
		if address in created:
			assert emu.find_by_email(address) is not None
	stored = {c["email_address"]["address"] for c in emu.contacts}
	assert created <= stored
	assert len(stored) == len(emu)
