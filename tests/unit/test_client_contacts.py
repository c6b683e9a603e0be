"""Contact reads and writes: paging, filters, and read-modify-write PUTs that never null core fields."""

import json
from datetime import date, datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from cc_sync.constant_contact.auth import StaticTokenProvider
from cc_sync.constant_contact.client import ConstantContactClient, format_cc_datetime
from cc_sync.constant_contact.clock import FakeClock
from cc_sync.constant_contact.errors import MalformedResponse

UTC = timezone.utc
API = "https://api.cc.email/v3"
CID = "1618ae62-4752-11e9-9c8a-fa163e6b01c1"


def query(call) -> dict[str, list[str]]:
	return parse_qs(urlsplit(call.request.url).query)


def contact(cid=CID, **over):
	c = {
		"contact_id": cid,
		"email_address": {
			"address": "dlang@example.com",
			"permission_to_send": "implicit",
			"created_at": "2016-03-03T10:53:04-05:00",
			"updated_at": "2016-03-03T10:56:29-05:00",
			"opt_in_source": "Account",
			"opt_in_date": "2016-01-23T13:48:44.108Z",
			"confirm_status": "off",
		},
		"first_name": "Debora",
		"last_name": "Lang",
		"job_title": "Musician",
		"company_name": "Acme Corp.",
		"birthday_month": 11,
		"birthday_day": 24,
		"anniversary": "2006-11-15",
		"update_source": "Contact",
		"create_source": "Account",
		"created_at": "2016-03-03T10:53:04Z",
		"updated_at": "2016-03-03T10:56:29Z",
	}
	c.update(over)
	return c


# ---------------------------------------------------------------- paging


def test_follows_next_links_verbatim_across_pages_and_stops_when_absent(rsps, client):
	rsps.add(
		responses.GET,
		f"{API}/contacts",
		json={
			"contacts": [contact("c1"), contact("c2")],
			"_links": {"next": {"href": "/v3/contacts?cursor=PAGE2"}},
		},
	)
	rsps.add(
		responses.GET,
		f"{API}/contacts",
		json={"contacts": [contact("c3")], "_links": {"next": {"href": "/v3/contacts?cursor=PAGE3"}}},
	)
	rsps.add(responses.GET, f"{API}/contacts", json={"contacts": [contact("c4")]})
	ids = [
		c.contact_id
		for c in client.iter_contacts(status="all", updated_after=datetime(2024, 1, 1, tzinfo=UTC))
	]
	assert ids == ["c1", "c2", "c3", "c4"]
	assert len(rsps.calls) == 3
	first = query(rsps.calls[0])
	assert first["status"] == ["all"] and first["limit"] == ["500"]
	# The cursor carries the filters: the next-page URLs are used exactly as CC gave them.
	assert rsps.calls[1].request.url == "https://api.cc.email/v3/contacts?cursor=PAGE2"
	assert rsps.calls[2].request.url == "https://api.cc.email/v3/contacts?cursor=PAGE3"


def test_stops_when_links_has_no_next(rsps, client):
	rsps.add(responses.GET, f"{API}/contacts", json={"contacts": [contact("c1")], "_links": {}})
	pages = list(client.iter_contact_pages())
	assert len(pages) == 1 and len(rsps.calls) == 1


def test_next_link_joins_the_origin_of_a_local_base_url(rsps):
	base = "http://127.0.0.1:8123/v3"
	client = ConstantContactClient(StaticTokenProvider("t"), base_url=base, clock=FakeClock())
	rsps.add(
		responses.GET,
		f"{base}/contacts",
		json={"contacts": [contact("c1")], "_links": {"next": {"href": "/v3/contacts?cursor=X"}}},
	)
	rsps.add(responses.GET, f"{base}/contacts", json={"contacts": [contact("c2")]})
	assert [c.contact_id for c in client.iter_contacts()] == ["c1", "c2"]
	assert rsps.calls[1].request.url == "http://127.0.0.1:8123/v3/contacts?cursor=X"


