"""Constant Contact Settings: the connection, schedule, mappings and the sync's own status.

Saving checks the values and nothing else: no API call, no job. Connecting, testing and syncing are
explicit buttons (see `cc_sync.cc_sync.api` and `cc_sync.cc_sync.oauth`).
"""

import json

import frappe
from frappe import _
from frappe.model.document import Document
from frappe.utils import cint, now_datetime
from frappe.utils.password import get_decrypted_password

from cc_sync.cc_sync import targets
from cc_sync.cc_sync.constants import CONNECTION_CONNECTED, CONTACT, EMAIL_GROUP, LEAD, LIST, SETTINGS
from cc_sync.cc_sync.settings import (
	CAMPAIGN_SCOPE,
	MACHINE_FIELDS,
	field_rules,
	granted_scopes,
	push_filters,
	redirect_uri,
	stored_values,
)
from cc_sync.sync.fieldmap import DEFAULT_FIELD_MAP, FieldRule


class ConstantContactSettings(Document):
	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		from cc_sync.cc_sync.doctype.constant_contact_field_map.constant_contact_field_map import (
			ConstantContactFieldMap,
		)
		from cc_sync.cc_sync.doctype.constant_contact_list_mapping.constant_contact_list_mapping import (
			ConstantContactListMapping,
		)
		from cc_sync.cc_sync.doctype.constant_contact_push_target.constant_contact_push_target import (
			ConstantContactPushTarget,
		)

		access_token: DF.Password | None
		api_calls_day: DF.Date | None
		api_calls_today: DF.Int
		changes_interval: DF.Int
		changes_watermark: DF.Datetime | None
		client_id: DF.Data | None
		client_secret: DF.Password | None
		client_secret_unproven: DF.Check
		connected_account: DF.Data | None
		connection_status: DF.Literal["Not connected", "Connected", "Error"]
		create_unknown_contacts: DF.Check
		deleted_count: DF.Int
		deletes_interval: DF.Int
		deletes_watermark: DF.Datetime | None
		enabled: DF.Check
		enabled_since: DF.Datetime | None
		engagement_interval_hours: DF.Int
		engagement_share_percent: DF.Percent
		engagement_window_days: DF.Int
		field_map: DF.Table[ConstantContactFieldMap]
		group_leave_is_global: DF.Check
		last_changes_run: DF.Datetime | None
		last_changes_status: DF.Data | None
		last_deletes_run: DF.Datetime | None
		last_deletes_status: DF.Data | None
		last_engagement_run: DF.Datetime | None
		last_engagement_status: DF.Data | None
		last_error: DF.SmallText | None
		last_optouts_run: DF.Datetime | None
		last_optouts_status: DF.Data | None
		last_push_run: DF.Datetime | None
		last_push_status: DF.Data | None
		last_reconcile_run: DF.Datetime | None
		last_reconcile_status: DF.Data | None
		last_sync_log: DF.Link | None
		list_mappings: DF.Table[ConstantContactListMapping]
		optouts_interval: DF.Int
		optouts_watermark: DF.Datetime | None
		overlap_minutes: DF.Int
		push_doctype: DF.Link | None
		push_filters: DF.Code | None
		push_targets: DF.Table[ConstantContactPushTarget]
		push_interval: DF.Int
		proven_client_secret: DF.Password | None
		push_watermark: DF.Datetime | None
		reconcile_interval_hours: DF.Int
		reconcile_watermark: DF.Datetime | None
		redirect_uri: DF.Data | None
		refresh_token: DF.Password | None
		token_expires_at: DF.Datetime | None
	# end: auto-generated types

	def onload(self) -> None:
		"""Suggest Lead as the pushed DocType on ERPNext sites that have not chosen one; tell the form
		how the sync stands (scheduler, worker, lists) and which field map is in effect."""
		if not self.push_doctype and not self.client_id and frappe.db.exists("DocType", LEAD):
			self.push_doctype = LEAD
		self.redirect_uri = redirect_uri()
		# What the push fields offer: the push targets whose DocType exists here.
		self.set_onload("cc_push_targets", targets.available())
		from cc_sync.cc_sync.health import health
		from cc_sync.cc_sync.onboarding import tick_steps

		tick_steps(commit=True)
		self.set_onload("cc_health", health())
		from cc_sync.cc_sync.dashboard import contact_numbers, contact_numbers_line

		self.set_onload("cc_numbers", contact_numbers_line(contact_numbers()))
		# Connections made before email engagement lack the campaign reports' scope: the form says so.
		self.set_onload("cc_campaign_data", CAMPAIGN_SCOPE in granted_scopes(self))
		self.set_onload(
			"cc_field_map",
			[
				{"cc_field": r.cc_field, "site_field": r.site_field, "owner": r.owner}
				for r in field_rules(self.field_map)
			],
		)

	def on_update(self) -> None:
		from cc_sync.cc_sync.onboarding import tick_steps

		tick_steps()

	def before_validate(self) -> None:
		self.set_missing_defaults()

	def validate(self) -> None:
		# Tokens change only through the OAuth flow; a form save must neither clear nor replace them.
		self.flags.ignore_save_passwords = ["access_token", "refresh_token"]
		self.keep_machine_fields()
		self.note_enabled_since()
		self.hold_entered_secret()
		self.redirect_uri = redirect_uri()
		self.validate_field_map()
		self.validate_push()
		self.validate_list_mappings()

	def set_missing_defaults(self) -> None:
		"""Fields never stored (a first save from code) get their defaults, as a form would give them."""
		with_default = tuple(
			df.fieldname
			for df in self.meta.fields
			if df.default is not None and df.fieldname not in MACHINE_FIELDS
		)
		stored = stored_values(with_default)
		for field in with_default:
			if field not in stored:
				self.set(field, self.meta.get_field(field).default)

	def keep_machine_fields(self) -> None:
		"""The sync owns watermarks, last runs and the connection state; a stale form never rewinds them."""
		if self.is_new():
			return
		stored = stored_values(MACHINE_FIELDS)
		for field in MACHINE_FIELDS:
			value = stored.get(field)
			if value is None:
				value = self.meta.get_field(field).default
			self.set(field, value)

	def note_enabled_since(self) -> None:
		"""When scheduled sync was turned on: the health line reports a stream that has not run since."""
		if not self.enabled:
			self.enabled_since = None
		elif not self.enabled_since or not cint(stored_values(("enabled",)).get("enabled")):
			self.enabled_since = now_datetime()

	def hold_entered_secret(self) -> None:
		"""A client secret entered while connected is not trusted until CC accepts it: the one that works
		is kept (and used by the sync) until Test connection or Connect proves the new one."""
		entered = self.client_secret or ""
		if self.is_new() or not entered or self.is_dummy_password(entered):
			return
		stored = get_decrypted_password(SETTINGS, SETTINGS, "client_secret", raise_exception=False)
		if entered == stored or not stored or self.connection_status != CONNECTION_CONNECTED:
			return
		if not cint(self.client_secret_unproven):
			self.proven_client_secret = stored
		elif entered == self.get_password("proven_client_secret", raise_exception=False):
			self.client_secret_unproven = 0
			return
		self.client_secret_unproven = 1

	def validate_field_map(self) -> None:
		"""Check every row on its own, so the message names the row to fix."""
		problems = []
		seen: dict[str, int] = {}
		contact_meta = frappe.get_meta(CONTACT)
		for row in self.field_map:
			try:
				FieldRule(row.cc_field or "", row.site_field or "", row.field_owner or "cc")
			except ValueError as exc:
				problems.append(_("Field map row {0}: {1}").format(row.idx, exc))
				continue
			if row.site_field in seen:
				problems.append(
					_("Field map row {0}: site field {1} is already mapped in row {2}").format(
						row.idx, row.site_field, seen[row.site_field]
					)
				)
			seen[row.site_field] = row.idx
			if not contact_meta.has_field(row.site_field):
				problems.append(
					_("Field map row {0}: Contact has no field {1}").format(row.idx, row.site_field)
				)
		if problems:
			frappe.throw("<br>".join(problems), title=_("Field map"))
		field_rules(self.field_map)
		self.warn_defaults_dropped()

	def warn_defaults_dropped(self) -> None:
		"""Rows replace the whole default map: say which default fields stop being synced, when the map
		changes (not on every save)."""
		key = [(r.cc_field, r.site_field) for r in self.field_map]
		before = self.get_doc_before_save()
		if not key or (before and [(r.cc_field, r.site_field) for r in before.field_map] == key):
			return
		kept = {site for _cc, site in key}
		dropped = [f"{r.cc_field} → {r.site_field}" for r in DEFAULT_FIELD_MAP if r.site_field not in kept]
		if dropped:
			frappe.msgprint(
				_(
					"The field map's rows replace the defaults: {0} will no longer be synced. Add a row for "
					"each one you still want."
				).format(", ".join(dropped)),
				title=_("Field map"),
				indicator="orange",
			)

	def validate_push(self) -> None:
		"""The pushed DocTypes are push targets present on this site (each refused otherwise, plainly),
		each with filters that run."""
		self.validate_push_target(self)
		for row in self.get("push_targets") or []:
			self.validate_push_target(row)

	def validate_push_target(self, row) -> None:
		if row.push_filters and row.push_filters.strip():
			try:
				filters = json.loads(row.push_filters)
			except ValueError as exc:
				frappe.throw(_("Push filters are not valid JSON: {0}").format(exc), title=_("Push"))
			if not isinstance(filters, dict | list):
				frappe.throw(
					_("Push filters must be a JSON object or list of Frappe filters"), title=_("Push")
				)
		if row.push_doctype:
			targets.target_for(row.push_doctype)
			self.validate_push_filters(row, frappe.get_meta(row.push_doctype))

	def validate_push_filters(self, row, meta) -> None:
		"""Every field a push filter names must exist on the pushed DocType, and the filters must run:
		found here, on save, rather than as a failed push on every run."""
		if not (row.push_filters or "").strip():
			return
		from frappe.model import default_fields

		filters = push_filters(row)
		for f in filters:
			fieldname = None
			if isinstance(f, list | tuple) and len(f) == 3:
				fieldname = f[0]
			elif isinstance(f, list | tuple) and len(f) > 3 and f[0] == row.push_doctype:
				fieldname = f[1]  # another doctype's (a child table's) field: the query below checks it
			if fieldname and fieldname not in default_fields and not meta.has_field(fieldname):
				frappe.throw(
					_("Push filters: {0} has no field {1}").format(_(row.push_doctype), fieldname),
					title=_("Push"),
				)
		try:
			frappe.get_all(row.push_doctype, filters=filters, limit=1)
		except Exception as exc:
			frappe.throw(
				_("Push filters cannot be used with {0}: {1}").format(_(row.push_doctype), exc),
				title=_("Push"),
			)

	def validate_list_mappings(self) -> None:
		seen: set[tuple[str, str]] = set()
		for row in self.list_mappings:
			key = (row.cc_list, row.email_group)
			if key in seen:
				frappe.throw(
					_("List mapping row {0}: list {1} is already mapped to Email Group {2}").format(
						row.idx, row.list_name or row.cc_list, row.email_group
					)
				)
			seen.add(key)
			if row.email_group and not frappe.db.exists(EMAIL_GROUP, row.email_group):
				frappe.throw(_("List mapping row {0}: no Email Group {1}").format(row.idx, row.email_group))
			if row.enabled and row.cc_list and frappe.db.get_value(LIST, row.cc_list, "deleted"):
				frappe.msgprint(
					_(
						"List mapping row {0}: the list {1} was deleted in Constant Contact. Map another list "
						"or untick Enabled; nothing syncs through this row until then."
					).format(row.idx, row.list_name or row.cc_list),
					title=_("Lists"),
					indicator="orange",
				)
