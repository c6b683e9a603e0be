"""OAuth2 (authorization code, optional PKCE) against Constant Contact, and access-token providers.

CC can be set to rotate refresh tokens: each refresh invalidates every earlier refresh token. A
new token set that is used before it is stored is lost for good if the process dies, and the
connection then needs a person to reconnect. So a refreshed `TokenSet` is always persisted first.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any, Protocol
from urllib.parse import urlencode

import requests

from cc_sync.constant_contact.clock import Clock, SystemClock
from cc_sync.constant_contact.errors import (
	AuthError,
	MalformedResponse,
	ServerError,
	TransportError,
	error_from_response,
	parse_error_body,
)
from cc_sync.constant_contact.models import TokenSet

AUTH_BASE_URL = "https://authz.constantcontact.com/oauth2/default/v1"
AUTHORIZE_URL = f"{AUTH_BASE_URL}/authorize"
TOKEN_URL = f"{AUTH_BASE_URL}/token"
# offline_access is what makes CC issue a refresh token at all.
DEFAULT_SCOPES: tuple[str, ...] = ("contact_data", "offline_access")


def _b64url(raw: bytes) -> str:
	return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def pkce_challenge(code_verifier: str) -> str:
	"""The S256 code challenge for a verifier (RFC 7636)."""
	return _b64url(hashlib.sha256(code_verifier.encode("ascii")).digest())


def verify_state(expected: str | None, received: str | None) -> bool:
	"""Constant-time check of the OAuth `state` echoed back on the redirect (CSRF guard)."""
	if not expected or not received:
		return False
	return hmac.compare_digest(expected.encode("utf-8"), received.encode("utf-8"))


class OAuthClient:
	"""The two OAuth calls the product needs: exchange an authorization code, refresh a token.

	The token endpoint allows about 1 request/s and a refresh may rotate the refresh token, so
	nothing here is retried automatically. A 429 raises `Throttled` (or `QuotaExceeded`), never
	`AuthError`: CC refused the call without looking at the grant, so the caller may try again.
	"""

	def __init__(
		self,
		client_id: str,
		client_secret: str | None,
		redirect_uri: str,
		*,
		auth_base_url: str = AUTH_BASE_URL,
		session: requests.Session | None = None,
		timeout: float | tuple[float, float] = (5, 30),
		clock: Clock | None = None,
	) -> None:
		self.client_id = client_id
		self.client_secret = client_secret
		self.redirect_uri = redirect_uri
		self.auth_base_url = auth_base_url.rstrip("/")
		self.session = session or requests.Session()
		self.timeout = timeout
		self.clock = clock or SystemClock()

	@property
	def authorize_url(self) -> str:
		return f"{self.auth_base_url}/authorize"

	@property
	def token_url(self) -> str:
		return f"{self.auth_base_url}/token"

	@staticmethod
	def new_state() -> str:
		"""An unguessable `state` to store in the user's session before redirecting."""
		return secrets.token_urlsafe(32)

	@staticmethod
	def new_pkce_pair() -> tuple[str, str]:
		"""(code_verifier, code_challenge) for PKCE with S256; the verifier is 86 characters."""
		verifier = secrets.token_urlsafe(64)
		return verifier, pkce_challenge(verifier)

	def authorization_url(
		self,
		state: str,
		code_challenge: str | None = None,
		scopes: Sequence[str] = DEFAULT_SCOPES,
	) -> str:
		"""Where to send the browser so the account owner can grant access.

		ref: https://developer.constantcontact.com/api_guide/server_flow.html
		"""
		if not state:
			raise ValueError("state is required by CC and guards against CSRF")
		params = {
			"response_type": "code",
			"client_id": self.client_id,
			"redirect_uri": self.redirect_uri,
			"scope": " ".join(scopes),
			"state": state,
		}
		if code_challenge:
			params["code_challenge"] = code_challenge
			params["code_challenge_method"] = "S256"
		return f"{self.authorize_url}?{urlencode(params)}"

	def exchange_code(self, code: str, code_verifier: str | None = None) -> TokenSet:
		"""Trade the one-time code (valid 5 minutes) for tokens.

		ref: https://developer.constantcontact.com/api_guide/server_flow.html
		"""
		data = {"grant_type": "authorization_code", "code": code, "redirect_uri": self.redirect_uri}
		if code_verifier:
			data["code_verifier"] = code_verifier
		return self._token_request(data)

	def refresh(self, refresh_token: str) -> TokenSet:
		"""Get a new access token. With rotating refresh tokens the old refresh token dies here.

		ref: https://developer.constantcontact.com/api_guide/server_flow.html
		"""
		if not refresh_token:
			raise AuthError(None, "no_refresh_token", "no refresh token stored; reconnect the account")
		return self._token_request({"grant_type": "refresh_token", "refresh_token": refresh_token})

	def _token_request(self, data: dict[str, str]) -> TokenSet:
		auth: tuple[str, str] | None = None
		if self.client_secret:
			auth = (self.client_id, self.client_secret)
		else:
			# A public (PKCE) client has no secret and names itself in the form instead.
			data = {**data, "client_id": self.client_id}
		try:
			resp = self.session.post(
				self.token_url,
				data=data,
				auth=auth,
				headers={"Accept": "application/json"},
				timeout=self.timeout,
			)
		except (requests.ConnectionError, requests.Timeout) as exc:
			# A timeout after CC rotated the token cannot be recovered; the caller reconnects if
			# the next attempt answers invalid_grant.
			raise TransportError(None, "transport", f"token endpoint unreachable: {exc}", None)
		if resp.status_code >= 500:
			key, message = parse_error_body(resp.text)
			raise ServerError(resp.status_code, key, message, resp.text)
		if resp.status_code == 429:
			# Throttling (the endpoint allows about 1 request/s), not a refused grant: the stored tokens
			# are still good, so this must never read as a connection that needs Reconnect.
			raise error_from_response(429, resp.text, now=self.clock.now())
		if resp.status_code >= 400:
			key, message = parse_error_body(resp.text)
			raise AuthError(resp.status_code, key, message, resp.text)
		try:
			body: Any = resp.json()
		except ValueError:
			raise MalformedResponse(resp.status_code, None, "token response is not JSON", resp.text)
		if not isinstance(body, dict) or not body.get("access_token"):
			raise MalformedResponse(resp.status_code, None, "token response has no access_token", resp.text)
		return TokenSet.from_token_response(body, self.clock.now())


