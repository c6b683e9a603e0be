"""Reading and writing the Constant Contact Settings single, and the schedule it drives.

The status fields (watermarks, last runs, tokens, API budget) belong to the sync, not to the person
editing the form: a save never rewinds them, and the sync writes them without touching `modified`
so an open form can still be saved.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import frappe
from frappe import _
from frappe.utils import cint, flt, get_url

from cc_sync.cc_sync.constants import (
	CONNECTION_CONNECTED,
	CONNECTION_ERROR,
	JOB_STREAMS,  # noqa: F401 (the jobs' table, read here by the runner and the API)
	OAUTH_CALLBACK_PATH,
	SCHEDULE,
	SETTINGS,
	SETTINGS_DELETED_COUNT,
	SETTINGS_OPTOUT_CHECK,
	SETTINGS_SYNC_STATE,
	WATERMARK_FIELD,
)
from cc_sync.sync.config import ListMapping, SyncConfig
from cc_sync.sync.fieldmap import DEFAULT_FIELD_MAP, FieldRule, parse_field_map

WATERMARK_FIELDS = tuple(WATERMARK_FIELD.values())
RUN_FIELDS = tuple(job.last_run for job in SCHEDULE.values()) + tuple(
	job.last_status for job in SCHEDULE.values()
)
# Written only by the sync and the OAuth flow; a form save keeps the stored values.
MACHINE_FIELDS = (
	*WATERMARK_FIELDS,
	*RUN_FIELDS,
	SETTINGS_DELETED_COUNT,
	SETTINGS_SYNC_STATE,
	SETTINGS_OPTOUT_CHECK,
	"connection_status",
	"connected_account",
	"token_expires_at",
	"last_error",
	"last_sync_log",
	"api_calls_today",
	"api_calls_day",
	"enabled_since",
	"client_secret_unproven",
)


def redirect_uri() -> str:
	"""The OAuth redirect URI of this site, as it must be registered with the CC application."""
	return get_url(OAUTH_CALLBACK_PATH)


def get_settings() -> Any:
	"""The settings, read fresh (never from the document cache) so jobs see the latest state."""
	return frappe.get_doc(SETTINGS)


def stored_values(fields: tuple[str, ...]) -> dict[str, Any]:
	"""Values of `fields` as stored in the database, bypassing any cached document."""
	rows = frappe.db.sql(
		"select field, value from `tabSingles` where doctype=%s and field in %s",
		(SETTINGS, fields),
		as_dict=True,
	)
	return {r.field: r.value for r in rows}


def all_stored_values() -> dict[str, Any]:
	"""Every stored settings value, straight from the database: cheap enough for each scheduler tick,
	and never a cached document that another worker has since changed."""
	rows = frappe.db.sql("select field, value from `tabSingles` where doctype=%s", SETTINGS, as_dict=True)
	return {r.field: r.value for r in rows}


def update_settings(values: dict[str, Any], *, commit: bool = False) -> None:
	"""Write status fields without touching `modified`, so an open settings form can still be saved."""
	for field, value in values.items():
		if isinstance(value, datetime):
			value = value.strftime("%Y-%m-%d %H:%M:%S.%f")
		frappe.db.set_single_value(SETTINGS, field, value, update_modified=False)
	if commit:
		frappe.db.commit()


@contextmanager
def separate_transaction() -> Iterator[None]:
	"""Run the block on a second database connection and commit it there.

	Token refreshes happen in the middle of a sync, whose own transaction must neither be committed
	early nor hide a refresh another worker has just committed (REPEATABLE READ snapshots would).
	"""
	from frappe.database import get_db

	conf = frappe.local.conf
	outer = frappe.local.db
	db = get_db(
		socket=conf.db_socket,
		host=conf.db_host,
		port=conf.db_port,
		user=conf.db_name,
		password=conf.db_password,
		cur_db_name=conf.db_name,
	)
	frappe.local.db = db
	try:
		yield
		db.commit()
	except BaseException:
		db.rollback()
		raise
	finally:
		frappe.local.db = outer
		db.close()


def field_rules(rows: list[Any]) -> tuple[FieldRule, ...]:
	"""The field map from settings rows; the default map when none is set."""
	if not rows:
		return DEFAULT_FIELD_MAP
	return parse_field_map(
		{"cc_field": r.cc_field, "site_field": r.site_field, "owner": r.field_owner} for r in rows
	)


def push_filters(settings: Any) -> list[list[Any]]:
	"""The push filters as a Frappe filter list (a JSON object is turned into one), or []. Also reads a
	row of More push targets (its own DocType and filters)."""
	text = (settings.push_filters or "").strip()
	if not text:
		return []
	filters = json.loads(text)
	if isinstance(filters, dict):
		doctype = settings.push_doctype
		return [
			[doctype, key, *(value if isinstance(value, list | tuple) else ["=", value])]
			for key, value in filters.items()
		]
	return filters


def push_targets(settings: Any) -> list[tuple[str, list[list[Any]], str | None]]:
	"""Every pushed DocType with its filters and the Email Group whose lists it goes to (None: every
	list mapped for push): the main one, then each enabled row of More push targets."""
	targets = []
	if settings.push_doctype:
		targets.append((settings.push_doctype, push_filters(settings), None))
	for row in settings.get("push_targets") or []:
		if cint(row.enabled) and row.push_doctype:
			targets.append((row.push_doctype, push_filters(row), row.email_group or None))
	return targets


def sync_config(settings: Any) -> SyncConfig:
	"""The engine's view of the settings: overlap, field map, list mappings, creation of contacts."""
	threshold = settings.get("export_threshold")
	return SyncConfig(
		overlap=timedelta(minutes=settings.overlap_minutes or 0),
		field_map=field_rules(settings.field_map),
		list_mappings=tuple(
			ListMapping(
				cc_list_id=row.cc_list,
				group=row.email_group,
				direction=row.direction or "both",
				enabled=bool(row.enabled),
			)
			for row in settings.list_mappings
		),
		create_unknown_contacts=bool(settings.create_unknown_contacts),
		export_threshold=SyncConfig.export_threshold if threshold is None else cint(threshold),
		campaign_data=CAMPAIGN_SCOPE in granted_scopes(settings),
		engagement_window=timedelta(days=cint(settings.get("engagement_window_days") or 90)),
		engagement_share=min(100.0, max(0.1, flt(settings.get("engagement_share_percent") or 20))) / 100,
	)


