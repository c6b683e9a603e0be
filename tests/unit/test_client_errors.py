"""Transport behaviour: retries, backoff, rate limits, quotas and typed errors."""

import random
from datetime import datetime, timezone

import pytest
import requests
import responses

from cc_sync.constant_contact.auth import StaticTokenProvider
from cc_sync.constant_contact.client import ConstantContactClient
from cc_sync.constant_contact.clock import FakeClock
from cc_sync.constant_contact.errors import (
	AuthError,
	Conflict,
	MalformedResponse,
	NotFound,
	PermissionDenied,
	QuotaExceeded,
	Refused,
	ServerError,
	Throttled,
	TransportError,
	ValidationError,
	error_from_response,
)
from cc_sync.constant_contact.ratelimit import DailyBudget

UTC = timezone.utc
API = "https://api.cc.email/v3"
URL = f"{API}/contacts"
THROTTLED = {"error_key": "throttled", "error_message": "Too Many Requests"}
QUOTA = {"error_key": "quota_exceeded", "error_message": "Limit Exceeded"}
OK = {"contacts": [{"contact_id": "c1"}]}


@pytest.fixture
def clock():
	return FakeClock(datetime(2024, 6, 1, 18, 30, tzinfo=UTC))


def make(clock, **kw):
	return ConstantContactClient(StaticTokenProvider("tok"), clock=clock, rng=random.Random(7), **kw)


def contacts(client):
	return [c.contact_id for c in client.iter_contacts()]


# ---------------------------------------------------------------- 429


def test_throttled_backs_off_then_succeeds(rsps, clock):
	rsps.add(responses.GET, URL, status=429, json=THROTTLED)
	rsps.add(responses.GET, URL, status=429, json=THROTTLED)
	rsps.add(responses.GET, URL, json=OK)
	client = make(clock)
	assert contacts(client) == ["c1"]
	assert client.calls == 3
	backoffs = [s for s in clock.slept if s >= 0.5]
	# Exponential with jitter: attempt n waits within [base*2^n / 2, base*2^n].
	assert len(backoffs) == 2
	assert 0.5 <= backoffs[0] <= 1.0
	assert 1.0 <= backoffs[1] <= 2.0


def test_throttled_until_retries_run_out(rsps, clock):
	rsps.add(responses.GET, URL, status=429, json=THROTTLED)
	client = make(clock, max_retries=3)
	with pytest.raises(Throttled) as exc:
		contacts(client)
	assert exc.value.error_key == "throttled"
	assert len(rsps.calls) == 4
	assert client.calls == 4


def test_backoff_is_capped_and_jitter_comes_from_the_rng(rsps, clock):
	rsps.add(responses.GET, URL, status=503, body="unavailable")
	client = make(clock, max_retries=6, backoff_base=1.0, backoff_max=8.0)
	with pytest.raises(ServerError):
		contacts(client)
	waits = [s for s in clock.slept if s >= 0.5]
	assert len(waits) == 6
	assert all(w <= 8.0 for w in waits)
	assert waits[4] >= 4.0 and waits[5] >= 4.0  # ceiling reached
	same = FakeClock(datetime(2024, 6, 1, 18, 30, tzinfo=UTC))
	with pytest.raises(ServerError):
		contacts(make(same, max_retries=6, backoff_base=1.0, backoff_max=8.0))
	assert [s for s in same.slept if s >= 0.5] == waits  # deterministic with a seeded rng


def test_quota_exceeded_stops_at_once(rsps, clock):
	rsps.add(responses.GET, URL, status=429, json=QUOTA)
	budget = DailyBudget(clock=clock, used=100)
	client = make(clock, budget=budget)
	with pytest.raises(QuotaExceeded) as exc:
		contacts(client)
	assert len(rsps.calls) == 1
	assert exc.value.resets_at == datetime(2024, 6, 2, tzinfo=UTC)
	assert budget.remaining == 0
	assert not [s for s in clock.slept if s >= 0.5]


# ---------------------------------------------------------------- 5xx and network


def test_server_error_retried_then_succeeds(rsps, clock):
	rsps.add(responses.GET, URL, status=500, json=[{"error_key": "server_error", "error_message": "oops"}])
	rsps.add(responses.GET, URL, status=503, body="<html>unavailable</html>")
	rsps.add(responses.GET, URL, json=OK)
	assert contacts(make(clock)) == ["c1"]
	assert len(rsps.calls) == 3


