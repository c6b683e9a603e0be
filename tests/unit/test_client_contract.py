"""Every request the client makes is an operation of CC's official contract: its path exists for the
method, its query parameters are ones the operation declares (with allowed enum values), and its JSON
body validates against the operation's body schema."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from urllib.parse import parse_qsl, urlsplit

import pytest

from cc_sync.constant_contact.auth import StaticTokenProvider
from cc_sync.constant_contact.client import ConstantContactClient
from cc_sync.constant_contact.clock import FakeClock
from cc_sync.constant_contact.export_reader import ExportReader
from cc_sync_testkit.emulator import ConstantContactEmulator
from tests.swagger import check_body, needs_swagger, operation

pytestmark = needs_swagger

T = datetime(2024, 6, 1, tzinfo=timezone.utc)


@pytest.fixture
def recorded():
	"""Drive every client endpoint against the emulator and return the requests it sent."""
	clock = FakeClock(T)
	emu = ConstantContactEmulator(clock, rate_limit=None, activity_steps=1)
	list_id = emu.create_list("Newsletter")
	emu.create_custom_field("CRM Id", name="crm_id")
	cid = emu.add_contact("a@example.com", first_name="A", job_title="CTO", list_ids=[list_id])
	access, _ = emu.issue_tokens()
	client = ConstantContactClient(StaticTokenProvider(access), clock=clock)
	with emu.mocked() as rsps:
		list(
			client.iter_contacts(
				status=["all"],
				email="a@example.com",
				updated_after=T,
				updated_before=T,
				created_after=T,
				created_before=T,
				optout_after=T,
				include=["custom_fields", "list_memberships", "phone_numbers", "street_addresses"],
				include_count=True,
				limit=500,
			)
		)
		client.get_contact(cid, include=["custom_fields", "list_memberships"])
		client.unsubscribe_contact(cid, reason="asked")
		client.get_contact_lists()
		client.get_custom_fields()
		activity = client.import_contacts_json(
			[{"email": "n@example.com", "first_name": "N", "cf:crm_id": "L-1", "mobile_phone": "555"}],
			[list_id],
		)
		client.get_activity(activity.activity_id)
		client.remove_list_memberships([cid], [list_id])
		export = client.create_contact_export(status="all", fields=["email_address", "first_name"])
		done = client.get_activity(export.activity_id)
		list(client.read_contact_export(done.results_href or export.activity_id, ExportReader()))
		list(client.iter_activities(limit=10))
		calls = [(c.request.method, c.request.url, c.request.body) for c in rsps.calls]
	assert emu.calls_to("/v3/contacts/sign_up_form") == 0
	return calls


def test_every_request_is_a_contract_operation_with_declared_parameters_and_valid_body(recorded):
	seen = set()
	for method, url, body in recorded:
		parts = urlsplit(url)
		if parts.path.startswith("/oauth2"):
			continue
		template, op = operation(method, parts.path)
		seen.add((method, template))
		params = {p["name"]: p for p in op.get("parameters", []) if p.get("in") == "query"}
		for name, value in parse_qsl(parts.query):
			if name == "cursor":
				continue  # CC's opaque next-page cursor, carried in `_links.next.href`
			assert name in params, f"{method} {template}: `{name}` is not a parameter CC declares"
			allowed = params[name].get("enum") or params[name].get("items", {}).get("enum")
			if allowed:
				for item in value.split(","):
					assert item in allowed, f"{template}: {name}={item} not in {allowed}"
		body_params = [p for p in op.get("parameters", []) if p.get("in") == "body"]
		if body:
			assert body_params, f"{method} {template} takes no body"
			check_body(body_params[0]["schema"], json.loads(body))
	expected = {
		("GET", "/contacts"),
		("GET", "/contacts/{contact_id}"),
		("PUT", "/contacts/{contact_id}"),
		("GET", "/contact_lists"),
		("GET", "/contact_custom_fields"),
		("POST", "/activities/contacts_json_import"),
		("POST", "/activities/remove_list_memberships"),
		("POST", "/activities/contact_exports"),
		("GET", "/activities/{activity_id}"),
		("GET", "/activities"),
	}
	assert expected <= seen, f"not exercised: {expected - seen}"
