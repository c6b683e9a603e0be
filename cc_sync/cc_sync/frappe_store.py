"""The sync store on a Frappe site: Contacts, Leads, Email Groups and the app's own DocTypes.

It implements `cc_sync.sync.store.SyncStore` with batched SQL, because the engine applies pages of 500
contacts and a first pull can bring hundreds of thousands: a page costs a handful of queries, never one
document load per row. Writes go straight to the tables (the sync's own bookkeeping must not fire the
doc_events that would echo a change back to CC), and bump `modified` wherever a user-visible value
changes, so a form left open on a stale copy cannot silently undo a consent change.

Datetimes: the engine speaks timezone-aware UTC; the site stores naive datetimes in its system
timezone, as every Frappe Datetime field does. Conversion happens at this boundary only.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Iterator, Sequence
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

import frappe
from frappe.contacts.doctype.contact.contact import get_full_name
from frappe.utils import cint, get_datetime, get_system_timezone, now_datetime

from cc_sync.cc_sync import frappe_consent
from cc_sync.cc_sync.column_fit import Column, fit
from cc_sync.cc_sync.constants import (
	CONTACT,
	CONTACT_CC_DELETED,
	CONTACT_CC_EMAIL_UPDATED_AT,
	CONTACT_CC_ID,
	CONTACT_CC_PERMISSION,
	CONTACT_CC_UPDATED_AT,
	CONTACT_EMAIL,
	CONTACT_LAST_SYNCED,
	CONTACT_OPTED_OUT_AT,
	CONTACT_OPTOUT_CC_CLOCK,
	DYNAMIC_LINK,
	EMAIL_GROUP,
	EMAIL_GROUP_MEMBER,
	IMPORT,
	LEAD,
	LEAD_CC_ID,
	LEAD_PUSH_ERROR,
	LEAD_PUSH_STATUS,
	LEAD_PUSHED_AT,
	OPT_OUT,
	SETTINGS,
	SETTINGS_DELETED_COUNT,
	SETTINGS_SYNC_STATE,
)
from cc_sync.cc_sync.naming import NAMES, random_writer
from cc_sync.sync import consent
from cc_sync.sync.consent import AddressConsent
from cc_sync.sync.fieldmap import DEFAULT_FIELD_MAP
from cc_sync.sync.matching import normalise_email
from cc_sync.sync.push import STATUS_PUSHED, STATUS_QUEUED, STATUS_SKIPPED
from cc_sync.sync.records import (
	ActivityRecord,
	ContactWrite,
	LocalOptOut,
	PushCandidate,
	PushOutcome,
	SiteContact,
)

UNSUBSCRIBED = "unsubscribed"
OPTOUT_PENDING = "Pending"
OPTOUT_DONE = "Done"
# Push outcomes that mark a record as sent; the others clear its pushed-at.
SENT_STATUSES = (STATUS_QUEUED, STATUS_PUSHED)
# IN lists are sent in slices of this many values.
SLICE = 1000
PUSH_PAGE = 2000
SAVEPOINT = "cc_sync_new_rows"
# How many times an insert that finds a name taken is tried again under fresh names.
NAME_RETRIES = 3
# Lead fields that hold what Contact calls otherwise (ERPNext v15 names).
CONTACT_TO_LEAD = {"designation": "job_title"}
# Contact columns the store manages itself; a field map cannot write them.
_RESERVED = frozenset(
	{
		"name",
		"owner",
		"creation",
		"modified",
		"modified_by",
		"docstatus",
		"idx",
		"email_id",
		"full_name",
		"unsubscribed",
		CONTACT_CC_ID,
		CONTACT_CC_PERMISSION,
		CONTACT_OPTED_OUT_AT,
		CONTACT_OPTOUT_CC_CLOCK,
		CONTACT_LAST_SYNCED,
		CONTACT_CC_DELETED,
		CONTACT_CC_UPDATED_AT,
		CONTACT_CC_EMAIL_UPDATED_AT,
	}
)
_DATETIME_STATE = frozenset(
	{"creation", CONTACT_OPTED_OUT_AT, CONTACT_CC_UPDATED_AT, CONTACT_CC_EMAIL_UPDATED_AT}
)
_NUMERIC = frozenset({"Check", "Int", "Float", "Currency", "Percent", "Rating", "Duration"})
_STATE_COLUMNS = (
	"name",
	"email_id",
	"creation",
	"unsubscribed",
	CONTACT_CC_ID,
	CONTACT_CC_PERMISSION,
	CONTACT_OPTED_OUT_AT,
	CONTACT_CC_UPDATED_AT,
	CONTACT_CC_EMAIL_UPDATED_AT,
	CONTACT_CC_DELETED,
)


# -- datetimes -----------------------------------------------------------------------------------
def _site_tz() -> ZoneInfo:
	return ZoneInfo(get_system_timezone())


def to_site(value: datetime | None) -> datetime | None:
	"""An engine datetime (aware; naive is taken as UTC) as the site stores it: naive, system timezone."""
	if value is None:
		return None
	if value.tzinfo is None:
		value = value.replace(tzinfo=timezone.utc)
	return value.astimezone(_site_tz()).replace(tzinfo=None)


def from_site(value: Any) -> datetime | None:
	"""A site Datetime value as the engine wants it: aware, UTC."""
	if not value:
		return None
	if isinstance(value, str):
		try:
			value = datetime.fromisoformat(value)
		except ValueError:
			value = get_datetime(value)
	elif not isinstance(value, datetime):
		value = get_datetime(value)
	if value.year <= 1:
		# An empty Datetime of a Single reads back as 0001-01-01.
		return None
	return value.replace(tzinfo=_site_tz()).astimezone(timezone.utc)


# -- small SQL helpers ---------------------------------------------------------------------------
def _slices(values: Iterable[Any], size: int = SLICE) -> Iterator[tuple]:
	items = list(dict.fromkeys(values))
	for start in range(0, len(items), size):
		yield tuple(items[start : start + size])


def _select_in(sql: str, values: Iterable[Any], **params: Any) -> list[frappe._dict]:
	"""Run `sql` (with an `%(values)s` IN placeholder) once per slice of `values`."""
	rows: list[frappe._dict] = []
	for chunk in _slices(values):
		rows.extend(frappe.db.sql(sql, {**params, "values": chunk}, as_dict=True))
	return rows


def _execute_in(sql: str, values: Iterable[Any], **params: Any) -> None:
	for chunk in _slices(values):
		frappe.db.sql(sql, {**params, "values": chunk})


def _insert_rows(doctype: str, columns: Sequence[str], rows: Sequence[tuple], size: int = 500) -> None:
	"""Multi-row INSERTs with driver-side escaping (frappe.db.bulk_insert builds its SQL far slower)."""
	names = ", ".join(f"`{c}`" for c in columns)
	placeholder = "(" + ", ".join(["%s"] * len(columns)) + ")"
	for start in range(0, len(rows), size):
		chunk = rows[start : start + size]
		frappe.db.sql(
			f"insert into `tab{doctype}` ({names}) values {', '.join([placeholder] * len(chunk))}",
			[value for row in chunk for value in row],
		)


def _column_specs(doctype: str, meta: Any) -> dict[str, Column]:
	"""Each column of the DocType's table as the database holds it (type, length), plus Select options."""
	rows = frappe.db.sql(
		"""select column_name, data_type, character_maximum_length from information_schema.columns
		where table_schema = database() and table_name = %s""",
		f"tab{doctype}",
	)
	specs = {}
	for name, data_type, length in rows:
		field = meta.get_field(name)
		options: tuple[str, ...] = ()
		if field is not None and field.fieldtype == "Select" and field.options:
			options = tuple(o for o in field.options.split("\n"))
		specs[name] = Column(str(data_type), int(length) if length else None, options)
	return specs


