"""The client parses recorded-looking CC payloads (tests/fixtures/cc_recorded, see its README).

Each fixture is written by hand from a fact seen in recorded CC V3 traffic; none is copied.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
import responses

from cc_sync.constant_contact.auth import OAuthClient
from cc_sync.constant_contact.export_reader import ExportReader
from cc_sync.constant_contact.models import Activity, Contact
from cc_sync.constant_contact.normalise import cc_country, cc_state

API = "https://api.cc.email/v3"
TOKEN_URL = "https://authz.constantcontact.com/oauth2/default/v1/token"
FIXTURES = Path(__file__).parent.parent / "fixtures" / "cc_recorded"


def load(name: str):
	text = (FIXTURES / name).read_text()
	return json.loads(text) if name.endswith(".json") else text


def utc(*args):
	return datetime(*args, tzinfo=timezone.utc)


def test_a_never_edited_contact_has_no_update_source_and_a_single_page_has_no_links(rsps, client):
	rsps.add(responses.GET, f"{API}/contacts", json=load("contacts_page_never_edited.json"))
	pages = list(client.iter_contact_pages(status="all"))
	assert len(pages) == 1 and pages[0].next_href is None
	(contact,) = pages[0].contacts
	assert contact.update_source is None and contact.create_source == "Account"
	assert contact.email_address.updated_at == utc(2026, 9, 29, 14, 33, 39)


def test_a_contact_created_by_the_person_is_explicit():
	contact = Contact.model_validate(load("contact_created_by_contact.json"))
	assert contact.create_source == "Contact"
	assert contact.email_address.permission_to_send == "explicit"
	assert contact.email_address.opt_in_source == "Contact"
	assert contact.update_source is None


def test_an_address_reads_back_in_cc_s_normalised_form():
	contact = Contact.model_validate(load("contact_address_normalised.json"))
	(address,) = contact.street_addresses
	assert (address.state, address.country) == ("California", "United States")
	# What the site wrote (CA, US) compares equal in CC's form.
	assert (cc_state("CA"), cc_country("US")) == (address.state, address.country)


def test_custom_field_names_are_labels_lower_cased_with_underscores(rsps, client):
	rsps.add(responses.GET, f"{API}/contact_custom_fields", json=load("custom_fields.json"))
	fields = client.get_custom_fields()
	assert [(f.label, f.name) for f in fields] == [
		("Member Since Year", "member_since_year"),
		("CRM Record ID", "crm_record_id"),
	]


def test_the_export_201_already_carries_its_results_link(rsps, client):
	rsps.add(
		responses.POST, f"{API}/activities/contact_exports", status=201, json=load("export_created.json")
	)
	activity = client.create_contact_export(fields=["email_address"])
	assert isinstance(activity, Activity) and not activity.is_finished
	assert activity.results_href == f"/v3/contact_exports/{activity.activity_id}"


def test_an_export_csv_with_cc_s_real_headers_is_read_into_contacts(rsps, client):
	rsps.add(
		responses.GET,
		f"{API}/contact_exports/exp-1",
		body=load("contact_export.csv"),
		content_type="text/csv",
	)
	reader = ExportReader(
		list_ids_by_name={"Monthly News": "L-news", "Events": "L-events"},
		field_ids_by_label={"CRM Record ID": "cf-crm"},
	)
	rows = list(client.read_contact_export("/v3/contact_exports/exp-1", reader))
	assert [r.problems for r in rows] == [[], [], []]
	rowan, sam, kim = (r.contact for r in rows)
	assert rowan.email == "rowan.field@example.org" and rowan.first_name == "Rowan"
	assert rowan.permission == "implicit" and rowan.update_source is None
	assert rowan.list_memberships == ["L-news", "L-events"]
	assert rowan.created_at == utc(2020, 9, 25, 20, 45, 13)  # -0400 read as UTC
	assert [(p.kind, p.phone_number) for p in rowan.phone_numbers] == [("home", "555-0101")]
	assert [(c.custom_field_id, c.value) for c in rowan.custom_fields] == [("cf-crm", "CRM-77")]
	assert sam.is_unsubscribed and sam.list_memberships == []
	assert sam.email_address.opt_out_date == utc(2021, 3, 2, 13, 5, 59)
	assert (sam.email_address.opt_out_source, sam.email_address.opt_out_reason) == (
		"Contact",
		"Too many emails",
	)
	assert kim.permission == "explicit" and kim.list_memberships == ["L-news"]
	assert kim.contact_id is None  # exports carry no contact id: the site matches them by email


def test_an_unknown_list_name_leaves_memberships_unknown_and_says_why():
	reader = ExportReader(list_ids_by_name={"Monthly News": "L-news"})
	(row,) = reader.rows(
		"Email address,Email permission status,Email Lists\r\nx@example.org,Implicit,Gone List\r\n"
	)
	assert row.contact.list_memberships is None
	assert row.problems == ["list names not found in the account: Gone List"]


def test_a_long_lived_refresh_token_comes_back_unchanged(rsps):
	body = load("token_refresh_long_lived.json")
	rsps.add(responses.POST, TOKEN_URL, json=body)
	rsps.add(responses.POST, TOKEN_URL, json=body)
	oauth = OAuthClient("client", "secret", "https://site.example/cb")
	first = oauth.refresh(body["refresh_token"])
	second = oauth.refresh(first.refresh_token)
	assert first.refresh_token == second.refresh_token == body["refresh_token"]


@pytest.mark.parametrize(
	"cells",
	[
		# "Email status" says Unsubscribed while the permission column says otherwise.
		{"Email status": "Unsubscribed", "Email permission status": "Implicit"},
		# The permission column says unsubscribed while "Email status" says Active.
		{"Email status": "Active", "Email permission status": "Unsubscribed"},
		# A confirmed opt-out date, whatever the other two say.
		{
			"Email status": "Active",
			"Email permission status": "Explicit",
			"Confirmed Opt-Out Date": "2024-05-31 20:00:30 -0400",
		},
	],
)
def test_an_export_row_is_an_opt_out_when_any_of_its_columns_says_so(cells):
	row = ExportReader().row({"Email address": "gone@example.com", **cells})
	assert row.contact.is_unsubscribed and row.contact.permission == "unsubscribed"


def test_an_export_row_no_column_calls_an_opt_out_keeps_its_permission():
	row = ExportReader().row(
		{"Email address": "here@example.com", "Email status": "Active", "Email permission status": "Implicit"}
	)
	assert row.contact.permission == "implicit"


def test_an_export_row_reads_cc_s_address_headers():
	row = ExportReader().row(
		{
			"Email address": "a@example.com",
			"Street address line 1 - Home": "1 Main St",
			"City - Home": "Springfield",
			"Zip/Postal Code - Home": "01101",
			"State/Province - Other": "MA",
		}
	)
	addresses = {a.kind: a for a in row.contact.street_addresses}
	assert (addresses["home"].street, addresses["home"].city, addresses["home"].postal_code) == (
		"1 Main St",
		"Springfield",
		"01101",
	)
	assert addresses["other"].state == "MA"
