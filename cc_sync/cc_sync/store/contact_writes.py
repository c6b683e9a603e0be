"""Contacts, written: a page of the engine's writes as a few batched INSERTs and one UPDATE per changed
contact, values fitted to their columns, `modified` bumped wherever a user-visible value changes."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

import frappe
from frappe.contacts.doctype.contact.contact import get_full_name
from frappe.utils import now_datetime

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
	LEAD,
	LEAD_CC_ID,
)
from cc_sync.cc_sync.sitetime import to_site
from cc_sync.cc_sync.store.consent_reads import ConsentReads
from cc_sync.cc_sync.store.consent_writes import ConsentWrites
from cc_sync.cc_sync.store.contact_columns import ContactColumns
from cc_sync.cc_sync.store.contact_reads import ContactReads
from cc_sync.cc_sync.store.leads import LeadLinks
from cc_sync.cc_sync.store.optouts import OptOutQueue
from cc_sync.cc_sync.store.push import PushTargets
from cc_sync.cc_sync.store.sql import (
	WriteCount,
	base_columns,
	select_in,
)
from cc_sync.sync import consent
from cc_sync.sync.consent import AddressConsent
from cc_sync.sync.matching import normalise_email
from cc_sync.sync.records import (
	ContactWrite,
)

PAGE_SAVEPOINT = "cc_sync_page"
# MariaDB's errors for values a column refuses: 1048 null, 1062 duplicate, 1264 out of range, 1265 data
# truncated, 1292 incorrect date or number, 1366 incorrect string value, 1406 data too long.
REFUSED_VALUE_CODES = frozenset({1048, 1062, 1264, 1265, 1292, 1366, 1406})


class ContactWrites:
	"""The site contacts part's writes, with its collaborators: `columns` (values fitted to Contact's
	columns, new rows inserted), `contacts` (which Contact holds an address), `consent_reads` (the
	premise each write rests on), `consent_writes` and `optouts` (a page's consent, and the opt-outs it
	asks to reach CC), `leads` (the Leads beside the contacts) and `push` (the pushed records a page's
	consent takes out of the push or puts back)."""

	def __init__(
		self,
		columns: ContactColumns,
		contacts: ContactReads,
		consent_reads: ConsentReads,
		consent_writes: ConsentWrites,
		optouts: OptOutQueue,
		leads: LeadLinks,
		push: PushTargets,
		count: WriteCount,
	) -> None:
		self.contacts = contacts
		self.consent_reads = consent_reads
		self.consent_writes = consent_writes
		self.optouts = optouts
		self.leads = leads
		self.push = push
		self.count = count
		self.columns = columns
		self._failures: dict[int, str] = {}

	def apply_contacts(
		self, writes: Sequence[ContactWrite], managed_groups: Collection[str] = ()
	) -> list[str | None]:
		"""The page's writes in a few batched statements; should the database refuse one record's values,
		the page is applied again one write at a time and only that record fails (`drain_failures`)."""
		self._failures = {}
		if not writes:
			return []
		frappe.db.savepoint(PAGE_SAVEPOINT)
		try:
			return self._apply_writes(writes)
		except Exception as exc:
			if len(writes) == 1 or not _refused_values(exc):
				raise
			frappe.db.rollback(save_point=PAGE_SAVEPOINT)
		self.columns.drain_notes()
		keys: list[str | None] = []
		for i, write in enumerate(writes):
			frappe.db.savepoint(PAGE_SAVEPOINT)
			try:
				keys.extend(self._apply_writes([write]))
			except Exception as exc:
				if not _refused_values(exc):
					raise
				frappe.db.rollback(save_point=PAGE_SAVEPOINT)
				self._failures[i] = str(exc)
				keys.append(None)
		return keys

	def drain_failures(self) -> dict[int, str]:
		failures, self._failures = self._failures, {}
		return failures

	def _apply_writes(self, writes: Sequence[ContactWrite]) -> list[str | None]:
		now = now_datetime()
		states = self.consent_reads.state({w.email for w in writes})
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
				key = created_by_email.get(w.email) or self.contacts.holder(w.email) or key
			keys[i] = key
			updates.append((key, w))
		if updates:
			self._update_contacts(updates, now)
		self.consent_writes.apply(writes_held, now)
		self.optouts.queue_from_writes(writes_held, now)
		self.push.stop_pushes(writes_held)
		self.count.add(len(writes_held))
		return keys

	def _create_contacts(self, writes: Sequence[ContactWrite], now: datetime) -> list[str]:
		"""New Contacts in a few multi-row INSERTs: each with its address, linked to the Leads that share it
		(and those Leads to the CC contact); returns the new names, in the order of `writes`."""
		emails = [w.email for w in writes]
		users = {
			normalise_email(r.email): r.name
			for r in select_in("select name, email from `tabUser` where email in %(values)s", emails)
		}
		leads = self.leads.by_email(emails)
		base = base_columns(now)
		contact_rows: list[dict[str, Any]] = []
		# Child rows name their parent by its place in `contact_rows` until the parents have names.
		child_rows: dict[str, list[dict[str, Any]]] = {CONTACT_EMAIL: [], DYNAMIC_LINK: []}
		lead_ids: dict[str, str] = {}
		for w in writes:
			parent = len(contact_rows)
			contact_rows.append({**base, **self._new_contact_columns(w, users.get(w.email))})
			child_rows[CONTACT_EMAIL].append(_email_row(base, parent, 1, w.email))
			for idx, lead in enumerate(leads.get(w.email, ()), 1):
				child_rows[DYNAMIC_LINK].append(_lead_link_row(base, parent, idx, lead))
				if w.cc_contact_id and not lead.get(LEAD_CC_ID):
					lead_ids[lead.name] = w.cc_contact_id
		self.columns.insert(CONTACT, contact_rows)
		names = [row["name"] for row in contact_rows]
		for doctype, rows in child_rows.items():
			for child in rows:
				child["parent"] = names[child["parent"]]
			self.columns.insert(doctype, rows)
		self.leads.set_cc_ids(lead_ids)
		return names

	def _new_contact_columns(self, w: ContactWrite, user: str | None) -> dict[str, Any]:
		"""A new Contact's columns: the mapped fields (a first name at least) and what the sync keeps."""
		fields = self.columns.fitted(w)
		first = fields.get("first_name") or self.columns.fit_composed(
			w.email, "first_name", w.email.split("@", 1)[0]
		)
		fields["first_name"] = first
		full_name = get_full_name(
			first, fields.get("middle_name"), fields.get("last_name"), fields.get("company_name")
		)
		return {
			**fields,
			"full_name": self.columns.fit_composed(w.email, "full_name", full_name),
			"email_id": w.email,
			"user": user,
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

	def _update_contacts(self, updates: Sequence[tuple[str, ContactWrite]], now: datetime) -> None:
		"""One UPDATE per changed contact, with only the columns that change; then the Leads of the
		addresses newly linked to a CC contact are linked too."""
		keys = [k for k, _ in updates]
		current = {
			r.name: r
			for r in select_in(
				"""select name, first_name, middle_name, last_name, company_name, email_id
				from `tabContact` where name in %(values)s""",
				keys,
			)
		}
		addresses: dict[str, set[str]] = {}
		for r in select_in(
			"""select parent, email_id from `tabContact Email`
			where parenttype = 'Contact' and parent in %(values)s""",
			keys,
		):
			addresses.setdefault(r.parent, set()).add(normalise_email(r.email_id))
		linked_emails: dict[str, str] = {}
		for key, w in updates:
			row = current.get(key)
			if row is None:
				continue
			values = self._changed_columns(row, w)
			if w.cc_contact_id:
				linked_emails[w.email] = w.cc_contact_id
			if w.email and w.email not in addresses.get(key, set()):
				self._change_email(key, w.email, now)
				values["email_id"] = w.email
			if values:
				values["modified"] = now
				values["modified_by"] = frappe.session.user
				assignments = ", ".join(f"`{column}` = %({column})s" for column in values)
				frappe.db.sql(
					f"update `tabContact` set {assignments} where name = %(_key)s", {**values, "_key": key}
				)
		self.leads.link_to_cc(linked_emails, now)

	def _changed_columns(self, row: Any, w: ContactWrite) -> dict[str, Any]:
		"""The columns of an existing Contact that the write changes (the full name follows the names)."""
		values: dict[str, Any] = self.columns.fitted(w)
		if values.keys() & {"first_name", "middle_name", "last_name", "company_name"}:
			merged = {**row, **values}
			full_name = get_full_name(
				merged.get("first_name"),
				merged.get("middle_name"),
				merged.get("last_name"),
				merged.get("company_name"),
			)
			values["full_name"] = self.columns.fit_composed(w.email, "full_name", full_name)
		if w.cc_contact_id:
			values[CONTACT_CC_ID] = w.cc_contact_id
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
		return values

	def _change_email(self, key: str, email: str, now: datetime) -> None:
		"""CC changed the address: the new one becomes primary; the old stays as a secondary row."""
		frappe.db.sql(
			"update `tabContact Email` set is_primary = 0 where parenttype = 'Contact' and parent = %s",
			key,
		)
		idx = frappe.db.sql("select coalesce(max(idx), 0) from `tabContact Email` where parent = %s", key)[0][
			0
		]
		self.columns.insert(CONTACT_EMAIL, [_email_row(base_columns(now), key, idx + 1, email)])


def _refused_values(exc: Exception) -> bool:
	"""The database refused a record's values (too long, out of range, not of the column's type, a
	duplicate or a missing value), which one record can cause; anything else (a lost connection, a
	deadlock) is the page's and stops it."""
	code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
	return code in REFUSED_VALUE_CODES


def _email_row(base: dict[str, Any], parent: Any, idx: int, email: str) -> dict[str, Any]:
	"""A Contact Email row: the address as the contact's primary one."""
	return {
		**base,
		"parent": parent,
		"parenttype": CONTACT,
		"parentfield": "email_ids",
		"idx": idx,
		"email_id": email,
		"is_primary": 1,
	}


def _lead_link_row(base: dict[str, Any], parent: Any, idx: int, lead: Any) -> dict[str, Any]:
	"""A Dynamic Link row tying a new Contact to a Lead of the same address."""
	return {
		**base,
		"parent": parent,
		"parenttype": CONTACT,
		"parentfield": "links",
		"idx": idx,
		"link_doctype": LEAD,
		"link_name": lead.name,
		"link_title": lead.get("lead_name") or lead.name,
	}
