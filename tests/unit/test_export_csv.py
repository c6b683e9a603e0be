"""The export CSV both ways: the emulator writes CC's dates in the account's time zone, and the app reads
a row exactly as a plain reading of its cells by header says."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import requests
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from cc_sync.constant_contact.clock import FakeClock
from cc_sync_testkit.emulator import ConstantContactEmulator

BASE = "https://api.cc.email"
# Zones whose offsets are not whole hours, or change during an hour, beside ordinary ones.
ZONES = (
	"America/New_York",
	"UTC",
	"Asia/Kolkata",
	"Asia/Kathmandu",
	"Australia/Lord_Howe",
	"Pacific/Chatham",
	"America/St_Johns",
	"Africa/Monrovia",
	"Europe/Dublin",
)
# Seconds either side of New York's and Lord Howe's changes of offset, and the first seconds of 1900.
EDGES = (
	datetime(2024, 3, 10, 6, 59, 59),
	datetime(2024, 3, 10, 7, 0, 0),
	datetime(2024, 11, 3, 5, 59, 59),
	datetime(2024, 11, 3, 6, 0, 0),
	datetime(2024, 4, 6, 14, 59, 59),
	datetime(2024, 10, 5, 15, 30, 0),
	datetime(1900, 1, 1, 0, 0, 0),
)
instants = st.one_of(
	st.sampled_from(EDGES), st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1))
).map(lambda when: when.replace(microsecond=0, tzinfo=timezone.utc))


def export_rows(emu: ConstantContactEmulator, body: dict) -> list[dict[str, str]]:
	access, _ = emu.issue_tokens()
	http = requests.Session()
	http.headers["Authorization"] = f"Bearer {access}"
	with emu.mocked():
		activity = http.post(f"{BASE}/v3/activities/contact_exports", json=body).json()
		for _ in range(10):
			activity = http.get(BASE + activity["_links"]["self"]["href"]).json()
			if activity["state"] == "completed":
				break
		text = http.get(BASE + activity["_links"]["results"]["href"]).text
	return list(csv.DictReader(io.StringIO(text)))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Goose Bay changed its clocks at 00:01 local until 2010: its offset changes a minute into a UTC hour.
@example(
	zone="America/Goose_Bay",
	created=[datetime(1999, 10, 31, 3, s, tzinfo=timezone.utc) for s in (0, 1)],
	later=3540,
)
@given(
	zone=st.one_of(st.sampled_from(ZONES), st.timezone_keys()),
	created=st.lists(instants, min_size=1, max_size=4),
	later=st.integers(min_value=0, max_value=400 * 86400),
)
def test_an_export_writes_each_date_in_the_account_s_time_zone(zone, created, later):
	"""Every date of an export is the contact's own instant as the account's clock showed it, with its
	offset then (`2020-09-25 16:45:13 -0400`), in any zone and on either side of a change of offset."""
	emu = ConstantContactEmulator(
		FakeClock(datetime(2100, 1, 2, tzinfo=timezone.utc)), rate_limit=None, export_tz=zone
	)
	for i, when in enumerate(created):
		emu.add_contact(f"c{i}@example.com", created_at=when, updated_at=when + timedelta(seconds=later))
	rows = export_rows(emu, {"fields": ["email_address", "created_at", "updated_at", "email_optin_date"]})
	tz = ZoneInfo(zone)
	for i, when in enumerate(created):
		row = rows[i]
		assert row["Email address"] == f"c{i}@example.com"
		assert row["Created At"] == row["Email Opt-In Date"] == f"{when.astimezone(tz):%Y-%m-%d %H:%M:%S %z}"
		assert row["Updated At"] == f"{(when + timedelta(seconds=later)).astimezone(tz):%Y-%m-%d %H:%M:%S %z}"
