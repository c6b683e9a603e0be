"""Connecting the site to a Constant Contact account (OAuth2 authorization code with PKCE).

The tokens live only in the settings' Password fields (encrypted at rest, never sent to the browser).
CC may rotate refresh tokens, so every refresh runs under a Redis lock shared by all workers and
hosts, re-reads the stored tokens inside it, and stores the new pair before using it.
"""

from __future__ import annotations

import base64
import json
from contextlib import AbstractContextManager
from typing import Any

import frappe
from frappe import _
from frappe.utils import cint
from frappe.utils.password import get_decrypted_password, remove_encrypted_password, set_encrypted_password

from cc_sync.cc_sync.constants import (
	CONF_AUTH_BASE,
	CONNECTION_CONNECTED,
	SETTINGS,
	SETTINGS_ROUTE,
)
from cc_sync.cc_sync.settings import (
	get_settings,
	redirect_uri,
	separate_transaction,
	update_settings,
)
from cc_sync.cc_sync.sitetime import from_site, to_site
from cc_sync.constant_contact.auth import AUTH_BASE_URL, OAuthClient, OAuthTokenProvider, verify_state
from cc_sync.constant_contact.errors import AuthError, ConstantContactError
from cc_sync.constant_contact.models import TokenSet

# The pending authorization (state and PKCE verifier) waits here for the redirect back, per user.
STATE_CACHE_KEY = "cc_sync:oauth_pending:{user}"
STATE_TTL_SECONDS = 600
TOKEN_LOCK_KEY = "cc_sync:token_refresh"


# What the app asks CC for: contacts, and (for email engagement) the campaign reports; offline_access
# brings the refresh token.
SCOPES = ("contact_data", "campaign_data", "offline_access")


def oauth_client(settings: Any | None = None, *, entered: bool = False) -> OAuthClient:
	"""The OAuth client for the configured CC application; test hosts come from site config only.

	Token refreshes use the secret CC last accepted while a newly entered one is not proven yet
	(`entered=True`: the one in the form, for Connect and for proving it)."""
	settings = settings or get_settings()
	client_secret = None
	if not entered and cint(settings.get("client_secret_unproven")):
		client_secret = settings.get_password("proven_client_secret", raise_exception=False)
	client_secret = client_secret or settings.get_password("client_secret", raise_exception=False)
	if not settings.client_id or not client_secret:
		frappe.throw(_("Enter the Client ID and Client secret of your Constant Contact application first."))
	return OAuthClient(
		settings.client_id,
		client_secret,
		redirect_uri(),
		auth_base_url=frappe.conf.get(CONF_AUTH_BASE) or AUTH_BASE_URL,
	)


@frappe.whitelist(methods=["POST"])
def connect() -> dict[str, str]:
	"""Start the authorization: remember a one-time state and PKCE verifier, return CC's sign-in URL."""
	frappe.only_for("System Manager")
	client = oauth_client(entered=True)
	state = OAuthClient.new_state()
	verifier, challenge = OAuthClient.new_pkce_pair()
	frappe.cache.set_value(
		STATE_CACHE_KEY.format(user=frappe.session.user),
		{"state": state, "verifier": verifier},
		expires_in_sec=STATE_TTL_SECONDS,
	)
	url = client.authorization_url(state, challenge, scopes=SCOPES)
	return {"url": url, "redirect_uri": client.redirect_uri}


@frappe.whitelist(methods=["GET"])
def callback(
	code: str | None = None,
	state: str | None = None,
	error: str | None = None,
	error_description: str | None = None,
) -> None:
	"""Where CC sends the browser back. Only the System Manager who started the flow can finish it.

	Whatever goes wrong, the person sees a page of this app saying what happened and a button back
	to the settings; a working connection is never broken by a sign-in that did not complete.
	"""
	try:
		verifier = _take_pending_flow(state)
		if error or not code:
			raise _SignInFailed(
				_("Constant Contact did not grant access ({0}).").format(
					error_description or error or _("no code")
				),
				400,
			)
		tokens = _exchange(code, verifier)
	except _SignInFailed as failed:
		_failure_page(failed.message, failed.status, detail=failed.detail)
		return
	store_tokens(tokens)
	update_settings(
		{
			"connection_status": CONNECTION_CONNECTED,
			"connected_account": account_name(tokens.access_token),
			"last_error": None,
		},
	)
	secret_proven()
	from cc_sync.cc_sync.onboarding import tick_steps

	tick_steps()
	frappe.db.commit()
	_redirect_to_settings()


class _SignInFailed(Exception):
	"""A sign-in that cannot complete: what the person is told, the page's HTTP status, CC's own words."""

	def __init__(self, message: str, status: int, detail: str | None = None) -> None:
		super().__init__(message)
		self.message = message
		self.status = status
		self.detail = detail


def _take_pending_flow(state: str | None) -> str | None:
	"""The PKCE verifier of the flow this System Manager started, if `state` is that flow's; the flow is
	used up whatever happens next, so it cannot be replayed."""
	if "System Manager" not in frappe.get_roles():
		raise _SignInFailed(_("Only a System Manager can connect this site to Constant Contact."), 403)
	key = STATE_CACHE_KEY.format(user=frappe.session.user)
	pending = frappe.cache.get_value(key) or {}
	frappe.cache.delete_value(key)
	if not verify_state(pending.get("state"), state):
		raise _SignInFailed(
			_(
				"This answer from Constant Contact does not belong to a connection started here: it may be "
				"older than ten minutes, come from another browser tab, or have been used already."
			),
			400,
		)
	return pending.get("verifier")