# The OAuth scope CC's campaign and report endpoints need (connections made before engagement lack it).
CAMPAIGN_SCOPE = "campaign_data"


def campaign_data_granted() -> bool:
	"""Whether the stored connection may read campaign reports (email engagement)."""
	return CAMPAIGN_SCOPE in granted_scopes(get_settings())


def granted_scopes(settings: Any) -> frozenset[str]:
	"""The scopes the stored access token carries (CC's tokens are JWTs listing them in `scp`)."""
	token = settings.get_password("access_token", raise_exception=False)
	if not token:
		return frozenset()
	try:
		payload = token.split(".")[1]
		claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
	except (IndexError, ValueError):
		return frozenset()
	scopes = claims.get("scp") or claims.get("scope") or []
	if isinstance(scopes, str):
		scopes = scopes.split()
	return frozenset(str(s) for s in scopes)


def is_connected(settings: Any) -> bool:
	return settings.connection_status == CONNECTION_CONNECTED and bool(
		settings.get_password("refresh_token", raise_exception=False)
	)


def needs_attention(error: Any) -> str:
	"""What the settings page says when CC no longer accepts the stored connection."""
	return _("The Constant Contact connection needs attention: {0}").format(error)


def mark_connection_broken(error: Any) -> str:
	"""Show on the settings page that the connection needs a Reconnect; returns the message shown."""
	message = needs_attention(error)
	update_settings({"connection_status": CONNECTION_ERROR, "last_error": message})
	return message


def require_connection(settings: Any) -> None:
	"""Stop with a clear message when there is no usable connection."""
	if settings.connection_status == CONNECTION_ERROR:
		frappe.throw(
			_("The Constant Contact connection needs attention: {0}. Use Reconnect.").format(
				settings.last_error or _("unknown error")
			),
			title=_("Not connected"),
		)
	if not is_connected(settings):
		frappe.throw(_("Connect to Constant Contact first."), title=_("Not connected"))
