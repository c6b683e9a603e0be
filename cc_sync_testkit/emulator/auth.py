"""The emulated authorization server (`authz.constantcontact.com/oauth2/default/v1`).

It reproduces what breaks real integrations: single-use codes valid for 5 minutes, PKCE checked against
the S256 challenge, no refresh token without `offline_access`, and refresh tokens of either kind CC
offers: rotating, where each refresh invalidates every earlier token of the same grant, or long-lived,
where the same token comes back unchanged on every refresh.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from cc_sync.constant_contact.clock import Clock

CODE_TTL = timedelta(minutes=5)
REFRESH_IDLE_TTL = timedelta(days=180)
DEFAULT_SCOPE = "contact_data offline_access"
# Chosen per application in CC's developer portal: rotating (single use) or long-lived (reusable).
REFRESH_KINDS = ("rotating", "long_lived")

Response = tuple[int, dict[str, str], bytes]


def _b64url(data: bytes) -> str:
	return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _json(status: int, payload: Any, extra: Mapping[str, str] | None = None) -> Response:
	headers = {"Content-Type": "application/json", "Cache-Control": "no-store"}
	headers.update(extra or {})
	return status, headers, json.dumps(payload).encode()


def _oauth_error(status: int, error: str, description: str) -> Response:
	return _json(status, {"error": error, "error_description": description})


class TokenAuthority:
	"""Codes, access tokens and refresh-token families for one registered application."""

	def __init__(
		self,
		clock: Clock,
		*,
		client_id: str,
		client_secret: str,
		redirect_uris: list[str] | None = None,
		access_token_ttl: float = 86400.0,
		refresh_tokens: str = "rotating",
	) -> None:
		if refresh_tokens not in REFRESH_KINDS:
			raise ValueError(f"refresh_tokens must be one of {REFRESH_KINDS}")
		self.refresh_tokens = refresh_tokens
		self.clock = clock
		self.client_id = client_id
		self.client_secret = client_secret
		self.redirect_uris = redirect_uris
		self.access_token_ttl = access_token_ttl
		self._codes: dict[str, dict[str, Any]] = {}
		self._access: dict[str, datetime] = {}
		self._scopes: dict[str, frozenset[str]] = {}
		self._refresh: dict[str, dict[str, Any]] = {}
		self._family_latest: dict[str, str] = {}
		self.token_calls = 0
		self.refreshes = 0

	# -- for tests ------------------------------------------------------------------------------------

	def issue_tokens(self, scope: str = DEFAULT_SCOPE) -> tuple[str, str]:
		"""A fresh (access, refresh) pair of a new grant, as if the user had just authorized."""
		body = self._grant(scope, family=secrets.token_hex(8))
		return body["access_token"], body["refresh_token"]

	def expire_access_tokens(self) -> None:
		"""Make every issued access token expired now (refresh tokens stay valid)."""
		past = self.clock.now() - timedelta(seconds=1)
		for token in self._access:
			self._access[token] = past

	def access_valid(self, token: str) -> bool:
		exp = self._access.get(token)
		return exp is not None and self.clock.now() < exp

	def scopes(self, token: str) -> frozenset[str]:
		"""The scopes an access token was granted (a refresh keeps the grant's scopes)."""
		return self._scopes.get(token, frozenset())

	# -- endpoints ------------------------------------------------------------------------------------

	def authorize(self, query: Mapping[str, str]) -> Response:
		"""Auto-approve: redirect back with a single-use code and the caller's `state`."""
		if query.get("client_id") != self.client_id:
			return _oauth_error(400, "invalid_client", "The client_id is unknown.")
		redirect_uri = query.get("redirect_uri", "")
		if not redirect_uri or (self.redirect_uris is not None and redirect_uri not in self.redirect_uris):
			return _oauth_error(400, "invalid_request", "The redirect_uri is not registered for this client.")
		if query.get("response_type") != "code":
			return _oauth_error(400, "unsupported_response_type", "Only response_type=code is supported.")
		# CC quirk: the state parameter is required on the authorize call.
		if not query.get("state"):
			return _oauth_error(400, "invalid_request", "The state parameter is required.")
		challenge = query.get("code_challenge")
		if challenge and query.get("code_challenge_method", "S256") != "S256":
			return _oauth_error(400, "invalid_request", "Only code_challenge_method=S256 is supported.")
		code = secrets.token_urlsafe(24)
		self._codes[code] = {
			"redirect_uri": redirect_uri,
			"scope": query.get("scope") or DEFAULT_SCOPE,
			"challenge": challenge,
			"expires": self.clock.now() + CODE_TTL,
		}
		parts = urlsplit(redirect_uri)
		extra = urlencode({"code": code, "state": query["state"]})
		location = urlunsplit(parts._replace(query=f"{parts.query}&{extra}" if parts.query else extra))
		return 302, {"Location": location, "Content-Type": "text/html"}, b""

	def token(self, headers: Mapping[str, str], body: bytes | None) -> Response:
		"""The token endpoint: authorization_code and refresh_token grants, form-encoded."""
		self.token_calls += 1
		form = {k: v[-1] for k, v in parse_qs((body or b"").decode("utf-8", "replace")).items()}
		client_id, client_secret = self._client_credentials(headers, form)
		grant_type = form.get("grant_type")
		if grant_type == "authorization_code":
			return self._code_grant(form, client_id, client_secret)
		if grant_type == "refresh_token":
			if client_id != self.client_id or client_secret != self.client_secret:
				return _oauth_error(401, "invalid_client", "Client authentication failed.")
			return self._refresh_grant(form)
		return _oauth_error(400, "unsupported_grant_type", "The grant_type is not supported.")

	# -- internals ------------------------------------------------------------------------------------

	def _client_credentials(self, headers: Mapping[str, str], form: Mapping[str, str]) -> tuple[str, str]:
		"""HTTP Basic as CC documents it; credentials in the form body also work, as seen in the wild."""
		auth = headers.get("authorization", "")
		if auth.lower().startswith("basic "):
			try:
				raw = base64.b64decode(auth[6:].strip()).decode("utf-8")
				client_id, _, secret = raw.partition(":")
				return client_id, secret
			except ValueError:
				return "", ""
		return form.get("client_id", ""), form.get("client_secret", "")

	def _code_grant(self, form: Mapping[str, str], client_id: str, client_secret: str) -> Response:
		code = self._codes.pop(form.get("code", ""), None)  # single use, even when the exchange fails
		if client_id != self.client_id:
			return _oauth_error(401, "invalid_client", "Client authentication failed.")
		if code is None or self.clock.now() >= code["expires"]:
			return _oauth_error(400, "invalid_grant", "The authorization code is invalid or expired.")
		if form.get("redirect_uri") != code["redirect_uri"]:
			return _oauth_error(
				400, "invalid_grant", "The redirect_uri does not match the authorization request."
			)
		if code["challenge"]:
			verifier = form.get("code_verifier", "")
			if _b64url(hashlib.sha256(verifier.encode()).digest()) != code["challenge"]:
				return _oauth_error(400, "invalid_grant", "PKCE verification failed.")
		elif client_secret != self.client_secret:
			return _oauth_error(401, "invalid_client", "Client authentication failed.")
		return _json(200, self._grant(code["scope"], family=secrets.token_hex(8)))

	def _refresh_grant(self, form: Mapping[str, str]) -> Response:
		token = form.get("refresh_token", "")
		entry = self._refresh.get(token)
		now = self.clock.now()
		# CC quirk: rotating refresh tokens are single use; only the newest of a grant is valid, and
		# any token idle for 180 days expires.
		if (
			entry is None
			or self._family_latest.get(entry["family"]) != token
			or now - entry["issued"] > REFRESH_IDLE_TTL
		):
			return _oauth_error(400, "invalid_grant", "The refresh token is invalid or expired.")
		self.refreshes += 1
		if self.refresh_tokens == "long_lived":
			# Recorded CC: a long-lived refresh token comes back unchanged and stays valid; using it
			# restarts its 180-day idle clock.
			entry["issued"] = now
			return _json(200, self._grant(entry["scope"], family=entry["family"], refresh=token))
		return _json(200, self._grant(entry["scope"], family=entry["family"]))

	def _grant(self, scope: str, *, family: str, refresh: str | None = None) -> dict[str, Any]:
		now = self.clock.now()
		exp = now + timedelta(seconds=self.access_token_ttl)
		access = self._jwt(now, exp, scope)
		self._access[access] = exp
		self._scopes[access] = frozenset(scope.split())
		body: dict[str, Any] = {
			"token_type": "Bearer",
			"expires_in": int(self.access_token_ttl),
			"access_token": access,
			"scope": scope,
		}
		# CC quirk: without offline_access no refresh token is issued at all.
		if "offline_access" in scope.split():
			if refresh is not None:
				body["refresh_token"] = refresh
				return body
			refresh = secrets.token_urlsafe(32)
			self._refresh[refresh] = {"family": family, "scope": scope, "issued": now}
			self._family_latest[family] = refresh
			body["refresh_token"] = refresh
		return body

	def _jwt(self, now: datetime, exp: datetime, scope: str) -> str:
		"""A JWT-shaped token (CC's are JWTs whose `exp` clients may read); the signature is not real."""
		header = {"kid": "emulator", "alg": "RS256"}
		claims = {
			"ver": 1,
			"jti": secrets.token_hex(12),
			"iss": "https://identity.constantcontact.com/oauth2/aus1lm3ry9mF7x2Ja0h8",
			"aud": "https://api.cc.email/v3",
			"iat": int(now.timestamp()),
			"exp": int(exp.timestamp()),
			"cid": self.client_id,
			"uid": "emulator-user",
			"scp": scope.split(),
			"sub": "emulator@example.com",
			"platform_user_id": "00000000-0000-4000-8000-000000000000",
		}
		parts = (
			_b64url(json.dumps(header).encode()),
			_b64url(json.dumps(claims).encode()),
			_b64url(secrets.token_bytes(32)),
		)
		return ".".join(parts)