def _doctype_exists(doctype: str) -> bool:
	return bool(frappe.db.table_exists(doctype))


def _connection_id() -> int:
	"""This connection's id: no two open connections share it, which makes the names below unique."""
	return int(frappe.db.sql("select connection_id()")[0][0])


def row_names(doctype: str, rows: Sequence[dict[str, Any]], writer: int) -> list[str]:
	"""Names for new rows of `doctype` (the scale benchmark swaps in the old scheme to compare)."""
	return NAMES.take(len(rows), writer)


def _insert_named(doctype: str, rows: list[dict[str, Any]], blank: dict[str, Any] | None = None) -> None:
	"""Insert `rows` under new names, set on each row (see naming.py: unique, increasing, so each insert
	appends to the table instead of landing on a random page). Should a name be taken anyway, by a row
	some other code named, the insert is undone and tried again under fresh names."""
	if not rows:
		return
	blank = blank or {}
	writer = _connection_id()
	for attempt in range(NAME_RETRIES + 1):
		for row, name in zip(rows, row_names(doctype, rows, writer), strict=True):
			row["name"] = name
		columns = list(dict.fromkeys(c for row in rows for c in row))
		values = [tuple(row.get(c, blank.get(c)) for c in columns) for row in rows]
		frappe.db.savepoint(SAVEPOINT)
		try:
			_insert_rows(doctype, columns, values)
		except Exception as exc:
			if attempt == NAME_RETRIES or not frappe.db.is_primary_key_violation(exc):
				raise
			frappe.db.rollback(save_point=SAVEPOINT)
			writer = random_writer()
		else:
			return


def _base_columns(now: datetime) -> dict[str, Any]:
	user = frappe.session.user if getattr(frappe.local, "session", None) else "Administrator"
	return {"creation": now, "modified": now, "owner": user, "modified_by": user, "docstatus": 0}