def test_refuses_a_next_link_to_another_host(rsps, client):
	rsps.add(
		responses.GET,
		f"{API}/contacts",
		json={"contacts": [], "_links": {"next": {"href": "https://evil.example/v3/contacts?cursor=X"}}},
	)
	with pytest.raises(MalformedResponse) as exc:
		list(client.iter_contacts())
	assert "off the API host" in str(exc.value)
	assert len(rsps.calls) == 1


@pytest.mark.parametrize(
	"href",
	[
		"//evil.example/v3/contacts?cursor=X",
		"HTTPS://evil.example/v3/contacts?cursor=X",
		"http://api.cc.email/v3/contacts?cursor=X",
		"https://api.cc.email.evil.example/v3/contacts?cursor=X",
		"\\\\evil.example/v3/contacts?cursor=X",
	],
)
def test_refuses_a_next_link_off_the_api_scheme_or_host_and_sends_nothing_there(rsps, client, href):
	rsps.add(responses.GET, f"{API}/contacts", json={"contacts": [], "_links": {"next": {"href": href}}})
	with pytest.raises(MalformedResponse) as exc:
		list(client.iter_contacts())
	assert "off the API host" in str(exc.value)
	assert len(rsps.calls) == 1


def test_a_protocol_relative_next_link_is_refused_where_the_api_base_has_no_path(rsps):
	base = "https://api.cc.email"
	client = ConstantContactClient(StaticTokenProvider("t"), base_url=base, clock=FakeClock())
	rsps.add(
		responses.GET,
		f"{base}/contacts",
		json={"contacts": [contact("c1")], "_links": {"next": {"href": "//evil.example/contacts?cursor=X"}}},
	)
	with pytest.raises(MalformedResponse) as exc:
		list(client.iter_contacts())
	assert "off the API host" in str(exc.value)
	assert [call.request.url for call in rsps.calls] == [f"{base}/contacts?limit=500"]


def test_contact_count_and_page_iteration(rsps, client):
	rsps.add(responses.GET, f"{API}/contacts", json={"contacts": [contact("c1")], "contacts_count": 3249})
	[page] = client.iter_contact_pages(include_count=True, limit=1)
	assert page.contacts_count == 3249
	assert query(rsps.calls[0])["include_count"] == ["true"]
	assert query(rsps.calls[0])["limit"] == ["1"]


# ---------------------------------------------------------------- filters


def test_every_filter_is_sent_with_cc_names_and_formats(rsps, client):
	rsps.add(responses.GET, f"{API}/contacts", json={"contacts": []})
	est = timezone(timedelta(hours=-5))
	list(
		client.iter_contacts(
			status=["all", "unsubscribed"],
			email="dlang@example.com",
			updated_after=datetime(2024, 6, 1, 10, 0, 0, 123456, tzinfo=UTC),
			updated_before=datetime(2024, 6, 1, 10, 0, 0, tzinfo=est),
			created_after=datetime(2023, 1, 1, tzinfo=UTC),
			created_before=date(2023, 12, 31),
			optout_after=datetime(2024, 5, 31, 23, 59, 59, 999999, tzinfo=UTC),
			include=("custom_fields", "list_memberships"),
			limit=250,
		)
	)
	q = {k: v[0] for k, v in query(rsps.calls[0]).items()}
	assert q == {
		"status": "all,unsubscribed",
		"email": "dlang@example.com",
		"updated_after": "2024-06-01T10:00:00.123Z",
		"updated_before": "2024-06-01T15:00:00.000Z",
		"created_after": "2023-01-01T00:00:00.000Z",
		"created_before": "2023-12-31T00:00:00.000Z",
		"optout_after": "2024-05-31T23:59:59.999Z",
		"include": "custom_fields,list_memberships",
		"limit": "250",
	}


