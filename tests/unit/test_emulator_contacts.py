"""The emulator's contact endpoints reproduce CC's quirks, driven with plain `requests`."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
import requests

from cc_sync.constant_contact.clock import FakeClock
from cc_sync_testkit.emulator import ConstantContactEmulator, generate_account

BASE = "https://api.cc.email"


def at(text: str) -> datetime:
	return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture
def clock() -> FakeClock:
	return FakeClock(at("2024-06-01T00:00:00Z"))


@pytest.fixture
def emu(clock: FakeClock) -> ConstantContactEmulator:
	return ConstantContactEmulator(clock, rate_limit=None, access_token_ttl=10 * 365 * 86400.0)


@pytest.fixture
def http(emu: ConstantContactEmulator):
	access, _ = emu.issue_tokens()
	with emu.mocked():
		session = requests.Session()
		session.headers["Authorization"] = f"Bearer {access}"
		yield session


def get(http: requests.Session, path: str, **params) -> requests.Response:
	return http.get(BASE + path, params=params)


def all_pages(http: requests.Session, **params) -> list[dict]:
	seen, url = [], f"{BASE}/v3/contacts"
	resp = http.get(url, params=params)
	while True:
		assert resp.status_code == 200, resp.text
		body = resp.json()
		seen.extend(body["contacts"])
		nxt = body.get("_links", {}).get("next", {}).get("href")
		if not nxt:
			return seen
		resp = http.get(BASE + nxt)


def test_seeds_case_updated_after_misses_an_unsubscribe_but_optout_after_finds_it(emu, clock, http):
	cid = emu.add_contact(
		"seed@example.com", created_at="2023-01-30T18:04:55Z", updated_at="2023-01-30T18:04:55Z"
	)
	clock.set(at("2024-06-08T01:31:05Z"))
	emu.unsubscribe(cid)
	contact = emu.get(cid)
	assert contact["updated_at"] == "2023-01-30T18:04:55Z"
	assert contact["email_address"]["updated_at"] == "2024-06-08T01:31:05Z"
	assert contact["email_address"]["opt_out_date"] == "2024-06-08T01:31:05Z"
	assert contact["email_address"]["permission_to_send"] == "unsubscribed"

	changed = get(http, "/v3/contacts", updated_after="2024-06-01T01:31:05Z").json()
	assert changed["contacts"] == []
	opted = get(http, "/v3/contacts", status="all", optout_after="2024-06-01T01:31:05Z").json()
	assert [c["contact_id"] for c in opted["contacts"]] == [cid]


def test_optout_after_still_returns_a_contact_both_unsubscribed_and_deleted(emu, clock, http):
	cid = emu.add_contact("both@example.com")
	clock.advance(60)
	emu.unsubscribe(cid)
	emu.delete_contact(cid)
	assert get(http, "/v3/contacts", optout_after="2024-05-01T00:00:00Z").json()["contacts"] == []
	found = get(http, "/v3/contacts", status="all", optout_after="2024-05-01T00:00:00Z").json()["contacts"]
	assert [c["contact_id"] for c in found] == [cid]
	assert found[0]["deleted_at"] == "2024-06-01"
	# A deleted contact reports as deleted, so status=unsubscribed misses it.
	assert get(http, "/v3/contacts", status="unsubscribed").json()["contacts"] == []


def test_default_status_hides_deleted_and_all_shows_them(emu, http):
	keep = emu.add_contact("keep@example.com", list_ids=[emu.create_list("A")])
	gone = emu.add_contact("gone@example.com")
	emu.delete_contact(gone)
	default = [c["contact_id"] for c in get(http, "/v3/contacts").json()["contacts"]]
	assert default == [keep]
	everyone = get(http, "/v3/contacts", status="all").json()["contacts"]
	assert [c["contact_id"] for c in everyone] == [keep, gone]
	assert [c["contact_id"] for c in get(http, "/v3/contacts", status="deleted").json()["contacts"]] == [gone]
	assert get(http, f"/v3/contacts/{gone}").json()["deleted_at"] == "2024-06-01"
	assert emu.get(gone)["list_memberships"] == []


def test_status_values_map_permissions(emu, http):
	emu.add_contact("i@example.com", permission="implicit")
	emu.add_contact("e@example.com", permission="explicit")
	emu.add_contact("p@example.com", permission="pending_confirmation")
	active = {
		c["email_address"]["address"] for c in get(http, "/v3/contacts", status="active").json()["contacts"]
	}
	assert active == {"i@example.com", "e@example.com"}
	pending = get(http, "/v3/contacts", status="pending_confirmation,unsubscribed").json()["contacts"]
	assert [c["email_address"]["address"] for c in pending] == ["p@example.com"]
	assert get(http, "/v3/contacts", status="bogus").status_code == 400


def test_cursor_paging_is_complete_and_without_duplicates(emu, http):
	generate_account(emu, contacts=237, lists=3, seed=4, delete_ratio=0.1)
	first = get(http, "/v3/contacts", limit=50, status="all", include_count="true").json()
	assert len(first["contacts"]) == 50
	assert first["contacts_count"] == 237
	href = first["_links"]["next"]["href"]
	assert href.startswith("/v3/contacts?cursor=")
	assert "status" not in href and "limit" not in href  # filters ride inside the opaque cursor
	pages = all_pages(http, limit=50, status="all")
	ids = [c["contact_id"] for c in pages]
	assert len(ids) == 237 == len(set(ids))
	assert ids == [c["contact_id"] for c in emu.contacts]
	live = all_pages(http, limit=50)
	assert len(live) == sum(1 for c in emu.contacts if "deleted_at" not in c)


def test_single_page_has_no_links(emu, http):
	emu.add_contact("one@example.com")
	body = get(http, "/v3/contacts").json()
	assert set(body) == {"contacts"}


@pytest.mark.parametrize("limit", [0, 501, "x"])
def test_limit_outside_1_to_500_is_400(http, limit):
	resp = get(http, "/v3/contacts", limit=limit)
	assert resp.status_code == 400
	assert resp.json()[0]["error_key"] == "contacts.api.validation.error"


def test_limit_500_is_accepted(emu, http):
	generate_account(emu, contacts=501, lists=1, seed=1, delete_ratio=0)
	body = get(http, "/v3/contacts", limit=500).json()
	assert len(body["contacts"]) == 500 and "_links" in body


def test_includes_appear_only_when_asked(emu, http):
	list_id = emu.create_list("Newsletter")
	emu.create_custom_field("CRM Id")
	cid = emu.add_contact(
		"inc@example.com",
		list_ids=[list_id],
		custom_fields={"crm_id": "C-1"},
		phone_numbers=["555-1234"],
		street_addresses=[{"kind": "home", "city": "Oslo"}],
	)
	bare = get(http, f"/v3/contacts/{cid}").json()
	for key in (
		"custom_fields",
		"list_memberships",
		"phone_numbers",
		"street_addresses",
		"taggings",
		"notes",
	):
		assert key not in bare
	full = get(http, f"/v3/contacts/{cid}", include="custom_fields,list_memberships").json()
	assert full["list_memberships"] == [list_id]
	assert full["custom_fields"][0]["value"] == "C-1"
	assert "phone_numbers" not in full
	listed = get(http, "/v3/contacts", include="phone_numbers,street_addresses").json()["contacts"][0]
	assert listed["phone_numbers"][0]["phone_number"] == "555-1234"
	assert listed["street_addresses"][0]["city"] == "Oslo"
	assert get(http, "/v3/contacts", include="sms_channel").status_code == 400


def test_filters_email_lists_and_dates(emu, clock, http):
	a = emu.create_list("A")
	b = emu.create_list("B")
	first = emu.add_contact("First@Example.com", list_ids=[a])
	clock.advance(3600)
	second = emu.add_contact("second@example.com", list_ids=[b])
	found = get(http, "/v3/contacts", email="first@EXAMPLE.com").json()["contacts"]
	assert [c["contact_id"] for c in found] == [first]
	assert [c["contact_id"] for c in get(http, "/v3/contacts", lists=b).json()["contacts"]] == [second]
	both = get(http, "/v3/contacts", lists=f"{a},{b}").json()["contacts"]
	assert len(both) == 2
	assert get(http, "/v3/contacts", lists=",".join([a] * 26)).status_code == 400
	after = get(http, "/v3/contacts", created_after="2024-06-01T00:30:00Z").json()["contacts"]
	assert [c["contact_id"] for c in after] == [second]
	before = get(http, "/v3/contacts", updated_before="2024-06-01T00:30:00.500Z").json()["contacts"]
	assert [c["contact_id"] for c in before] == [first]
	# Bounds are exclusive.
	assert get(http, "/v3/contacts", updated_after="2024-06-01T01:00:00Z").json()["contacts"] == []
	assert len(get(http, "/v3/contacts", updated_after="2024-05-31").json()["contacts"]) == 2
	assert len(get(http, "/v3/contacts", updated_after="2024-06-01").json()["contacts"]) == 1
	assert get(http, "/v3/contacts", updated_after="yesterday").status_code == 400


def test_list_tool_edits_and_deletes_do_not_move_updated_at(emu, clock, http):
	list_id = emu.create_list("A")
	cid = emu.add_contact("lt@example.com")
	clock.advance(86400)
	emu.add_to_list(cid, list_id)
	emu.delete_contact(cid)
	assert emu.get(cid)["updated_at"] == "2024-06-01T00:00:00Z"
	assert (
		get(http, "/v3/contacts", status="all", updated_after="2024-06-01T12:00:00Z").json()["contacts"] == []
	)
	clock.advance(60)
	emu.edit_contact(cid, first_name="Lee")
	assert get(http, "/v3/contacts", status="all", updated_after="2024-06-01T12:00:00Z").json()["contacts"]


def test_opt_in_moves_email_fields_only(emu, clock):
	cid = emu.add_contact("back@example.com")
	clock.advance(10)
	emu.unsubscribe(cid, source="Account", reason="too many")
	assert emu.get(cid)["email_address"]["opt_out_reason"] == "too many"
	clock.advance(10)
	emu.opt_in(cid)
	email = emu.get(cid)["email_address"]
	assert email["permission_to_send"] == "explicit"
	assert "opt_out_date" not in email and "opt_out_source" not in email
	assert email["opt_in_date"] == email["updated_at"] == "2024-06-01T00:00:20Z"
	assert emu.get(cid)["updated_at"] == "2024-06-01T00:00:00Z"


def test_get_unknown_contact_is_404(http):
	resp = get(http, "/v3/contacts/00000000-0000-4000-8000-000000000000")
	assert resp.status_code == 404
	assert resp.json() == [
		{"error_key": "contacts.api.not_found", "error_message": resp.json()[0]["error_message"]}
	]


def test_create_contact_and_409_for_any_existing_state(emu, http):
	resp = http.post(
		f"{BASE}/v3/contacts",
		json={
			"email_address": {"address": "new@example.com", "permission_to_send": "implicit"},
			"create_source": "Account",
			"first_name": "N",
		},
	)
	assert resp.status_code == 201
	cid = resp.json()["contact_id"]
	assert emu.get(cid)["first_name"] == "N"
	assert emu.get(cid)["email_address"]["opt_in_source"] == "Account"
	dup = http.post(
		f"{BASE}/v3/contacts",
		json={"email_address": {"address": "NEW@example.com"}, "create_source": "Account"},
	)
	assert dup.status_code == 409
	assert dup.json() == [
		{
			"error_key": "contacts.api.conflict",
			"error_message": f"Validation failed: Email already exists for contact {cid}",
		}
	]
	gone = emu.add_contact("deleted@example.com")
	emu.delete_contact(gone)
	again = http.post(
		f"{BASE}/v3/contacts",
		json={"email_address": {"address": "deleted@example.com"}, "create_source": "Account"},
	)
	assert again.status_code == 409 and gone in again.json()[0]["error_message"]
	missing = http.post(f"{BASE}/v3/contacts", json={"email_address": {"address": "x@example.com"}})
	assert missing.status_code == 400


def test_post_without_json_content_type_is_415(http):
	resp = http.post(
		f"{BASE}/v3/contacts", data=b'{"create_source":"Account"}', headers={"Content-Type": "text/plain"}
	)
	assert resp.status_code == 415
	assert isinstance(resp.json(), list)


def test_put_nulls_omitted_core_fields_and_keeps_subresources(emu, clock, http):
	list_id = emu.create_list("A")
	cid = emu.add_contact(
		"put@example.com", first_name="Pat", last_name="Lee", job_title="CTO", list_ids=[list_id]
	)
	clock.advance(60)
	resp = http.put(
		f"{BASE}/v3/contacts/{cid}",
		json={
			"email_address": {"address": "put@example.com"},
			"first_name": "Pat",
			"update_source": "Account",
		},
	)
	assert resp.status_code == 200
	after = emu.get(cid)
	assert after["first_name"] == "Pat"
	assert "last_name" not in after and "job_title" not in after
	assert after["list_memberships"] == [list_id]
	assert after["updated_at"] == "2024-06-01T00:01:00Z"
	assert after["update_source"] == "Account"


def test_put_validation_and_conflict(emu, http):
	a = emu.add_contact("a@example.com")
	emu.add_contact("b@example.com")
	no_source = http.put(f"{BASE}/v3/contacts/{a}", json={"email_address": {"address": "a@example.com"}})
	assert no_source.status_code == 400
	no_email = http.put(f"{BASE}/v3/contacts/{a}", json={"update_source": "Account"})
	assert no_email.status_code == 400
	taken = http.put(
		f"{BASE}/v3/contacts/{a}",
		json={"email_address": {"address": "B@example.com"}, "update_source": "Account"},
	)
	assert taken.status_code == 409


def test_put_unsubscribe_moves_only_email_timestamps(emu, clock, http):
	cid = emu.add_contact("u@example.com", first_name="U")
	clock.advance(120)
	body = {
		"email_address": {
			"address": "u@example.com",
			"permission_to_send": "unsubscribed",
			"opt_out_reason": "asked",
		},
		"first_name": "U",
		"update_source": "Contact",
	}
	assert http.put(f"{BASE}/v3/contacts/{cid}", json=body).status_code == 200
	after = emu.get(cid)
	assert after["updated_at"] == "2024-06-01T00:00:00Z"
	assert after["email_address"]["updated_at"] == "2024-06-01T00:02:00Z"
	assert after["email_address"]["opt_out_source"] == "Contact"
	assert after["email_address"]["opt_out_date"] == "2024-06-01T00:02:00Z"
	assert emu.put_resubscribes == 0


def test_put_revives_a_deleted_contact(emu, clock, http):
	cid = emu.add_contact("dead@example.com")
	emu.delete_contact(cid)
	clock.advance(60)
	resp = http.put(
		f"{BASE}/v3/contacts/{cid}",
		json={"email_address": {"address": "dead@example.com"}, "update_source": "Account"},
	)
	assert resp.status_code == 200
	assert "deleted_at" not in emu.get(cid)
	assert [c["contact_id"] for c in get(http, "/v3/contacts").json()["contacts"]] == [cid]


def test_sign_up_form_resubscribes_and_is_counted(emu, http):
	list_id = emu.create_list("A")
	cid = emu.add_contact("gone@example.com")
	emu.unsubscribe(cid)
	resp = http.post(
		f"{BASE}/v3/contacts/sign_up_form",
		json={"email_address": "gone@example.com", "list_memberships": [list_id]},
	)
	assert resp.status_code == 200
	assert resp.json() == {"contact_id": cid, "action": "updated"}
	assert emu.get(cid)["email_address"]["permission_to_send"] == "explicit"
	assert emu.sign_up_form_calls == 1
	assert emu.calls_to("/v3/contacts/sign_up_form") == 1
	created = http.post(
		f"{BASE}/v3/contacts/sign_up_form",
		json={"email_address": "fresh@example.com", "list_memberships": [list_id]},
	)
	assert created.status_code == 201 and created.json()["action"] == "created"


def test_lists_and_custom_fields_page(emu, http):
	for i in range(7):
		emu.create_list(f"L{i}")
	lid = emu.list_ids()[0]
	emu.add_contact("m@example.com", list_ids=[lid])
	gone = emu.add_contact("u@example.com", list_ids=[lid])
	emu.unsubscribe(gone)
	body = get(
		http, "/v3/contact_lists", limit=5, include_membership_count="all", include_count="true"
	).json()
	assert len(body["lists"]) == 5 and body["lists_count"] == 7
	assert body["lists"][0]["membership_count"] == 2
	rest = http.get(BASE + body["_links"]["next"]["href"]).json()
	assert len(rest["lists"]) == 2 and "_links" not in rest
	assert rest["lists"][0]["membership_count"] is not None
	active = get(http, f"/v3/contact_lists/{lid}", include_membership_count="active").json()
	assert active["membership_count"] == 1
	assert "membership_count" not in get(http, "/v3/contact_lists").json()["lists"][0]
	for i in range(3):
		emu.create_custom_field(f"Field {i}")
	fields = get(http, "/v3/contact_custom_fields", limit=2).json()
	assert [f["name"] for f in fields["custom_fields"]] == ["field_0", "field_1"]
	assert get(http, "/v3/contact_custom_fields", limit=101).status_code == 400


def test_generator_is_deterministic(clock):
	one = ConstantContactEmulator(FakeClock(at("2024-06-01T00:00:00Z")), seed=3)
	two = ConstantContactEmulator(FakeClock(at("2024-06-01T00:00:00Z")), seed=3)
	generate_account(one, contacts=300, lists=4, seed=9)
	generate_account(two, contacts=300, lists=4, seed=9)
	assert one.snapshot() == two.snapshot()
	contacts = list(one.contacts)
	unsubscribed = [c for c in contacts if c["email_address"]["permission_to_send"] == "unsubscribed"]
	assert unsubscribed and all(c["email_address"]["opt_out_date"] >= c["updated_at"] for c in unsubscribed)
	assert any("deleted_at" in c for c in contacts)
	assert all(c["list_memberships"] == [] for c in contacts if "deleted_at" in c)
	assert datetime.fromisoformat(contacts[0]["created_at"].replace("Z", "+00:00")).tzinfo == timezone.utc


def test_a_deleted_person_signing_up_again_comes_back_seen_by_updated_after_without_lists(emu, clock, http):
	list_id = emu.create_list("A")
	cid = emu.add_contact("again@example.com", list_ids=[list_id])
	emu.unsubscribe(cid)
	emu.delete_contact(cid)
	clock.advance(86400)
	emu.revive(cid)
	back = get(http, f"/v3/contacts/{cid}").json()
	assert "deleted_at" not in back or back["deleted_at"] is None
	assert back["email_address"]["permission_to_send"] == "explicit"
	assert back["email_address"]["opt_in_source"] == "Contact"
	assert emu.get(cid)["list_memberships"] == []
	found = get(http, "/v3/contacts", status="all", updated_after="2024-06-01T12:00:00Z").json()["contacts"]
	assert [c["contact_id"] for c in found] == [cid]


def test_every_id_the_emulator_hands_out_is_new_across_a_generated_account_and_later_contacts(emu):
	"""A generated account and the contacts added after it (a pushed lead) draw on one id sequence: a
	later contact never takes a generated contact's id, on the same seed as the generator."""
	generated = set(generate_account(emu, contacts=300, seed=0)["contact_ids"])
	assert len(generated) == 300
	later = {emu.add_contact(f"later{i}@example.com") for i in range(300)}
	assert len(later) == 300 and not later & generated