class FrappeStore:
	"""The engine's view of one Frappe site.

	`site_fields` are the Contact fields the field map uses (read for change detection, written on pull);
	`push_doctype` is what the push sends (Lead, when ERPNext is installed), narrowed by `push_filters`,
	a Frappe filter list (or its JSON).
	"""

	def __init__(
		self,
		push_doctype: str = LEAD,
		push_filters: list | str | None = None,
		settings_doctype: str = SETTINGS,
		site_fields: Collection[str] | None = None,
		email_field: str = "email_id",
	) -> None:
		self.push_doctype = push_doctype
		self.push_filters = json.loads(push_filters) if isinstance(push_filters, str) else push_filters
		self.settings_doctype = settings_doctype
		self.email_field = email_field
		wanted = site_fields if site_fields is not None else [r.site_field for r in DEFAULT_FIELD_MAP]
		meta = frappe.get_meta(CONTACT)
		columns = set(frappe.db.get_table_columns(CONTACT))
		self.site_fields = [f for f in dict.fromkeys(wanted) if f in columns and f not in _RESERVED]
		self._contact_types = {
			f: (meta.get_field(f).fieldtype if meta.get_field(f) else "Data") for f in columns
		}
		self._columns = _column_specs(CONTACT, meta)
		# Values changed to fit their columns, as (email, reason), until the engine collects them.
		self._notes: list[tuple[str | None, str]] = []
		self.has_lead = _doctype_exists(LEAD)
		self.writes = 0

	# -- watermarks ------------------------------------------------------------------------------
	def _watermark_field(self, stream: str) -> str:
		fieldname = f"{stream}_watermark"
		if not frappe.get_meta(self.settings_doctype).has_field(fieldname):
			raise ValueError(f"{self.settings_doctype} has no field {fieldname}: run bench migrate")
		return fieldname

	def get_watermark(self, stream: str) -> datetime | None:
		value = frappe.db.get_single_value(self.settings_doctype, self._watermark_field(stream), cache=False)
		return from_site(value)

	def set_watermark(self, stream: str, value: datetime) -> None:
		# Not bumping `modified`: a stale settings form saved later only moves watermarks back, which
		# re-reads an overlap and is harmless; a timestamp conflict on every run would not be.
		frappe.db.set_single_value(
			self.settings_doctype, self._watermark_field(stream), to_site(value), update_modified=False
		)
		self.writes += 1

	def _states(self) -> dict[str, Any]:
		value = frappe.db.get_single_value(self.settings_doctype, SETTINGS_SYNC_STATE, cache=False)
		states = _json(value, {})
		return states if isinstance(states, dict) else {}

	def get_state(self, name: str) -> dict[str, Any] | None:
		return self._states().get(name)

	def set_state(self, name: str, value: dict[str, Any]) -> None:
		states = self._states()
		states[name] = value
		frappe.db.set_single_value(
			self.settings_doctype,
			SETTINGS_SYNC_STATE,
			json.dumps(states, default=str, sort_keys=True),
			update_modified=False,
		)
		self.writes += 1

	def get_deleted_count(self) -> int | None:
		value = frappe.db.get_single_value(self.settings_doctype, SETTINGS_DELETED_COUNT, cache=False)
		# An Int field reads 0 before the first run: only a run that saw deleted contacts stores one.
		return cint(value) if value else None

	def set_deleted_count(self, count: int) -> None:
		frappe.db.set_single_value(
			self.settings_doctype, SETTINGS_DELETED_COUNT, count, update_modified=False
		)
		self.writes += 1

	def count_cc_deleted(self) -> int:
		rows = frappe.db.sql(
			f"""select count(distinct `{CONTACT_CC_ID}`) from `tabContact`
			where `{CONTACT_CC_DELETED}`=1 and ifnull(`{CONTACT_CC_ID}`, '')!=''"""
		)
		return cint(rows[0][0]) if rows else 0

	# -- contacts: reading -----------------------------------------------------------------------
	def _contact_columns(self) -> str:
		"""The columns find_contacts reads; the sync's own datetimes come as text, parsed much faster here
		than by the driver's converter."""
		columns = []
		for column in (*_STATE_COLUMNS, *(f for f in self.site_fields if f not in _STATE_COLUMNS)):
			if column in _DATETIME_STATE:
				columns.append(f"cast(`{column}` as char) as `{column}`")
			else:
				columns.append(f"`{column}`")
		return ", ".join(columns)

	def find_contacts(self, cc_ids: Collection[str], emails: Collection[str]) -> list[SiteContact]:
		names: set[str] = set()
		matched: dict[str, list[str]] = {}
		ids = [i for i in cc_ids if i]
		if ids:
			names.update(
				r.name
				for r in _select_in(
					f"select name from `tabContact` where `{CONTACT_CC_ID}` in %(values)s", ids
				)
			)
		wanted = [e for e in (normalise_email(e) for e in emails) if e]
		if wanted:
			for r in _select_in(
				"""select parent, email_id from `tabContact Email`
				where parenttype = 'Contact' and email_id in %(values)s""",
				wanted,
			):
				names.add(r.parent)
				matched.setdefault(r.parent, []).append(normalise_email(r.email_id))
		if not names:
			return []
		rows = {
			r.name: r
			for r in _select_in(
				f"select {self._contact_columns()} from `tabContact` where name in %(values)s", names
			)
		}
		email_of: dict[str, str | None] = {}
		for name, row in rows.items():
			primary = normalise_email(row.email_id)
			hits = matched.get(name, [])
			email_of[name] = primary if (primary in hits or not hits) else hits[0]
		addresses = {e for e in email_of.values() if e}
		states = frappe_consent.consent_state(addresses, self.email_field)
		out = []
		for name in sorted(rows):
			row = rows[name]
			email = email_of[name]
			state = states.get(email or "")
			out.append(
				SiteContact(
					key=name,
					email=email,
					cc_contact_id=row.get(CONTACT_CC_ID) or None,
					unsubscribed=bool(state and state.opted_out),
					opted_out_at=state.opted_out_at if state and state.opted_out else None,
					optout_cc_clock=bool(state and state.opted_out and state.cc_clock),
					cc_permission=row.get(CONTACT_CC_PERMISSION) or None,
					cc_updated_at=from_site(row.get(CONTACT_CC_UPDATED_AT)),
					cc_email_updated_at=from_site(row.get(CONTACT_CC_EMAIL_UPDATED_AT)),
					cc_deleted=bool(row.get(CONTACT_CC_DELETED)),
					fields={f: row.get(f) for f in self.site_fields},
					groups=frozenset(state.rows) if state else frozenset(),
					created=from_site(row.creation),
				)
			)
		return out

	def consent_state(self, emails: Collection[str]) -> dict[str, AddressConsent]:
		return frappe_consent.consent_state(emails, self.email_field)

	# -- contacts: writing -----------------------------------------------------------------------
	def apply_contacts(
		self, writes: Sequence[ContactWrite], managed_groups: Collection[str] = ()
	) -> list[str | None]:
		if not writes:
			return []
		now = now_datetime()
		states = frappe_consent.consent_state({w.email for w in writes}, self.email_field)
		keys: list[str | None] = [None] * len(writes)
		held = [
			i
			for i, w in enumerate(writes)
			if consent.premise_holds(w, states.get(w.email) or AddressConsent(email=w.email))
		]
		writes_held = [writes[i] for i in held]
		created_by_email: dict[str, str] = {}
		creates = [(i, writes[i]) for i in held if writes[i].key is None]
		if creates:
			names = self._create_contacts([w for _, w in creates], now)
			for (i, w), name in zip(creates, names, strict=True):
				keys[i] = name
				created_by_email.setdefault(w.email, name)
		updates = []
		for i in held:
			w = writes[i]
			if w.key is None:
				continue
			key = w.key
			if key.startswith("(new:"):
				# A repeat, within one page, of a contact this page creates.
				key = created_by_email.get(w.email) or self._contact_by_email(w.email) or key
			keys[i] = key
			updates.append((key, w))
		if updates:
			self._update_contacts(updates, now)
		_count_subscribers(frappe_consent.apply_consent(writes_held, now, self.email_field))
		self._queue_from_writes(writes_held, now)
		self._stop_pushes(writes_held)
		self.writes += len(writes_held)
		return keys

	def _fitted(self, write: ContactWrite) -> dict[str, Any]:
		"""The write's field values converted, cut or left out to fit their columns, each change noted."""
		out: dict[str, Any] = {}
		for field, value in write.fields.items():
			if field not in self._contact_types or field in _RESERVED:
				continue
			fitted, note, keep = fit(field, value, self._columns.get(field))
			if note:
				self._notes.append((write.email, note))
			if not keep:
				continue
			out[field] = to_site(fitted) if isinstance(fitted, datetime) else fitted
		return out

	def drain_notes(self) -> list[tuple[str | None, str]]:
		"""What the writes since the last call changed to fit the site's columns, with the reasons."""
		notes, self._notes = self._notes, []
		return notes

	def _contact_by_email(self, email: str) -> str | None:
		row = frappe.db.sql(
			"""select parent from `tabContact Email` where parenttype = 'Contact' and email_id = %s
			order by creation limit 1""",
			email,
		)
		return row[0][0] if row else None

	def _create_contacts(self, writes: Sequence[ContactWrite], now: datetime) -> list[str]:
		emails = [w.email for w in writes]
		users = {
			normalise_email(r.email): r.name
			for r in _select_in("select name, email from `tabUser` where email in %(values)s", emails)
		}
		leads = self._leads_by_email(emails)
		base = _base_columns(now)
		contact_rows: list[dict[str, Any]] = []
		email_rows: list[dict[str, Any]] = []
		link_rows: list[dict[str, Any]] = []
		lead_ids: dict[str, str] = {}
		for w in writes:
			fields = self._fitted(w)
			local_part = w.email.split("@", 1)[0]
			first = fields.get("first_name") or local_part
			fields["first_name"] = first
			row = {
				**base,
				**fields,
				"full_name": get_full_name(
					first, fields.get("middle_name"), fields.get("last_name"), fields.get("company_name")
				),
				"email_id": w.email,
				"user": users.get(w.email),
				"status": "Passive",
				"unsubscribed": 1 if w.opted_out else 0,
				CONTACT_CC_ID: w.cc_contact_id or None,
				CONTACT_CC_PERMISSION: w.cc_permission,
				CONTACT_OPTED_OUT_AT: to_site(w.opted_out_at) if w.opted_out else None,
				CONTACT_OPTOUT_CC_CLOCK: 1 if w.opted_out and w.cc_clock else 0,
				CONTACT_CC_UPDATED_AT: to_site(w.cc_updated_at),
				CONTACT_CC_EMAIL_UPDATED_AT: to_site(w.cc_email_updated_at),
				CONTACT_CC_DELETED: 1 if w.cc_deleted else 0,
				CONTACT_LAST_SYNCED: to_site(w.synced_at),
			}
			contact_rows.append(row)
			email_rows.append(
				{
					**base,
					"parent": len(contact_rows) - 1,
					"parenttype": CONTACT,
					"parentfield": "email_ids",
					"idx": 1,
					"email_id": w.email,
					"is_primary": 1,
				}
			)
			for idx, lead in enumerate(leads.get(w.email, ()), 1):
				link_rows.append(
					{
						**base,
						"parent": len(contact_rows) - 1,
						"parenttype": CONTACT,
						"parentfield": "links",
						"idx": idx,
						"link_doctype": LEAD,
						"link_name": lead.name,
						"link_title": lead.get("lead_name") or lead.name,
					}
				)
				if w.cc_contact_id and not lead.get(LEAD_CC_ID):
					lead_ids[lead.name] = w.cc_contact_id
		self._bulk_insert(CONTACT, contact_rows)
		names = [row["name"] for row in contact_rows]
		for child in (*email_rows, *link_rows):
			child["parent"] = names[child["parent"]]
		self._bulk_insert(CONTACT_EMAIL, email_rows)
		self._bulk_insert(DYNAMIC_LINK, link_rows)
		self._set_lead_cc_ids(lead_ids)
		return names

	def _bulk_insert(self, doctype: str, rows: list[dict[str, Any]]) -> None:
		"""Insert new rows under names of their own (set on each row)."""
		if not rows:
			return
		types = self._contact_types if doctype == CONTACT else {}
		columns = dict.fromkeys(c for row in rows for c in row)
		blank = {c: (0 if types.get(c) in _NUMERIC else None) for c in columns}
		_insert_named(doctype, rows, blank)

	def _update_contacts(
		self, updates: Sequence[tuple[str, ContactWrite]], now: datetime
	) -> dict[str, datetime | None]:
		"""One UPDATE per changed contact, with only the columns that change; returns each one's opt-out time."""
		keys = [k for k, _ in updates]
		current = {
			r.name: r
			for r in _select_in(
				f"""select name, first_name, middle_name, last_name, company_name, email_id,
				`{CONTACT_OPTED_OUT_AT}` as opted_out_at from `tabContact` where name in %(values)s""",
				keys,
			)
		}
		addresses: dict[str, set[str]] = {}
		for r in _select_in(
			"""select parent, email_id from `tabContact Email`
			where parenttype = 'Contact' and parent in %(values)s""",
			keys,
		):
			addresses.setdefault(r.parent, set()).add(normalise_email(r.email_id))
		lead_ids: dict[str, str] = {}
		linked_emails: dict[str, str] = {}
		user = frappe.session.user
		opted_out: dict[str, datetime | None] = {}
		for key, w in updates:
			row = current.get(key)
			if row is None:
				continue
			values: dict[str, Any] = {}
			fields = self._fitted(w)
			values.update(fields)
			if fields.keys() & {"first_name", "middle_name", "last_name", "company_name"}:
				merged = {**row, **fields}
				values["full_name"] = get_full_name(
					merged.get("first_name"),
					merged.get("middle_name"),
					merged.get("last_name"),
					merged.get("company_name"),
				)
			if w.cc_contact_id:
				values[CONTACT_CC_ID] = w.cc_contact_id
				linked_emails[w.email] = w.cc_contact_id
			if w.cc_permission is not None:
				values[CONTACT_CC_PERMISSION] = w.cc_permission
			if w.cc_updated_at is not None:
				values[CONTACT_CC_UPDATED_AT] = to_site(w.cc_updated_at)
			if w.cc_email_updated_at is not None:
				values[CONTACT_CC_EMAIL_UPDATED_AT] = to_site(w.cc_email_updated_at)
			if w.cc_deleted is not None:
				values[CONTACT_CC_DELETED] = 1 if w.cc_deleted else 0
			if w.synced_at is not None:
				values[CONTACT_LAST_SYNCED] = to_site(w.synced_at)
			if w.email and w.email not in addresses.get(key, set()):
				self._change_email(key, w.email, now)
				values["email_id"] = w.email
			if not values:
				continue
			values["modified"] = now
			values["modified_by"] = user
			assignments = ", ".join(f"`{column}` = %({column})s" for column in values)
			frappe.db.sql(
				f"update `tabContact` set {assignments} where name = %(_key)s", {**values, "_key": key}
			)
		if linked_emails and self.has_lead:
			for lead in self._leads_by_email(linked_emails).values():
				for row in lead:
					if not row.get(LEAD_CC_ID):
						lead_ids[row.name] = linked_emails[normalise_email(row.get(self.email_field))]
			self._link_leads(linked_emails, now)
		self._set_lead_cc_ids(lead_ids)
		return opted_out

	def _change_email(self, key: str, email: str, now: datetime) -> None:
		"""CC changed the address: the new one becomes primary; the old stays as a secondary row."""
		frappe.db.sql(
			"update `tabContact Email` set is_primary = 0 where parenttype = 'Contact' and parent = %s",
			key,
		)
		idx = frappe.db.sql("select coalesce(max(idx), 0) from `tabContact Email` where parent = %s", key)[0][
			0
		]
		self._bulk_insert(
			CONTACT_EMAIL,
			[
				{
					**_base_columns(now),
					"parent": key,
					"parenttype": CONTACT,
					"parentfield": "email_ids",
					"idx": idx + 1,
					"email_id": email,
					"is_primary": 1,
				}
			],
		)

	# -- leads linked to contacts ------------------------------------------------------------------
	def _leads_by_email(self, emails: Iterable[str]) -> dict[str, list[frappe._dict]]:
		if not self.has_lead:
			return {}
		title = ", lead_name" if frappe.db.has_column(LEAD, "lead_name") else ""
		found: dict[str, list[frappe._dict]] = {}
		for row in _select_in(
			f"""select name, `{self.email_field}` as email_id, `{LEAD_CC_ID}`{title} from `tabLead`
			where `{self.email_field}` in %(values)s order by creation""",
			emails,
		):
			row[self.email_field] = row.email_id
			found.setdefault(normalise_email(row.email_id), []).append(row)
		return found

	def _link_leads(self, cc_ids_by_email: dict[str, str], now: datetime) -> None:
		"""Add the Lead link to contacts that just learned their CC id, unless already there."""
		contacts = _select_in(
			f"select name, email_id from `tabContact` where `{CONTACT_CC_ID}` in %(values)s",
			cc_ids_by_email.values(),
		)
		if not contacts:
			return
		leads = self._leads_by_email(cc_ids_by_email)
		existing = {
			(r.parent, r.link_name)
			for r in _select_in(
				"""select parent, link_name from `tabDynamic Link` where parenttype = 'Contact'
				and link_doctype = 'Lead' and parent in %(values)s""",
				[c.name for c in contacts],
			)
		}
		rows = []
		for contact in contacts:
			for lead in leads.get(normalise_email(contact.email_id), ()):
				if (contact.name, lead.name) in existing:
					continue
				rows.append(
					{
						**_base_columns(now),
						"parent": contact.name,
						"parenttype": CONTACT,
						"parentfield": "links",
						"idx": 1,
						"link_doctype": LEAD,
						"link_name": lead.name,
						"link_title": lead.get("lead_name") or lead.name,
					}
				)
		self._bulk_insert(DYNAMIC_LINK, rows)

	def _set_lead_cc_ids(self, cc_ids: dict[str, str]) -> None:
		"""Record CC ids on leads without bumping `modified`: learning an id is no edit of the lead."""
		if not cc_ids or not self.has_lead:
			return
		items = list(cc_ids.items())
		for start in range(0, len(items), 500):
			chunk = items[start : start + 500]
			cases = " ".join("when %s then %s" for _ in chunk)
			params: list[Any] = [v for pair in chunk for v in pair]
			params += [name for name, _ in chunk]
			frappe.db.sql(
				f"""update `tab{LEAD}` set `{LEAD_CC_ID}` = case name {cases} end
				where name in ({", ".join(["%s"] * len(chunk))})""",
				params,
			)

	# -- memberships and consent -------------------------------------------------------------------
	def _stop_pushes(self, writes: Sequence[ContactWrite]) -> None:
		"""Leads of an address never to be pushed again say why (push bookkeeping: `modified` untouched)."""
		if not self.has_lead or self.push_doctype != LEAD:
			return
		for w in writes:
			if w.push_again:
				frappe.db.sql(
					f"""update `tab{LEAD}` set `{LEAD_PUSH_STATUS}` = 'Pending', `{LEAD_PUSH_ERROR}` = %s,
					`{LEAD_PUSHED_AT}` = null where `{self.email_field}` = %s and `{LEAD_PUSH_STATUS}` = 'Skipped'""",
					("opted in again in CC: pushed on the next push", w.email),
				)
			if w.push_stop:
				frappe.db.sql(
					f"""update `tab{LEAD}` set `{LEAD_PUSH_STATUS}` = %s, `{LEAD_PUSH_ERROR}` = %s,
					`{LEAD_PUSHED_AT}` = null where `{self.email_field}` = %s""",
					(STATUS_SKIPPED, w.push_stop, w.email),
				)

	def _queue_from_writes(self, writes: Sequence[ContactWrite], now: datetime) -> None:
		requests = {}
		for w in writes:
			if w.request_cc_optout and (w.email, None) not in requests:
				at = to_site(w.opted_out_at) if w.opted_out_at else now
				requests[(w.email, None)] = {"opted_out_at": at, "cc_contact_id": w.cc_contact_id}
		if requests:
			frappe_consent.queue_optouts(requests, now)

	# -- consent ---------------------------------------------------------------------------------
	def pending_optouts(self) -> list[LocalOptOut]:
		rows = frappe.db.sql(
			f"""select email, email_group, opted_out_at, cc_contact_id, reason, by_person, attempts, retry_at,
			last_error from `tab{OPT_OUT}` where status = %s order by opted_out_at, email, email_group""",
			OPTOUT_PENDING,
			as_dict=True,
		)
		return [
			LocalOptOut(
				email=normalise_email(r.email),
				at=from_site(r.opted_out_at) or from_site(now_datetime()),
				cc_contact_id=r.cc_contact_id or None,
				reason=r.reason or None,
				by_person=bool(r.by_person),
				attempts=r.attempts or 0,
				retry_at=from_site(r.retry_at),
				last_error=r.last_error or None,
				group=r.email_group or None,
			)
			for r in rows
		]

	def defer_optout(
		self, email: str, attempts: int, retry_at: datetime, error: str, group: str | None = None
	) -> None:
		frappe.db.sql(
			f"""update `tab{OPT_OUT}` set attempts = %(attempts)s, retry_at = %(retry_at)s,
			last_error = %(error)s, modified = %(now)s where email = %(email)s and status = %(pending)s
			and coalesce(email_group, '') = %(group)s""",
			{
				"group": group or "",
				"attempts": attempts,
				"retry_at": to_site(retry_at),
				"error": error,
				"now": now_datetime(),
				"email": normalise_email(email),
				"pending": OPTOUT_PENDING,
			},
		)
		self.writes += 1

	def resolve_optout(
		self, email: str, cc_contact_id: str | None, at: datetime, group: str | None = None
	) -> None:
		address = normalise_email(email)
		frappe.db.sql(
			f"""update `tab{OPT_OUT}` set status = %(done)s, resolved_at = %(at)s, modified = %(now)s,
			cc_contact_id = coalesce(%(cc_id)s, cc_contact_id)
			where email = %(email)s and status = %(pending)s and coalesce(email_group, '') = %(group)s""",
			{
				"group": group or "",
				"done": OPTOUT_DONE,
				"pending": OPTOUT_PENDING,
				"at": to_site(at),
				"now": now_datetime(),
				"cc_id": cc_contact_id,
				"email": address,
			},
		)
		if cc_contact_id and group is None:
			names = _contacts_with_email(address)
			if names:
				_execute_in(
					f"update `tabContact` set `{CONTACT_CC_PERMISSION}` = %(perm)s where name in %(values)s",
					names,
					perm=UNSUBSCRIBED,
				)
				taken = frappe.db.exists(CONTACT, {CONTACT_CC_ID: cc_contact_id})
				if not taken:
					frappe.db.sql(
						f"""update `tabContact` set `{CONTACT_CC_ID}` = %s
						where name = %s and coalesce(`{CONTACT_CC_ID}`, '') = ''""",
						(cc_contact_id, sorted(names)[0]),
					)
		self.writes += 1

	def opted_out_emails(self, emails: Collection[str]) -> set[str]:
		return {e for e, state in self.consent_state(emails).items() if state.never_push}

	# -- push ------------------------------------------------------------------------------------
	def push_candidates(self, since: datetime | None) -> Iterable[PushCandidate]:
		doctype = self.push_doctype
		if not _doctype_exists(doctype):
			return
		columns = set(frappe.db.get_table_columns(doctype))
		source = {f: CONTACT_TO_LEAD.get(f, f) for f in self.site_fields}
		source = {site: col for site, col in source.items() if col in columns}
		extra = [c for c in ("lead_name", "first_name", "last_name") if c in columns]
		fields = list(
			dict.fromkeys(
				[
					"name",
					"modified",
					self.email_field,
					LEAD_CC_ID,
					LEAD_PUSHED_AT,
					*source.values(),
					*extra,
				]
			)
		)
		filters = list(self.push_filters or [])
		if since is not None:
			filters.append([doctype, "modified", ">", to_site(since)])
		start = 0
		while True:
			rows = frappe.get_all(
				doctype,
				filters=filters,
				fields=fields,
				order_by="modified asc, name asc",
				limit_start=start,
				limit_page_length=PUSH_PAGE,
			)
			for row in rows:
				values = {site: row.get(col) for site, col in source.items()}
				_split_lead_name(values, row.get("lead_name"))
				yield PushCandidate(
					key=row.name,
					email=row.get(self.email_field),
					fields={k: v for k, v in values.items() if v not in (None, "")},
					modified=from_site(row.modified),
					cc_contact_id=row.get(LEAD_CC_ID) or None,
					pushed_at=from_site(row.get(LEAD_PUSHED_AT)),
				)
			if len(rows) < PUSH_PAGE:
				return
			start += PUSH_PAGE

	def record_push(self, outcomes: Sequence[PushOutcome]) -> None:
		"""Status, error and pushed-at on each record, without bumping `modified`, so a push never makes a
		lead look changed (which would push it again)."""
		if not outcomes or not _doctype_exists(self.push_doctype):
			return
		groups: dict[tuple, list[str]] = {}
		cc_ids: dict[str, str] = {}
		for outcome in outcomes:
			pushed_at = to_site(outcome.at) if outcome.status in SENT_STATUSES else None
			groups.setdefault((outcome.status, outcome.reason, pushed_at), []).append(outcome.key)
			if outcome.cc_contact_id:
				cc_ids[outcome.key] = outcome.cc_contact_id
		for (status, reason, pushed_at), keys in groups.items():
			_execute_in(
				f"""update `tab{self.push_doctype}` set `{LEAD_PUSH_STATUS}` = %(status)s,
				`{LEAD_PUSH_ERROR}` = %(reason)s, `{LEAD_PUSHED_AT}` = %(at)s where name in %(values)s""",
				keys,
				status=status,
				reason=reason,
				at=pushed_at,
			)
		if self.push_doctype == LEAD:
			self._set_lead_cc_ids(cc_ids)
		self.writes += len(outcomes)

	# -- bulk activities ---------------------------------------------------------------------------
	def open_activities(self) -> list[ActivityRecord]:
		rows = frappe.db.sql(
			f"""select chunk_id, kind, state, submitted_at, activity_id, `keys`, emails, list_ids,
			finished, result from `tab{IMPORT}` where finished = 0 order by submitted_at, chunk_id""",
			as_dict=True,
		)
		return [
			ActivityRecord(
				chunk_id=r.chunk_id,
				kind=r.kind or "import",
				state=r.state or "",
				submitted_at=from_site(r.submitted_at),
				keys=_json(r["keys"], []),
				emails=_json(r.emails, []),
				activity_id=r.activity_id or None,
				list_ids=_json(r.list_ids, []),
				finished=bool(r.finished),
				result=_json(r.result, {}),
			)
			for r in rows
		]

	def save_activity(self, record: ActivityRecord) -> None:
		values = {
			"kind": record.kind,
			"state": record.state,
			"submitted_at": to_site(record.submitted_at),
			"activity_id": record.activity_id,
			"keys": json.dumps(record.keys),
			"emails": json.dumps(record.emails),
			"list_ids": json.dumps(record.list_ids),
			"finished": 1 if record.finished else 0,
			"result": json.dumps(record.result, indent=1, default=str),
		}
		if frappe.db.exists(IMPORT, record.chunk_id):
			frappe.db.set_value(IMPORT, record.chunk_id, values)
		else:
			doc = frappe.get_doc({"doctype": IMPORT, "chunk_id": record.chunk_id, **values})
			doc.flags.from_cc_sync = True
			doc.insert(ignore_permissions=True)
		self.writes += 1

	# -- transactions ----------------------------------------------------------------------------
	def commit(self) -> None:
		frappe.db.commit()

	def rollback(self) -> None:
		frappe.db.rollback()