def test_unset_filters_are_not_sent(rsps, client):
	rsps.add(responses.GET, f"{API}/contacts", json={"contacts": []})
	list(client.iter_contacts())
	assert query(rsps.calls[0]) == {"limit": ["500"]}


@pytest.mark.parametrize(
	"kwargs",
	[
		{"limit": 0},
		{"limit": 501},
		{"limit": True},
		{"updated_after": datetime(2024, 1, 1)},  # naive: which timezone?
	],
)
def test_invalid_queries_fail_before_any_call(rsps, client, kwargs):
	with pytest.raises(ValueError):
		list(client.iter_contacts(**kwargs))
	assert len(rsps.calls) == 0


def test_format_cc_datetime():
	assert format_cc_datetime(datetime(2026, 9, 29, 14, 33, 39, tzinfo=UTC)) == "2026-09-29T14:33:39.000Z"
	plus2 = timezone(timedelta(hours=2))
	assert format_cc_datetime(datetime(2026, 1, 1, 1, 0, 0, 5000, tzinfo=plus2)) == "2025-12-31T23:00:00.005Z"
	with pytest.raises(ValueError):
		format_cc_datetime(datetime(2026, 1, 1))


def test_get_contact_with_include(rsps, client):
	rsps.add(responses.GET, f"{API}/contacts/{CID}", json=contact(list_memberships=["l1"]))
	c = client.get_contact(CID, include=["list_memberships", "custom_fields"])
	assert c.list_memberships == ["l1"]
	assert query(rsps.calls[0]) == {"include": ["list_memberships,custom_fields"]}


# ---------------------------------------------------------------- read-modify-write


CORE = {
	"email_address": {"address": "dlang@example.com", "permission_to_send": "implicit"},
	"first_name": "Debora",
	"last_name": "Lang",
	"job_title": "Musician",
	"company_name": "Acme Corp.",
	"birthday_month": 11,
	"birthday_day": 24,
	"anniversary": "2006-11-15",
}


def test_unsubscribe_of_a_contact_with_an_earlier_reason_keeps_it_when_none_is_given(rsps, client):
	left = contact(
		email_address={"address": "a@b.c", "permission_to_send": "implicit", "opt_out_reason": "no"}
	)
	rsps.add(responses.GET, f"{API}/contacts/{CID}", json=left)
	rsps.add(responses.PUT, f"{API}/contacts/{CID}", json=left)
	client.unsubscribe_contact(CID)
	body = json.loads(rsps.calls[1].request.body)
	assert body["email_address"] == {
		"address": "a@b.c",
		"permission_to_send": "unsubscribed",
		"opt_out_reason": "no",
	}


def test_unsubscribe_contact_body(rsps, client):
	rsps.add(responses.GET, f"{API}/contacts/{CID}", json=contact())
	rsps.add(
		responses.PUT,
		f"{API}/contacts/{CID}",
		json=contact(email_address={"address": "dlang@example.com", "permission_to_send": "unsubscribed"}),
	)
	result = client.unsubscribe_contact(CID, reason="Asked by phone", update_source="Contact")
	body = json.loads(rsps.calls[1].request.body)
	assert body == {
		**CORE,
		"email_address": {
			"address": "dlang@example.com",
			"permission_to_send": "unsubscribed",
			"opt_out_reason": "Asked by phone",
		},
		"update_source": "Contact",
	}
	assert result.is_unsubscribed


def test_unsubscribe_defaults_to_account_source_and_skips_already_unsubscribed(rsps, client):
	rsps.add(responses.GET, f"{API}/contacts/{CID}", json=contact())
	rsps.add(responses.PUT, f"{API}/contacts/{CID}", json=contact())
	client.unsubscribe_contact(CID)
	body = json.loads(rsps.calls[1].request.body)
	assert body["update_source"] == "Account"
	assert body["email_address"] == {"address": "dlang@example.com", "permission_to_send": "unsubscribed"}

	rsps.add(
		responses.GET,
		f"{API}/contacts/other",
		json=contact("other", email_address={"address": "x@y.z", "permission_to_send": "unsubscribed"}),
	)
	assert client.unsubscribe_contact("other").is_unsubscribed
	assert [c.request.method for c in rsps.calls] == ["GET", "PUT", "GET"]


