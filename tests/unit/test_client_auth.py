"""OAuth2 against CC, token providers, and the client's one-refresh-on-401 rule."""

import base64
import contextlib
import random
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from cc_sync.constant_contact.auth import (
	AUTHORIZE_URL,
	DEFAULT_SCOPES,
	TOKEN_URL,
	OAuthClient,
	OAuthTokenProvider,
	StaticTokenProvider,
	pkce_challenge,
	verify_state,
)
from cc_sync.constant_contact.client import ConstantContactClient
from cc_sync.constant_contact.clock import FakeClock
from cc_sync.constant_contact.errors import AuthError, QuotaExceeded, Throttled, TransportError
from cc_sync.constant_contact.models import TokenSet

UTC = timezone.utc
API = "https://api.cc.email/v3"
NOW = datetime(2024, 6, 1, 12, tzinfo=UTC)


@pytest.fixture
def clock():
	return FakeClock(NOW)


@pytest.fixture
def oauth(clock):
	return OAuthClient("my-client-id", "my-secret", "https://site.example/cc/callback", clock=clock)


def form(request) -> dict[str, str]:
	return {k: v[0] for k, v in parse_qs(request.body).items()}


def basic_credentials(request) -> tuple[str, str]:
	scheme, _, value = request.headers["Authorization"].partition(" ")
	assert scheme == "Basic"
	user, _, password = base64.b64decode(value).decode().partition(":")
	return user, password


def test_authorization_url_carries_state_scopes_and_pkce(oauth):
	verifier, challenge = oauth.new_pkce_pair()
	url = oauth.authorization_url("state-123", code_challenge=challenge)
	parts = urlsplit(url)
	assert f"{parts.scheme}://{parts.netloc}{parts.path}" == AUTHORIZE_URL
	q = {k: v[0] for k, v in parse_qs(parts.query).items()}
	assert q == {
		"response_type": "code",
		"client_id": "my-client-id",
		"redirect_uri": "https://site.example/cc/callback",
		"scope": "contact_data offline_access",
		"state": "state-123",
		"code_challenge": challenge,
		"code_challenge_method": "S256",
	}
	assert challenge == pkce_challenge(verifier)
	assert DEFAULT_SCOPES == ("contact_data", "offline_access")


def test_authorization_url_without_pkce_and_with_custom_scopes(oauth):
	q = parse_qs(urlsplit(oauth.authorization_url("s", scopes=["contact_data"])).query)
	assert q["scope"] == ["contact_data"]
	assert "code_challenge" not in q and "code_challenge_method" not in q
	with pytest.raises(ValueError):
		oauth.authorization_url("")


def test_pkce_challenge_is_s256_and_pairs_are_fresh(oauth):
	# oauthlib's own S256 implementation is the independent oracle.
	from oauthlib.oauth2 import WebApplicationClient

	verifier = "dBjftJeZ4CVP-mJ92IZ1jBd2uXFJdFNhUIfD0GoHF3E"
	assert pkce_challenge(verifier) == WebApplicationClient("x").create_code_challenge(verifier, "S256")
	v1, c1 = oauth.new_pkce_pair()
	v2, _ = oauth.new_pkce_pair()
	assert 43 <= len(v1) <= 128 and v1 != v2
	assert c1 == pkce_challenge(v1) and "=" not in c1
	assert oauth.new_state() != oauth.new_state()


def test_verify_state():
	assert verify_state("abc123", "abc123")
	assert not verify_state("abc123", "abc124")
	assert not verify_state("abc123", None)
	assert not verify_state("", "")
	assert not verify_state(None, None)


def test_exchange_code_posts_form_with_basic_auth(rsps, oauth):
	rsps.add(
		responses.POST,
		TOKEN_URL,
		json={
			"access_token": "acc-1",
			"refresh_token": "ref-1",
			"expires_in": 86400,
			"token_type": "Bearer",
			"scope": "contact_data offline_access",
		},
	)
	tokens = oauth.exchange_code("the-code", code_verifier="the-verifier")
	req = rsps.calls[0].request
	assert req.headers["Content-Type"] == "application/x-www-form-urlencoded"
	assert basic_credentials(req) == ("my-client-id", "my-secret")
	assert form(req) == {
		"grant_type": "authorization_code",
		"code": "the-code",
		"redirect_uri": "https://site.example/cc/callback",
		"code_verifier": "the-verifier",
	}
	assert tokens.access_token == "acc-1"
	assert tokens.refresh_token == "ref-1"
	assert tokens.expires_at == NOW + timedelta(seconds=86400)
	assert rsps.calls[0].request.req_kwargs["timeout"] is not None