def test_server_error_after_retries_run_out(rsps, clock):
	rsps.add(responses.GET, URL, status=502, body="bad gateway")
	with pytest.raises(ServerError) as exc:
		contacts(make(clock, max_retries=2))
	assert exc.value.status == 502
	assert exc.value.may_have_succeeded is False
	assert len(rsps.calls) == 3


def test_put_is_retried_on_5xx_because_it_is_idempotent(rsps, clock):
	rsps.add(responses.PUT, f"{API}/contacts/c1", status=503, body="")
	rsps.add(responses.PUT, f"{API}/contacts/c1", json={"contact_id": "c1"})
	assert make(clock).put_contact("c1", {"update_source": "Account"}).contact_id == "c1"
	assert len(rsps.calls) == 2


@pytest.mark.parametrize(
	"exc",
	[
		requests.exceptions.ReadTimeout("read timed out"),
		requests.exceptions.ConnectTimeout("connect timed out"),
		requests.exceptions.ConnectionError("connection reset"),
		requests.exceptions.ChunkedEncodingError("body cut short"),
	],
)
def test_network_errors_retried_then_succeed(rsps, clock, exc):
	rsps.add(responses.GET, URL, body=exc)
	rsps.add(responses.GET, URL, json=OK)
	assert contacts(make(clock)) == ["c1"]
	assert len(rsps.calls) == 2


@pytest.mark.parametrize(
	"exc", [requests.exceptions.ReadTimeout("read timed out"), requests.exceptions.ConnectionError("refused")]
)
def test_network_errors_after_retries_run_out(rsps, clock, exc):
	rsps.add(responses.GET, URL, body=exc)
	client = make(clock, max_retries=2)
	with pytest.raises(TransportError):
		contacts(client)
	assert len(rsps.calls) == 3
	assert client.calls == 3


def test_every_request_has_a_timeout_and_the_right_headers(rsps, clock):
	rsps.add(responses.GET, URL, json=OK)
	rsps.add(responses.PUT, f"{API}/contacts/c1", json={"contact_id": "c1"})
	client = make(clock, timeout=(3, 17))
	contacts(client)
	client.put_contact("c1", {"update_source": "Account"})
	get, put = (c.request for c in rsps.calls)
	assert get.req_kwargs["timeout"] == (3, 17) and put.req_kwargs["timeout"] == (3, 17)
	assert get.headers["Authorization"] == "Bearer tok"
	assert get.headers["Accept"] == "application/json"
	assert "Content-Type" not in get.headers
	assert put.headers["Content-Type"] == "application/json"


# ---------------------------------------------------------------- bodies


def test_malformed_json_on_success(rsps, clock):
	rsps.add(responses.GET, URL, body="<html>maintenance</html>", status=200)
	with pytest.raises(MalformedResponse):
		contacts(make(clock))


def test_unexpected_shape_on_success(rsps, clock):
	rsps.add(responses.GET, URL, json=[{"contact_id": "c1"}])
	with pytest.raises(MalformedResponse):
		contacts(make(clock))


def test_paging_loop_is_detected(rsps, clock):
	rsps.add(responses.GET, URL, json={"contacts": [], "_links": {"next": {"href": "/v3/contacts?cursor=A"}}})
	with pytest.raises(MalformedResponse):
		contacts(make(clock))
	assert len(rsps.calls) == 2  # the first page, then A, which links to A again


@pytest.mark.parametrize(
	"status, body, cls, key, message",
	[
		(
			400,
			'[{"error_key":"contacts.api.validation.error","error_message":"Bad email"},'
			'{"error_key":"contacts.api.validation.error","error_message":"Bad birthday"}]',
			ValidationError,
			"contacts.api.validation.error",
			"Bad email; Bad birthday",
		),
		(
			401,
			'{"error_key":"unauthorized","error_message":"Unauthorized"}',
			AuthError,
			"unauthorized",
			"Unauthorized",
		),
		(
			400,
			'{"error":"invalid_grant","error_description":"The refresh token is invalid or expired."}',
			ValidationError,
			"invalid_grant",
			"The refresh token is invalid or expired.",
		),
		(403, '[{"error_key":"forbidden","error_message":"No"}]', PermissionDenied, "forbidden", "No"),
		(
			404,
			'[{"error_key":"contacts.api.not_found","error_message":"contact_id is in an invalid format."}]',
			NotFound,
			"contacts.api.not_found",
			"contact_id is in an invalid format.",
		),
		(
			409,
			'[{"error_key":"contacts.api.conflict","error_message":"Email already exists"}]',
			Conflict,
			"contacts.api.conflict",
			"Email already exists",
		),
		(415, "", ValidationError, None, ""),
		(
			405,
			"<html>Method Not Allowed</html>",
			Refused,
			None,
			"<html>Method Not Allowed</html>",
		),
		(
			429,
			'{"error_key":"throttled","error_message":"Too Many Requests"}',
			Throttled,
			"throttled",
			"Too Many Requests",
		),
		(500, "not json", ServerError, None, "not json"),
	],
)
def test_error_from_response_reads_both_cc_shapes_and_oauth(status, body, cls, key, message):
	err = error_from_response(status, body)
	assert type(err) is cls
	assert (err.status, err.error_key, err.message, err.body) == (status, key, message, body)


