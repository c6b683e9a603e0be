"""Bulk activities: import, list memberships, export and CSV download, activity status."""

import json
import random
from datetime import datetime, timezone

import pytest
import requests
import responses

from cc_sync.constant_contact.errors import ServerError, TransportError
from cc_sync.constant_contact.export_reader import ExportReader

API = "https://api.cc.email/v3"
L1 = "07936f78-662a-11eb-af0a-fa163e56c9b0"
L2 = "07936f78-662a-11eb-af0a-fa163e56c9b1"


def activity(aid="act-1", state="initialized", **over):
	a = {
		"activity_id": aid,
		"state": state,
		"created_at": "2026-09-29T14:33:39Z",
		"percent_done": 0,
		"activity_errors": [],
		"status": {"items_total_count": 0},
		"_links": {"self": {"href": f"/v3/activities/{aid}"}},
	}
	a.update(over)
	return a


def test_import_contacts_json_body_and_result(rsps, client):
	rsps.add(responses.POST, f"{API}/activities/contacts_json_import", status=201, json=activity())
	rows = [
		{"email": "joe@example.com", "first_name": "Joe", "cf:crm_id": "LEAD-1"},
		{"email": "ann@example.com", "last_name": "Ng"},
	]
	act = client.import_contacts_json(rows, [L1, L2])
	req = rsps.calls[0].request
	assert req.headers["Content-Type"] == "application/json"
	assert json.loads(req.body) == {"import_data": rows, "list_ids": [L1, L2]}
	assert act.activity_id == "act-1"
	assert act.self_href == "/v3/activities/act-1"
	assert not act.is_finished


@pytest.mark.parametrize(
	"rows, lists",
	[
		([{"email": "a@b.c"}], []),
		([{"email": "a@b.c"}], [f"l{i}" for i in range(51)]),
		([], [L1]),
		([{"email": "a@b.c"}] * 40_001, [L1]),
		([{"email": "a@b.c", "cf:blob": "x" * 255}] * 16_000, [L1]),  # over 4 MB
	],
)
def test_import_limits_are_enforced_before_sending(rsps, client, rows, lists):
	with pytest.raises(ValueError):
		client.import_contacts_json(rows, lists)
	assert len(rsps.calls) == 0


def test_import_is_not_resent_after_a_5xx(rsps, client):
	rsps.add(responses.POST, f"{API}/activities/contacts_json_import", status=500, json=[{"error_key": "x"}])
	with pytest.raises(ServerError) as exc:
		client.import_contacts_json([{"email": "a@b.c"}], [L1])
	assert exc.value.may_have_succeeded is True
	assert len(rsps.calls) == 1


def test_import_is_not_resent_after_a_read_timeout(rsps, client):
	rsps.add(
		responses.POST,
		f"{API}/activities/contacts_json_import",
		body=requests.exceptions.ReadTimeout("read timed out"),
	)
	with pytest.raises(TransportError) as exc:
		client.import_contacts_json([{"email": "a@b.c"}], [L1])
	assert exc.value.may_have_succeeded is True
	assert len(rsps.calls) == 1


def test_import_is_resent_when_cc_provably_did_not_accept_it(rsps, client):
	url = f"{API}/activities/contacts_json_import"
	rsps.add(responses.POST, url, body=requests.exceptions.ConnectTimeout("no connection"))
	rsps.add(
		responses.POST, url, status=429, json={"error_key": "throttled", "error_message": "Too Many Requests"}
	)
	rsps.add(responses.POST, url, status=201, json=activity("act-9"))
	assert client.import_contacts_json([{"email": "a@b.c"}], [L1]).activity_id == "act-9"
	assert len(rsps.calls) == 3


def test_list_membership_body(rsps, client):
	rsps.add(
		responses.POST,
		f"{API}/activities/remove_list_memberships",
		status=201,
		json=activity(status={"items_total_count": 2, "list_count": 1}),
	)
	act = client.remove_list_memberships(["c1", "c2"], [L1])
	assert json.loads(rsps.calls[0].request.body) == {
		"source": {"contact_ids": ["c1", "c2"]},
		"list_ids": [L1],
	}
	assert act.status.list_count == 1


@pytest.mark.parametrize(
	"contact_ids, list_ids",
	[([], [L1]), ([f"c{i}" for i in range(501)], [L1]), (["c1"], []), (["c1"], [f"l{i}" for i in range(51)])],
)
def test_list_membership_limits(rsps, client, contact_ids, list_ids):
	with pytest.raises(ValueError):
		client.remove_list_memberships(contact_ids, list_ids)
	assert len(rsps.calls) == 0


