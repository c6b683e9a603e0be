"""The emulator behaves as recorded CC traffic shows, and switches where CC's behaviour is uncertain.

Sources, per test: recorded API responses captured in other public projects' test fixtures ("recorded
responses"), CC support answers on community.constantcontact.com ("CC support"), and scripts that read
CC's real export files ("recorded exports"). The export format itself is pinned in
test_emulator_activities.py::test_export_csv_has_cc_s_recorded_format.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest
import requests

from cc_sync.constant_contact.auth import OAuthClient, OAuthTokenProvider
from cc_sync.constant_contact.client import ConstantContactClient
from cc_sync.constant_contact.clock import FakeClock
from cc_sync.constant_contact.models import TokenSet
from cc_sync_testkit.emulator import ConstantContactEmulator

BASE = "https://api.cc.email"
TOKEN = "https://authz.constantcontact.com/oauth2/default/v1/token"


@pytest.fixture
def clock() -> FakeClock:
	return FakeClock(datetime(2024, 6, 1, tzinfo=timezone.utc))


def session(emu: ConstantContactEmulator) -> requests.Session:
	access, _ = emu.issue_tokens()
	http = requests.Session()
	http.headers["Authorization"] = f"Bearer {access}"
	return http


def test_custom_field_name_is_the_label_lower_cased_with_underscores(clock):
	"""Recorded responses: label "Nango Dryrun CF" has name "nango_dryrun_cf"."""
	emu = ConstantContactEmulator(clock, rate_limit=None)
	emu.create_custom_field("Nango Dryrun CF")
	emu.create_custom_field("Member since (year)")
	with emu.mocked():
		fields = session(emu).get(f"{BASE}/v3/contact_custom_fields").json()["custom_fields"]
	assert [(f["label"], f["name"]) for f in fields] == [
		("Nango Dryrun CF", "nango_dryrun_cf"),
		("Member since (year)", "member_since_year"),
	]


def test_post_contacts_by_the_contact_is_explicit_and_never_edited_has_no_update_source(clock):
	"""Recorded responses: create_source Contact gives an explicit contact; a contact never edited since
	creation carries no update_source key (one edited says who edited it)."""
	emu = ConstantContactEmulator(clock, rate_limit=None)
	with emu.mocked():
		http = session(emu)
		by_person = http.post(
			f"{BASE}/v3/contacts",
			json={"email_address": {"address": "p@example.com"}, "create_source": "Contact"},
		).json()
		by_account = http.post(
			f"{BASE}/v3/contacts",
			json={"email_address": {"address": "a@example.com"}, "create_source": "Account"},
		).json()
		listed = http.get(f"{BASE}/v3/contacts").json()["contacts"]
	assert by_person["email_address"]["permission_to_send"] == "explicit"
	assert by_person["email_address"]["opt_in_source"] == "Contact"
	assert by_account["email_address"]["permission_to_send"] == "implicit"
	assert all("update_source" not in c for c in [by_person, by_account, *listed])
	emu.edit_contact(by_account["contact_id"], first_name="Ann")
	assert emu.get(by_account["contact_id"])["update_source"] == "Account"


def test_cc_rewrites_state_and_country_on_write_and_can_be_told_not_to(clock):
	"""Recorded responses: an address written with CA / US reads back California / United States."""
	address = {"kind": "home", "city": "San Jose", "state": "CA", "country": "US"}
	for normalise, expected in ((True, ("California", "United States")), (False, ("CA", "US"))):
		emu = ConstantContactEmulator(clock, rate_limit=None, normalise_addresses=normalise)
		with emu.mocked():
			made = session(emu).post(
				f"{BASE}/v3/contacts",
				json={
					"email_address": {"address": "x@example.com"},
					"create_source": "Account",
					"street_addresses": [address],
				},
			)
		(stored,) = made.json()["street_addresses"]
		assert (stored["state"], stored["country"]) == expected
		assert stored["city"] == "San Jose"


def test_a_put_of_the_same_address_in_short_form_is_no_change(clock):
	emu = ConstantContactEmulator(clock, rate_limit=None)
	cid = emu.add_contact("x@example.com", street_addresses=[{"kind": "home", "state": "CA"}])
	before = emu.get(cid)["updated_at"]
	clock.advance(60)
	with emu.mocked():
		session(emu).put(
			f"{BASE}/v3/contacts/{cid}",
			json={
				"email_address": {"address": "x@example.com"},
				"update_source": "Account",
				"street_addresses": [{"kind": "home", "state": "CA"}],
			},
		)
	assert emu.get(cid)["updated_at"] == before


@pytest.mark.parametrize(
	("mode", "expected"),
	[
		("filters", {"late@example.com"}),
		("ignored", {"early@example.com", "late@example.com", "in@example.com"}),
	],
)
def test_optout_after_filters_or_is_ignored_as_switched(clock, mode, expected):
	"""The reference documents optout_after; CC support said in 2022 and 2024 that the API "is not able
	to directly retrieve opt outs from after a certain date". Both are switchable."""
	emu = ConstantContactEmulator(clock, rate_limit=None, optout_after=mode)
	early = emu.add_contact("early@example.com")
	emu.add_contact("in@example.com")
	late = emu.add_contact("late@example.com")
	emu.unsubscribe(early)
	clock.advance(3600)
	emu.unsubscribe(late)
	with emu.mocked():
		body = (
			session(emu)
			.get(f"{BASE}/v3/contacts", params={"status": "all", "optout_after": "2024-06-01T00:30:00Z"})
			.json()
		)
	assert {c["email_address"]["address"] for c in body["contacts"]} == expected