def test_refresh_posts_form_with_basic_auth(rsps, oauth):
	rsps.add(
		responses.POST, TOKEN_URL, json={"access_token": "acc-2", "refresh_token": "ref-2", "expires_in": 60}
	)
	tokens = oauth.refresh("ref-1")
	req = rsps.calls[0].request
	assert basic_credentials(req) == ("my-client-id", "my-secret")
	assert form(req) == {"grant_type": "refresh_token", "refresh_token": "ref-1"}
	assert (tokens.access_token, tokens.refresh_token) == ("acc-2", "ref-2")


def test_public_pkce_client_sends_client_id_in_form_without_basic(rsps, clock):
	public = OAuthClient("pub-id", None, "https://site.example/cb", clock=clock)
	rsps.add(responses.POST, TOKEN_URL, json={"access_token": "a"})
	public.exchange_code("c", code_verifier="v")
	req = rsps.calls[0].request
	assert "Authorization" not in req.headers
	assert form(req)["client_id"] == "pub-id"


def test_refresh_failure_is_auth_error_with_oauth_fields(rsps, oauth):
	rsps.add(
		responses.POST,
		TOKEN_URL,
		status=400,
		json={"error": "invalid_grant", "error_description": "The refresh token is invalid or expired."},
	)
	with pytest.raises(AuthError) as exc:
		oauth.refresh("dead")
	assert exc.value.error_key == "invalid_grant"
	assert exc.value.message == "The refresh token is invalid or expired."
	assert exc.value.status == 400


def test_token_endpoint_timeout_is_a_transport_error_not_a_reconnect(rsps, oauth):
	rsps.add(responses.POST, TOKEN_URL, body=requests.exceptions.ReadTimeout("slow"))
	with pytest.raises(TransportError):
		oauth.refresh("r")


THROTTLED = {"error_key": "throttled", "error_message": "Too Many Requests"}


def test_token_endpoint_429_is_throttling_not_a_broken_connection(rsps, oauth):
	rsps.add(responses.POST, TOKEN_URL, status=429, json=THROTTLED)
	with pytest.raises(Throttled) as exc:
		oauth.refresh("r")
	assert not isinstance(exc.value, AuthError)
	assert exc.value.status == 429


def test_token_endpoint_quota_answer_stops_cleanly_without_a_reconnect(rsps, oauth):
	rsps.add(
		responses.POST, TOKEN_URL, status=429, json={"error_key": "quota_exceeded", "error_message": "x"}
	)
	with pytest.raises(QuotaExceeded):
		oauth.refresh("r")


# ---------------------------------------------------------------- token providers


def tokens(access="acc-old", refresh="ref-old", expires_in=3600.0) -> TokenSet:
	return TokenSet(
		access_token=access, refresh_token=refresh, expires_at=NOW + timedelta(seconds=expires_in)
	)


def test_provider_returns_stored_token_while_far_from_expiry(rsps, oauth, clock):
	provider = OAuthTokenProvider(oauth, tokens(), persist=lambda t: None, clock=clock)
	assert provider.access_token() == "acc-old"
	assert len(rsps.calls) == 0


def test_provider_refreshes_proactively_inside_the_margin_and_persists_first(rsps, oauth, clock):
	events = []
	rsps.add(
		responses.POST,
		TOKEN_URL,
		json={"access_token": "acc-new", "refresh_token": "ref-new", "expires_in": 86400},
	)
	provider = OAuthTokenProvider(
		oauth,
		tokens(expires_in=300),
		persist=lambda t: events.append(("persist", t)),
		clock=clock,
		refresh_margin=120,
	)
	assert provider.access_token() == "acc-old"  # 300 s left: outside the margin
	clock.advance(181)  # 119 s left
	assert provider.access_token() == "acc-new"
	assert form(rsps.calls[0].request)["refresh_token"] == "ref-old"
	[(_, saved)] = events
	assert (saved.access_token, saved.refresh_token) == ("acc-new", "ref-new")
	assert provider.access_token() == "acc-new"
	assert len(rsps.calls) == 1