class TokenProvider(Protocol):
	"""What the API client needs: a current access token, and a way to get a fresh one after a 401."""

	def access_token(self) -> str: ...

	def refresh(self) -> str: ...


class StaticTokenProvider:
	"""A fixed token (tests, the emulator, one-off scripts): a 401 cannot be repaired."""

	def __init__(self, token: str) -> None:
		self.token = token

	def access_token(self) -> str:
		return self.token

	def refresh(self) -> str:
		raise AuthError(401, "unauthorized", "static access token was rejected and cannot be refreshed")


class OAuthTokenProvider:
	"""Access tokens from a stored `TokenSet`, refreshed shortly before expiry or after a 401.

	`lock` is a factory of context managers (e.g. a cross-process lock) held around each refresh
	so two workers never spend the same rotating refresh token; `load`, when given, re-reads the
	stored tokens inside that lock, so a worker picks up a refresh another worker already made.
	"""

	def __init__(
		self,
		oauth: OAuthClient,
		tokens: TokenSet,
		persist: Callable[[TokenSet], None],
		*,
		clock: Clock | None = None,
		refresh_margin: float = 120.0,
		lock: Callable[[], AbstractContextManager[Any]] | None = None,
		load: Callable[[], TokenSet | None] | None = None,
	) -> None:
		self.oauth = oauth
		self.tokens = tokens
		self.persist = persist
		self.clock = clock or SystemClock()
		self.refresh_margin = refresh_margin
		self._lock_factory = lock
		self._load = load
		self._local_lock = threading.Lock()

	def _expiring(self, tokens: TokenSet) -> bool:
		return tokens.expires_within(self.clock.now(), self.refresh_margin)

	def access_token(self) -> str:
		"""The current access token, refreshed first if it expires within the margin."""
		tokens = self.tokens
		if not self._expiring(tokens):
			return tokens.access_token
		return self._refresh(rejected=None)

	def refresh(self) -> str:
		"""Force a refresh because CC rejected the current access token."""
		return self._refresh(rejected=self.tokens.access_token)

	def _refresh(self, rejected: str | None) -> str:
		outer = self._lock_factory() if self._lock_factory else nullcontext()
		with self._local_lock, outer:
			current = self.tokens
			if self._load is not None:
				stored = self._load()
				if stored is not None:
					current = stored
					self.tokens = stored
			# Someone else (another thread or worker) may have refreshed while we waited.
			if current.access_token != rejected and not self._expiring(current):
				return current.access_token
			if not current.refresh_token:
				raise AuthError(None, "no_refresh_token", "no refresh token stored; reconnect the account")
			new = self.oauth.refresh(current.refresh_token)
			if not new.refresh_token:
				# Long-lived refresh tokens may not be echoed back; the old one stays valid then.
				new = new.model_copy(update={"refresh_token": current.refresh_token})
			# Persist before use: with rotating tokens the old refresh token is already dead.
			self.persist(new)
			self.tokens = new
			return new.access_token