def test_optout_after_can_return_nothing(clock):
	emu = ConstantContactEmulator(clock, rate_limit=None, optout_after="empty")
	emu.unsubscribe(emu.add_contact("gone@example.com"))
	with emu.mocked():
		http = session(emu)
		body = http.get(f"{BASE}/v3/contacts", params={"status": "all", "optout_after": "2020-01-01"}).json()
		unfiltered = http.get(f"{BASE}/v3/contacts", params={"status": "unsubscribed"}).json()
	assert body["contacts"] == []
	assert [c["email_address"]["address"] for c in unfiltered["contacts"]] == ["gone@example.com"]


def provider_for(emu: ConstantContactEmulator, clock: FakeClock, persisted: list) -> OAuthTokenProvider:
	access, refresh = emu.issue_tokens()
	oauth = OAuthClient(emu.client_id, emu.client_secret, "https://site.example/cb", clock=clock)
	tokens = TokenSet(
		access_token=access, refresh_token=refresh, expires_at=clock.now() + timedelta(hours=24)
	)
	return OAuthTokenProvider(oauth, tokens, persisted.append, clock=clock)


@pytest.mark.parametrize("kind", ["rotating", "long_lived"])
def test_refresh_tokens_rotate_or_come_back_unchanged_as_switched(clock, kind):
	"""CC support: an application chooses rotating (single use) or long-lived refresh tokens; a
	long-lived one comes back unchanged on every refresh. The client works with both."""
	emu = ConstantContactEmulator(clock, rate_limit=None, refresh_tokens=kind)
	emu.add_contact("a@example.com")
	persisted: list[TokenSet] = []
	provider = provider_for(emu, clock, persisted)
	first_refresh = provider.tokens.refresh_token
	client = ConstantContactClient(provider, clock=clock, rng=random.Random(1))
	with emu.mocked():
		for _ in range(3):
			clock.advance(25 * 3600)  # the access token has expired
			assert [c.email for c in client.iter_contacts()] == ["a@example.com"]
		old_still_works = (
			requests.post(
				TOKEN,
				data={"grant_type": "refresh_token", "refresh_token": first_refresh},
				auth=(emu.client_id, emu.client_secret),
			).status_code
			== 200
		)
	refresh_tokens = [t.refresh_token for t in persisted]
	assert len(persisted) == 3
	if kind == "long_lived":
		assert set(refresh_tokens) == {first_refresh} and old_still_works
	else:
		assert len(set(refresh_tokens)) == 3 and first_refresh not in refresh_tokens
		assert not old_still_works