def test_provider_keeps_old_refresh_token_when_none_is_returned(rsps, oauth, clock):
	saved = []
	rsps.add(responses.POST, TOKEN_URL, json={"access_token": "acc-new", "expires_in": 86400})
	provider = OAuthTokenProvider(oauth, tokens(), persist=saved.append, clock=clock)
	assert provider.refresh() == "acc-new"
	assert saved[0].refresh_token == "ref-old"
	assert provider.tokens.refresh_token == "ref-old"


def test_provider_does_not_use_a_token_it_failed_to_persist(rsps, oauth, clock):
	rsps.add(responses.POST, TOKEN_URL, json={"access_token": "acc-new", "refresh_token": "ref-new"})

	def broken_persist(_t):
		raise RuntimeError("database down")

	provider = OAuthTokenProvider(oauth, tokens(), persist=broken_persist, clock=clock)
	with pytest.raises(RuntimeError):
		provider.refresh()
	assert provider.tokens.access_token == "acc-old"


def test_provider_refreshes_under_the_lock_and_adopts_another_workers_refresh(rsps, oauth, clock):
	lock_events = []
	store = {"tokens": tokens()}

	@contextlib.contextmanager
	def lock():
		lock_events.append("enter")
		yield
		lock_events.append("exit")

	provider = OAuthTokenProvider(
		oauth,
		tokens(),
		persist=lambda t: store.update(tokens=t),
		clock=clock,
		lock=lock,
		load=lambda: store["tokens"],
	)
	# Another worker already refreshed and stored a fresh pair.
	store["tokens"] = tokens(access="acc-other", refresh="ref-other", expires_in=86400)
	assert provider.refresh() == "acc-other"
	assert len(rsps.calls) == 0
	assert lock_events == ["enter", "exit"]

	# When the stored token is the rejected one, it refreshes with the stored refresh token.
	rsps.add(
		responses.POST,
		TOKEN_URL,
		json={"access_token": "acc-3", "refresh_token": "ref-3", "expires_in": 86400},
	)
	assert provider.refresh() == "acc-3"
	assert form(rsps.calls[0].request)["refresh_token"] == "ref-other"
	assert store["tokens"].refresh_token == "ref-3"


def test_static_provider_cannot_refresh():
	with pytest.raises(AuthError):
		StaticTokenProvider("t").refresh()


# ---------------------------------------------------------------- client + provider on 401


def make_client(provider, clock):
	return ConstantContactClient(provider, clock=clock, rng=random.Random(1))


def test_401_refreshes_once_persists_then_retries_with_new_token(rsps, oauth, clock):
	events = []
	rsps.add(
		responses.POST,
		TOKEN_URL,
		json={"access_token": "acc-new", "refresh_token": "ref-new", "expires_in": 86400},
	)

	def contacts_callback(request):
		events.append(("api", request.headers["Authorization"]))
		if request.headers["Authorization"] == "Bearer acc-old":
			return 401, {}, '{"error_key":"unauthorized","error_message":"Unauthorized"}'
		return 200, {}, '{"contacts":[]}'

	rsps.add_callback(responses.GET, f"{API}/contacts", callback=contacts_callback)
	provider = OAuthTokenProvider(
		oauth,
		tokens(),
		persist=lambda t: events.append(("persist", t.access_token, t.refresh_token)),
		clock=clock,
	)
	client = make_client(provider, clock)
	assert list(client.iter_contacts()) == []
	assert events == [
		("api", "Bearer acc-old"),
		("persist", "acc-new", "ref-new"),
		("api", "Bearer acc-new"),
	]
	assert client.calls == 2


