"""The emulator's response bodies conform to CC's official swagger definitions (version 3.0.172).

The contract file lives with the project's reference material; set CC_SWAGGER to point at it when it
is elsewhere.
"""

from __future__ import annotations

from datetime import datetime, timezone

import jsonschema
import pytest
import requests

from cc_sync.constant_contact.clock import FakeClock
from cc_sync_testkit.emulator import ConstantContactEmulator
from tests.swagger import needs_swagger, spec

BASE = "https://api.cc.email"

pytestmark = needs_swagger


@pytest.fixture(scope="module")
def definitions() -> dict:
	return spec()["definitions"]


def check(definitions: dict, name: str, body: object) -> None:
	schema = {"$ref": f"#/definitions/{name}", "definitions": definitions}
	jsonschema.validate(body, schema, cls=jsonschema.Draft4Validator)


def test_bodies_match_the_contract(definitions):
	emu = ConstantContactEmulator(
		FakeClock(datetime(2024, 6, 1, tzinfo=timezone.utc)), rate_limit=None, activity_steps=1
	)
	list_id = emu.create_list("Newsletter", description="Monthly")
	emu.create_custom_field("CRM Id")
	cid = emu.add_contact(
		"s@example.com",
		first_name="S",
		list_ids=[list_id],
		custom_fields={"crm_id": "1"},
		phone_numbers=[{"phone_number": "555", "kind": "work"}],
		street_addresses=[{"kind": "home", "city": "Oslo"}],
	)
	emu.unsubscribe(cid, reason="bye")
	gone = emu.add_contact("d@example.com")
	emu.delete_contact(gone)
	access, _ = emu.issue_tokens()
	headers = {"Authorization": f"Bearer {access}"}
	with emu.mocked():
		contacts = requests.get(
			f"{BASE}/v3/contacts",
			params={
				"status": "all",
				"include": "custom_fields,list_memberships,phone_numbers,street_addresses,taggings,notes",
				"include_count": "true",
				"limit": 1,
			},
			headers=headers,
		).json()
		check(definitions, "Contacts", contacts)
		check(
			definitions, "ContactResource", requests.get(f"{BASE}/v3/contacts/{gone}", headers=headers).json()
		)
		lists = requests.get(
			f"{BASE}/v3/contact_lists", params={"include_membership_count": "all"}, headers=headers
		).json()
		check(definitions, "ContactListArray", lists)
		check(
			definitions,
			"CustomFields",
			requests.get(f"{BASE}/v3/contact_custom_fields", headers=headers).json(),
		)
		created = requests.post(
			f"{BASE}/v3/activities/contacts_json_import",
			json={"import_data": [{"email": "n@example.com"}], "list_ids": [list_id]},
			headers=headers,
		).json()
		check(definitions, "ActivityImport", created)
		check(
			definitions,
			"ActivityImport",
			requests.get(f"{BASE}/v3/activities/{created['activity_id']}", headers=headers).json(),
		)
		members = requests.post(
			f"{BASE}/v3/activities/add_list_memberships",
			json={"source": {"contact_ids": [cid]}, "list_ids": [list_id]},
			headers=headers,
		).json()
		check(definitions, "ActivityListsMembership", members)
		export = requests.post(f"{BASE}/v3/activities/contact_exports", json={}, headers=headers).json()
		check(definitions, "ActivityExportStatus", export)
		done = requests.get(f"{BASE}/v3/activities/{export['activity_id']}", headers=headers).json()
		check(definitions, "ActivityExportStatus", done)
		check(definitions, "Activities", requests.get(f"{BASE}/v3/activities", headers=headers).json())
		bad = requests.get(f"{BASE}/v3/contacts", params={"limit": 0}, headers=headers).json()
		check(definitions, "APIErrorSchema", bad)
		emu.expire_access_tokens()
		check(
			definitions,
			"AuthorizationErrorSchema",
			requests.get(f"{BASE}/v3/contacts", headers=headers).json(),
		)