def test_unsubscribe_without_email_is_refused(rsps, client):
	rsps.add(responses.GET, f"{API}/contacts/{CID}", json=contact(email_address=None))
	with pytest.raises(ValueError):
		client.unsubscribe_contact(CID)
	assert len(rsps.calls) == 1


def test_put_contact_requires_update_source(rsps, client):
	with pytest.raises(ValueError):
		client.put_contact(CID, {"first_name": "x"})
	assert len(rsps.calls) == 0


def test_client_has_no_sign_up_form_method(client):
	# sign_up_form re-subscribes unsubscribed people; the client must not offer it.
	assert not [name for name in dir(client) if "sign_up" in name or "signup" in name]


# ---------------------------------------------------------------- lists and custom fields


def test_contact_lists_paged(rsps, client):
	rsps.add(
		responses.GET,
		f"{API}/contact_lists",
		json={
			"lists": [{"list_id": "l1", "name": "News", "membership_count": 3}],
			"lists_count": 2,
			"_links": {"next": {"href": "/v3/contact_lists?cursor=2"}},
		},
	)
	rsps.add(responses.GET, f"{API}/contact_lists", json={"lists": [{"list_id": "l2", "name": "VIP"}]})
	lists = client.get_contact_lists(include_membership_count="all", status="active")
	assert [(lst.list_id, lst.name) for lst in lists] == [("l1", "News"), ("l2", "VIP")]
	assert lists[0].membership_count == 3
	assert query(rsps.calls[0]) == {
		"include_membership_count": ["all"],
		"status": ["active"],
		"limit": ["500"],
	}
	assert rsps.calls[1].request.url == f"{API}/contact_lists?cursor=2"


def test_custom_fields_paged_at_100(rsps, client):
	rsps.add(
		responses.GET,
		f"{API}/contact_custom_fields",
		json={
			"custom_fields": [
				{"custom_field_id": "f1", "label": "CRM Id", "name": "CRM_Id", "type": "string"}
			],
			"_links": {"next": {"href": "/v3/contact_custom_fields?cursor=2"}},
		},
	)
	rsps.add(
		responses.GET,
		f"{API}/contact_custom_fields",
		json={"custom_fields": [{"custom_field_id": "f2", "label": "Tier", "name": "Tier"}]},
	)
	fields = client.get_custom_fields()
	assert [f.name for f in fields] == ["CRM_Id", "Tier"]
	assert query(rsps.calls[0]) == {"limit": ["100"]}


def test_the_members_of_a_list_are_asked_for_by_cc_lists_filter(rsps, client):
	rsps.add(responses.GET, f"{API}/contacts", json={"contacts": [contact("c1")]})
	list(client.iter_contact_pages(lists=["l-1"], status="all", limit=500))
	assert query(rsps.calls[0])["lists"] == ["l-1"]
	with pytest.raises(ValueError):
		list(client.iter_contact_pages(lists=[f"l-{i}" for i in range(26)]))
	assert len(rsps.calls) == 1


def test_an_opt_out_reaches_cc_for_a_contact_holding_a_name_longer_than_its_put_accepts(rsps, client):
	# CC refuses a whole PUT for one name past 50 characters; the opt-out must not be the casualty.
	long_company = "Ü" * 52
	rsps.add(responses.GET, f"{API}/contacts/{CID}", json=contact(company_name=long_company))
	rsps.add(responses.PUT, f"{API}/contacts/{CID}", json=contact())
	client.unsubscribe_contact(CID)
	body = json.loads(rsps.calls[1].request.body)
	assert body["company_name"] == "Ü" * 50
	assert body["first_name"] == "Debora"
	assert body["email_address"]["permission_to_send"] == "unsubscribed"