def test_401_after_refresh_raises_auth_error(rsps, oauth, clock):
	rsps.add(responses.POST, TOKEN_URL, json={"access_token": "acc-new", "refresh_token": "ref-new"})
	rsps.add(
		responses.GET,
		f"{API}/contacts",
		status=401,
		json={"error_key": "unauthorized", "error_message": "Unauthorized"},
	)
	provider = OAuthTokenProvider(oauth, tokens(), persist=lambda t: None, clock=clock)
	with pytest.raises(AuthError) as exc:
		list(make_client(provider, clock).iter_contacts())
	assert exc.value.status == 401
	token_calls = [c for c in rsps.calls if c.request.url.startswith(TOKEN_URL)]
	api_calls = [c for c in rsps.calls if c.request.url.startswith(API)]
	assert len(token_calls) == 1
	assert len(api_calls) == 2


def test_401_with_failed_refresh_raises_auth_error_without_retrying(rsps, oauth, clock):
	rsps.add(
		responses.POST, TOKEN_URL, status=400, json={"error": "invalid_grant", "error_description": "expired"}
	)
	rsps.add(
		responses.GET,
		f"{API}/contacts",
		status=401,
		json={"error_key": "unauthorized", "error_message": "Unauthorized"},
	)
	provider = OAuthTokenProvider(oauth, tokens(), persist=lambda t: None, clock=clock)
	with pytest.raises(AuthError) as exc:
		list(make_client(provider, clock).iter_contacts())
	assert exc.value.error_key == "invalid_grant"
	assert len([c for c in rsps.calls if c.request.url.startswith(API)]) == 1


def test_401_with_static_token_is_auth_error(rsps, clock):
	rsps.add(
		responses.GET,
		f"{API}/contacts",
		status=401,
		json={"error_key": "unauthorized", "error_message": "Unauthorized"},
	)
	with pytest.raises(AuthError):
		list(make_client(StaticTokenProvider("t"), clock).iter_contacts())


def test_client_waits_out_a_throttled_token_refresh_after_a_401(rsps, oauth, clock):
	rsps.add(responses.POST, TOKEN_URL, status=429, json=THROTTLED)
	rsps.add(responses.POST, TOKEN_URL, status=429, json=THROTTLED)
	rsps.add(
		responses.POST,
		TOKEN_URL,
		json={"access_token": "acc-new", "refresh_token": "ref-new", "expires_in": 86400},
	)

	def contacts_callback(request):
		if request.headers["Authorization"] == "Bearer acc-old":
			return 401, {}, '{"error_key":"unauthorized","error_message":"Unauthorized"}'
		return 200, {}, '{"contacts":[]}'

	rsps.add_callback(responses.GET, f"{API}/contacts", callback=contacts_callback)
	saved = []
	provider = OAuthTokenProvider(oauth, tokens(), persist=saved.append, clock=clock)
	started = clock.now()
	assert list(make_client(provider, clock).iter_contacts()) == []
	assert [t.access_token for t in saved] == ["acc-new"]
	assert len([c for c in rsps.calls if c.request.url.startswith(TOKEN_URL)]) == 3
	# It waited between the throttled attempts instead of hammering a 1 request/s endpoint.
	assert clock.now() - started >= timedelta(seconds=1)


def test_client_waits_out_a_throttled_proactive_refresh(rsps, oauth, clock):
	rsps.add(responses.POST, TOKEN_URL, status=429, json=THROTTLED)
	rsps.add(responses.POST, TOKEN_URL, json={"access_token": "acc-new", "expires_in": 86400})
	rsps.add(responses.GET, f"{API}/contacts", json={"contacts": []})
	provider = OAuthTokenProvider(oauth, tokens(expires_in=30), persist=lambda t: None, clock=clock)
	assert list(make_client(provider, clock).iter_contacts()) == []
	assert rsps.calls[-1].request.headers["Authorization"] == "Bearer acc-new"


def test_a_token_endpoint_that_stays_throttled_raises_throttled_not_auth_error(rsps, oauth, clock):
	rsps.add(responses.POST, TOKEN_URL, status=429, json=THROTTLED)
	provider = OAuthTokenProvider(oauth, tokens(expires_in=30), persist=lambda t: None, clock=clock)
	client = make_client(provider, clock)
	with pytest.raises(Throttled):
		list(client.iter_contacts())
	assert len(rsps.calls) == client.max_retries + 1
	assert client.calls == 0