def test_export_then_download_csv(rsps, client):
	rsps.add(responses.POST, f"{API}/activities/contact_exports", status=201, json=activity("exp-1"))
	act = client.create_contact_export(
		status="unsubscribed",
		fields=["email_address", "email_optout_date", "email_optout_source"],
	)
	assert json.loads(rsps.calls[0].request.body) == {
		"status": "unsubscribed",
		"fields": ["email_address", "email_optout_date", "email_optout_source"],
	}
	assert act.activity_id == "exp-1"

	done = activity(
		"exp-1",
		state="completed",
		percent_done=100,
		_links={"self": {"href": "/v3/activities/exp-1"}, "results": {"href": "/v3/contact_exports/exp-1"}},
	)
	rsps.add(responses.GET, f"{API}/activities/exp-1", json=done)
	finished = client.get_activity("exp-1")
	assert finished.is_finished and finished.results_href == "/v3/contact_exports/exp-1"

	csv_text = (
		"\ufeffEmail Address,Confirmed Opt-Out Date,Confirmed Opt-Out Source\r\n"
		'a@example.com,2024-06-08 09:00:00 +0000,Contact\r\n"b,quoted"@example.com,,Account\r\n'
	)
	rsps.add(
		responses.GET,
		f"{API}/contact_exports/exp-1",
		body=csv_text.encode("utf-8"),
		content_type="text/csv",
	)
	rows = list(client.read_contact_export(finished.results_href, ExportReader()))
	assert [(r.contact.email, r.contact.email_address.opt_out_source) for r in rows] == [
		("a@example.com", "Contact"),
		("b,quoted@example.com", "Account"),
	]
	assert rows[0].contact.email_address.opt_out_date == datetime(2024, 6, 8, 9, tzinfo=timezone.utc)
	assert rsps.calls[-1].request.headers["Accept"] == "text/csv"


def test_read_by_bare_export_id(rsps, client):
	rsps.add(
		responses.GET,
		f"{API}/contact_exports/exp-2",
		body="email address\r\nx@y.z\r\n",
		content_type="text/csv",
	)
	assert [r.contact.email for r in client.read_contact_export("exp-2", ExportReader())] == ["x@y.z"]


def test_export_without_filters_sends_empty_object(rsps, client):
	rsps.add(responses.POST, f"{API}/activities/contact_exports", status=201, json=activity())
	client.create_contact_export()
	assert json.loads(rsps.calls[0].request.body) == {}


@pytest.mark.parametrize(
	"errors, expected",
	[(["Row 2: invalid email"], ["Row 2: invalid email"]), ([{"message": "Tag missing"}], ["Tag missing"])],
)
def test_get_activity_parses_import_counters_and_both_error_shapes(rsps, client, errors, expected):
	rsps.add(
		responses.GET,
		f"{API}/activities/act-1",
		json=activity(
			state="completed",
			percent_done=100,
			activity_errors=errors,
			status={
				"items_total_count": 5,
				"items_completed_count": 5,
				"person_count": 4,
				"error_count": 1,
				"correctable_count": 0,
				"cannot_add_to_list_count": 1,
			},
		),
	)
	act = client.get_activity("act-1")
	assert act.activity_errors == expected
	assert (act.status.person_count, act.status.error_count, act.status.cannot_add_to_list_count) == (4, 1, 1)
	assert act.is_finished


def test_iter_activities_pages_and_filters_by_state(rsps, client):
	rsps.add(
		responses.GET,
		f"{API}/activities",
		json={
			"activities": [activity("a1", "processing")],
			"_links": {"next": {"href": "/v3/activities?cursor=Zz"}},
		},
	)
	rsps.add(responses.GET, f"{API}/activities", json={"activities": [activity("a2", "processing")]})
	assert [a.activity_id for a in client.iter_activities(limit=5)] == ["a1", "a2"]
	assert rsps.calls[0].request.url == f"{API}/activities?limit=5"
	assert rsps.calls[1].request.url == f"{API}/activities?cursor=Zz"


class _BrokenDownload:
	"""An export download whose connection drops after the first chunk, as a long download can."""

	def __init__(self, body: bytes, fail: bool) -> None:
		self.body, self.fail = body, fail

	def stream(self, chunk_size, decode_content=True):
		from urllib3.exceptions import ProtocolError

		yield self.body[: len(self.body) // 2]
		if self.fail:
			raise ProtocolError("Connection broken: IncompleteRead")
		yield self.body[len(self.body) // 2 :]

	def close(self) -> None:
		pass


class _Session:
	"""Answers every GET with the export's CSV, the first time cut off part way."""

	def __init__(self, body: bytes) -> None:
		self.body, self.sent = body, 0

	def request(self, method, url, **kwargs):
		self.sent += 1
		resp = requests.Response()
		resp.status_code = 200
		resp.url = url
		resp.raw = _BrokenDownload(self.body, fail=self.sent == 1)
		return resp


def test_an_export_download_cut_off_part_way_is_downloaded_again_and_read_whole():
	from cc_sync.constant_contact.auth import StaticTokenProvider
	from cc_sync.constant_contact.client import ConstantContactClient
	from cc_sync.constant_contact.clock import FakeClock

	rows = "".join(f"p{i}@example.com,Implicit\r\n" for i in range(2000))
	session = _Session(("\ufeffEmail address,Email permission status\r\n" + rows).encode("utf-8"))
	client = ConstantContactClient(
		StaticTokenProvider("tok"), clock=FakeClock(), rng=random.Random(3), session=session
	)
	read = [r.contact.email for r in client.read_contact_export("exp-9", ExportReader())]
	assert read == [f"p{i}@example.com" for i in range(2000)]
	assert session.sent == 2 and client.calls == 2


def test_an_export_of_one_lists_members(rsps, client):
	rsps.add(responses.POST, f"{API}/activities/contact_exports", status=201, json=activity("exp-3"))
	client.create_contact_export(list_ids=[L1], fields=["email_address"])
	assert json.loads(rsps.calls[0].request.body) == {"list_ids": [L1], "fields": ["email_address"]}
	with pytest.raises(ValueError):
		client.create_contact_export(list_ids=[f"l{i}" for i in range(51)])
	assert len(rsps.calls) == 1