def test_quota_error_from_response_carries_next_utc_midnight():
	err = error_from_response(
		429,
		'{"error_key":"quota_exceeded","error_message":"Limit Exceeded"}',
		now=datetime(2024, 6, 1, 23, 59, tzinfo=UTC),
	)
	assert isinstance(err, QuotaExceeded)
	assert err.resets_at == datetime(2024, 6, 2, tzinfo=UTC)


@pytest.mark.parametrize(
	"status, cls", [(400, ValidationError), (404, NotFound), (409, Conflict), (403, PermissionDenied)]
)
def test_4xx_raise_typed_errors_without_retry(rsps, clock, status, cls):
	rsps.add(
		responses.GET, f"{API}/contacts/c1", status=status, json=[{"error_key": "k", "error_message": "m"}]
	)
	with pytest.raises(cls) as exc:
		make(clock).get_contact("c1")
	assert (exc.value.error_key, exc.value.message) == ("k", "m")
	assert len(rsps.calls) == 1


# ---------------------------------------------------------------- pacing and counting


def test_requests_are_paced_at_four_per_second(rsps, clock):
	sent_at = []

	def callback(request):
		sent_at.append(clock.monotonic())
		return 200, {}, '{"contacts":[]}'

	rsps.add_callback(responses.GET, URL, callback=callback)
	client = make(clock)
	for _ in range(13):
		contacts(client)
	assert len(sent_at) == 13
	assert all(sent_at[i + 4] - sent_at[i] >= 1.0 - 1e-9 for i in range(len(sent_at) - 4))
	assert sent_at[-1] - sent_at[0] == pytest.approx(3.0)


def test_budget_and_calls_count_every_attempt(rsps, clock):
	rsps.add(responses.GET, URL, status=500, body="")
	rsps.add(responses.GET, URL, json=OK)
	budget = DailyBudget(clock=clock)
	client = make(clock, budget=budget)
	contacts(client)
	assert client.calls == 2
	assert budget.used == 2


# ---------------------------------------------------------------- unreachable


def _closed_port() -> int:
	import socket

	with socket.socket() as s:
		s.bind(("127.0.0.1", 0))
		return s.getsockname()[1]


def test_a_refused_connection_is_retried_but_never_counted_as_a_spent_call(clock):
	budget = DailyBudget(clock=clock)
	client = make(clock, base_url=f"http://127.0.0.1:{_closed_port()}/v3", budget=budget)
	with pytest.raises(TransportError) as caught:
		contacts(client)
	assert caught.value.error_key == "unreachable" and not caught.value.may_have_succeeded
	assert [s for s in clock.slept if s >= 0.5], "refused connections are retried with backoff"
	assert client.calls == 0 and budget.used == 0


def test_a_connect_timeout_is_not_a_spent_call_and_a_later_answer_is(rsps, clock):
	budget = DailyBudget(clock=clock)
	rsps.add(responses.GET, URL, body=requests.exceptions.ConnectTimeout("connect timed out"))
	rsps.add(responses.GET, URL, json=OK)
	client = make(clock, budget=budget)
	assert contacts(client) == ["c1"]
	assert client.calls == 1 and budget.used == 1


@pytest.mark.parametrize("status", [400, 403, 404, 409, 413, 415, 422])
def test_every_answer_that_refuses_the_request_is_one_error_type(status):
	"""Push and opt-out push fail only the records a refused request carried: they catch `Refused`."""
	exc = error_from_response(status, '{"error_key": "nope", "error_message": "no"}')
	assert isinstance(exc, Refused)
	assert exc.status == status


@pytest.mark.parametrize("status", [401, 429, 500, 503])
def test_auth_throttling_and_server_errors_are_not_refusals(status):
	assert not isinstance(error_from_response(status, None), Refused)