def _exchange(code: str, verifier: str | None) -> TokenSet:
	"""The tokens for CC's code; with a client secret, refreshed once at once to prove the secret."""
	client = oauth_client(entered=True)
	try:
		tokens = client.exchange_code(code, verifier)
		if client.client_secret and tokens.refresh_token:
			# The code exchange of a PKCE flow does not prove the secret; the first refresh does. Do it
			# now, so a mistyped secret is found here and not at the first refresh an hour later.
			tokens = client.refresh(tokens.refresh_token)
	except AuthError as exc:
		if exc.error_key == "invalid_client":
			raise _SignInFailed(
				_(
					"Constant Contact did not accept the Client ID and Client secret. Copy both again from "
					"your application in Constant Contact's developer portal, save the settings and press "
					"Connect."
				),
				400,
				detail=str(exc),
			)
		raise _SignInFailed(_("Constant Contact did not accept the sign-in."), 400, detail=str(exc))
	except ConstantContactError as exc:
		raise _SignInFailed(
			_("Constant Contact could not be reached; nothing was changed. Try Connect again in a minute."),
			502,
			detail=str(exc),
		)
	return tokens


def _failure_page(message: str, status: int, detail: str | None = None) -> None:
	"""The app's own page for a sign-in that did not complete: what happened, that the existing
	connection is unchanged, and the way back to the settings."""
	connected = frappe.db.get_single_value(SETTINGS, "connection_status") == CONNECTION_CONNECTED
	unchanged = (
		_("The existing connection is unchanged and syncing goes on.")
		if connected
		else _("Nothing was changed.")
	)
	html = f"<p>{frappe.utils.escape_html(message)}</p><p>{unchanged}</p>"
	if detail:
		html += (
			f"<details><summary>{_('Technical details')}</summary>"
			f"<pre>{frappe.utils.escape_html(detail)}</pre></details>"
		)
	frappe.respond_as_web_page(
		_("Constant Contact: connection not completed"),
		html,
		http_status_code=status,
		indicator_color="orange" if connected else "red",
		primary_action=SETTINGS_ROUTE,
		primary_label=_("Back to Constant Contact Settings"),
	)


def _redirect_to_settings() -> None:
	frappe.local.response["type"] = "redirect"
	frappe.local.response["location"] = SETTINGS_ROUTE


def secret_proven() -> None:
	"""CC accepted the entered client secret: it is the one in use from now on."""
	update_settings({"client_secret_unproven": 0})
	remove_encrypted_password(SETTINGS, SETTINGS, "proven_client_secret")


def prove_entered_secret() -> str | None:
	"""Refresh the tokens with the client secret entered since CC last accepted one.

	None when CC accepts it (the new tokens are stored and it is in use from now on); otherwise what
	the person is told: CC rejected it, so the secret that works is put back and the sync goes on.
	"""
	settings = get_settings()
	if not cint(settings.client_secret_unproven):
		return None
	with token_lock():
		tokens = load_tokens_fresh()
		try:
			fresh = oauth_client(settings, entered=True).refresh(tokens.refresh_token if tokens else "")
		except AuthError as exc:
			if exc.error_key != "invalid_client":
				raise
			proven = settings.get_password("proven_client_secret", raise_exception=False)
			set_encrypted_password(SETTINGS, SETTINGS, proven, "client_secret")
			secret_proven()
			return _(
				"Constant Contact did not accept the new client secret, so the one that works is kept and "
				"the sync goes on with it. Copy the secret again from your application in Constant "
				"Contact's developer portal if it was changed there."
			)
		persist_tokens(fresh)
	secret_proven()
	return None


def account_name(access_token: str) -> str | None:
	"""Who granted access, read from the JWT's claims (not verified: only shown on the form)."""
	try:
		payload = access_token.split(".")[1]
		claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
	except (IndexError, ValueError):
		return None
	return claims.get("sub") or claims.get("platform_user_id")


def store_tokens(tokens: TokenSet) -> None:
	"""Write a token set into the settings' Password fields, in the current transaction."""
	set_encrypted_password(SETTINGS, SETTINGS, tokens.access_token, "access_token")
	if tokens.refresh_token:
		set_encrypted_password(SETTINGS, SETTINGS, tokens.refresh_token, "refresh_token")
	update_settings({"token_expires_at": to_site(tokens.expires_at)})


def load_tokens() -> TokenSet | None:
	"""The stored token set, or None when the site is not connected."""
	access = get_decrypted_password(SETTINGS, SETTINGS, "access_token", raise_exception=False)
	if not access:
		return None
	refresh = get_decrypted_password(SETTINGS, SETTINGS, "refresh_token", raise_exception=False)
	expires = frappe.db.get_single_value(SETTINGS, "token_expires_at")
	return TokenSet(access_token=access, refresh_token=refresh, expires_at=from_site(expires))


def persist_tokens(tokens: TokenSet) -> None:
	"""Store a refreshed pair at once, outside the sync's own transaction, before it is used."""
	with separate_transaction():
		store_tokens(tokens)


def load_tokens_fresh() -> TokenSet | None:
	"""Read the tokens as committed right now (another worker may have just refreshed them)."""
	with separate_transaction():
		return load_tokens()


def token_lock() -> AbstractContextManager[Any]:
	"""One refresh at a time across every worker and host of this site."""
	return frappe.cache.lock(frappe.cache.make_key(TOKEN_LOCK_KEY), timeout=60, blocking_timeout=30)


def token_provider(settings: Any | None = None) -> OAuthTokenProvider:
	"""Access tokens for the API client, refreshed under the lock and persisted before use."""
	settings = settings or get_settings()
	tokens = load_tokens()
	if tokens is None:
		frappe.throw(_("Connect to Constant Contact first."), title=_("Not connected"))
	return OAuthTokenProvider(
		oauth_client(settings),
		tokens,
		persist_tokens,
		lock=token_lock,
		load=load_tokens_fresh,
	)