# -- site-side opt-outs (called by doc_events and the store) --------------------------------------
def record_local_optout(
	email: str | None, *, by_person: bool = False, reason: str | None = None, at: datetime | None = None
) -> bool:
	"""An address was opted out on this site: mark it everywhere here and queue it for CC.

	Sets Contact.unsubscribed, every Email Group Member row and Lead.unsubscribed for the address with
	plain UPDATEs (no document saves, so no doc_event fires again), and keeps one Pending opt-out row.
	Rows already in that state are left untouched, so the document whose save called this sees no
	timestamp conflict. Returns False when there is no address.
	"""
	address = normalise_email(email)
	if not address:
		return False
	now = now_datetime()
	when = to_site(at) if at else now
	frappe_consent.opt_out_everywhere(address, at or from_site(now), False, now)
	frappe.db.sql(
		f"""update `tab{EMAIL_GROUP_MEMBER}` set unsubscribed = 1, modified = %s, modified_by = %s
		where email = %s and unsubscribed = 0""",
		(when, frappe.session.user, address),
	)
	names = _contacts_with_email(address)
	cc_id = None
	if names:
		cc_id = frappe.db.sql(
			f"""select `{CONTACT_CC_ID}` from `tabContact` where name in %(values)s
			and coalesce(`{CONTACT_CC_ID}`, '') != '' order by creation limit 1""",
			{"values": tuple(names)},
		)
		cc_id = cc_id[0][0] if cc_id else None
	frappe_consent.queue_optouts(
		{
			(address, None): {
				"opted_out_at": when,
				"cc_contact_id": cc_id,
				"reason": reason,
				"by_person": by_person,
			}
		},
		now,
	)
	return True


def _contacts_with_email(email: str) -> list[str]:
	return [
		r[0]
		for r in frappe.db.sql(
			"select distinct parent from `tabContact Email` where parenttype = 'Contact' and email_id = %s",
			email,
		)
	]


def _count_subscribers(delta: dict[str, int]) -> None:
	"""Keep Email Group.total_subscribers as Email Group Member's own hooks would, by the rows added and
	removed (recounting every group on every page would cost more than the page)."""
	for group, change in delta.items():
		if change:
			frappe.db.sql(
				f"""update `tab{EMAIL_GROUP}` set total_subscribers = greatest(0, total_subscribers + %s)
				where name = %s""",
				(change, group),
			)


def _split_lead_name(values: dict[str, Any], lead_name: str | None) -> None:
	"""A lead known only by `lead_name` still gets a first and last name in CC."""
	if values.get("first_name") or not lead_name or "first_name" not in values:
		return
	first, _, last = lead_name.strip().partition(" ")
	values["first_name"] = first
	if "last_name" in values and not values.get("last_name") and last.strip():
		values["last_name"] = last.strip()


def _json(value: Any, default: Any) -> Any:
	if not value:
		return default
	try:
		return json.loads(value)
	except (TypeError, ValueError):
		return default
