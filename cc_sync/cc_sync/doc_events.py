"""Document events (named in hooks.py): site-side opt-outs and lead edits, recorded with the user's save.

None of these calls Constant Contact inside a save: an opt-out is recorded in the same transaction and
an immediate opt-out push is queued once it commits; a new or edited lead waits for the next push.
"""

from __future__ import annotations

from typing import Any

import frappe
from frappe import _
from frappe.utils import cint

from cc_sync.cc_sync import targets
from cc_sync.cc_sync.constants import (
	CONTACT_CC_PERMISSION,
	CONTACT_OPTED_OUT_AT,
	EMAIL_GROUP,
	FLAG_FROM_SYNC,
	LEAD_PUSH_STATUS,
)
from cc_sync.cc_sync.jobs import enqueue_optout_push, sync_is_on
from cc_sync.cc_sync.settings import all_stored_values
from cc_sync.cc_sync.targets import lead as lead_target
from cc_sync.constant_contact.models import Permission
from cc_sync.sync.records import PushStatus


def _from_sync(doc: Any) -> bool:
	return bool(doc.flags.get(FLAG_FROM_SYNC))


def _turned_on(doc: Any, fieldname: str) -> bool:
	"""True when this save set the check (a new document counts when it is set)."""
	if not cint(doc.get(fieldname)):
		return False
	before = doc.get_doc_before_save()
	return before is None or not cint(before.get(fieldname))


def _record_optout(email: str | None, *, reason: str) -> None:
	"""Record the opt-out with this save (one transaction), then push it to CC once it commits."""
	from cc_sync.cc_sync.store import record_local_optout

	# Someone who is not logged in can only have used an unsubscribe link: the person's own choice.
	by_person = frappe.session.user == "Guest"
	if record_local_optout(email, by_person=by_person, reason=reason):
		frappe.db.after_commit.add(enqueue_optout_push)
		if by_person:
			return
		if sync_is_on():
			message = _("Opt-out sent to Constant Contact: {0}").format(email)
		else:
			message = _(
				"Opt-out recorded for {0}; it reaches Constant Contact once the sync is connected and on."
			).format(email)
		frappe.msgprint(message, alert=True, indicator="green")


def record_title(doc: Any) -> str:
	"""A Contact or Lead as a person reads it (its document name can be a hash): the name it shows."""
	return doc.get("full_name") or doc.get("lead_name") or doc.get("title") or doc.name


def contact_on_update(doc: Any, method: str | None = None) -> None:
	if _from_sync(doc) or not _turned_on(doc, "unsubscribed"):
		return
	emails = [row.email_id for row in doc.get("email_ids") or []] or [doc.get("email_id")]
	for email in dict.fromkeys(e for e in emails if e):
		_record_optout(email, reason=f"Unsubscribed on Contact {record_title(doc)}")


def _record_group_leave(email: str | None, group: str) -> None:
	"""Leaving one Email Group takes the person off the CC lists mapped to it, and nothing else, unless
	the settings make any group leave a global opt-out."""
	if cint(all_stored_values().get("group_leave_is_global")):
		_record_optout(email, reason=f"Unsubscribed from Email Group {group}")
		return
	from cc_sync.cc_sync.store.optouts import record_group_leave

	if record_group_leave(email, group, by_person=frappe.session.user == "Guest"):
		frappe.db.after_commit.add(enqueue_optout_push)


def email_group_member_before_insert(doc: Any, method: str | None = None) -> None:
	"""Someone opted out who is added to a group (by a user, an import) joins it unsubscribed."""
	if _from_sync(doc) or cint(doc.get("unsubscribed")) or not doc.get("email"):
		return
	from cc_sync.cc_sync.store.consent_reads import consent_state
	from cc_sync.sync import consent
	from cc_sync.sync.matching import normalise_email

	address = normalise_email(doc.email)
	if address and consent.joins_unsubscribed(consent_state([address]).get(address)):
		doc.unsubscribed = 1
		# Not a leave of the group: the address's opt-out already reaches CC.
		doc.flags.cc_sync_opted_out_already = True


def email_group_member_on_update(doc: Any, method: str | None = None) -> None:
	if _from_sync(doc) or doc.flags.get("cc_sync_opted_out_already") or not _turned_on(doc, "unsubscribed"):
		return
	_record_group_leave(doc.email, doc.email_group)


def email_unsubscribe_after_insert(doc: Any, method: str | None = None) -> None:
	if _from_sync(doc):
		return
	if not cint(doc.global_unsubscribe) and doc.reference_doctype == EMAIL_GROUP and doc.reference_name:
		_record_group_leave(doc.email, doc.reference_name)
		return
	reason = "Unsubscribed from all email" if cint(doc.global_unsubscribe) else "Unsubscribed"
	if doc.reference_doctype:
		reason += f" ({doc.reference_doctype} {doc.reference_name})"
	_record_optout(doc.email, reason=reason)


def lead_validate(doc: Any, method: str | None = None) -> None:
	"""A Lead set to Do Not Contact is unsubscribed with the same save, when the settings make that
	status an opt-out (the default): its opt-out is then recorded as any other, and the opt-out's own
	writes find the Lead as saved (no second change of it behind the form)."""
	if _from_sync(doc) or cint(doc.get("unsubscribed")) or not lead_target.is_do_not_contact(doc):
		return
	before = doc.get_doc_before_save()
	if before is not None and lead_target.is_do_not_contact(before):
		return
	if lead_target.do_not_contact_opts_out():
		doc.unsubscribed = 1
		doc.flags.cc_sync_do_not_contact = True


def record_on_change(doc: Any, method: str | None = None) -> None:
	"""Mark a push target's record for the next push, without a second save (and never for the sync's
	own writes); a record whose own opt-out check was ticked (a Lead's Unsubscribed, or Do Not Contact,
	see lead_validate) is an opt-out like any other."""
	if _from_sync(doc):
		return
	target = targets.TARGETS.get(doc.doctype)
	if target is None:
		return
	email = doc.get(target.email_field)
	if email and any(_turned_on(doc, check) for check in target.optout_checks):
		cause = "Do Not Contact" if doc.flags.get("cc_sync_do_not_contact") else "Unsubscribed"
		_record_optout(email, reason=f"{cause} on {doc.doctype} {record_title(doc)}")
	if not frappe.get_meta(doc.doctype).has_field(LEAD_PUSH_STATUS):
		return
	if doc.get(LEAD_PUSH_STATUS) == PushStatus.PENDING:
		return
	# Not db_set: inside an insert it loads the row as stored as the document "before save", and Frappe
	# then records every value the database turned into another (a Currency's null into 0) as a change
	# of the creator's on the record's timeline (CRM Lead tracks changes).
	frappe.db.set_value(doc.doctype, doc.name, LEAD_PUSH_STATUS, PushStatus.PENDING, update_modified=False)
	doc.set(LEAD_PUSH_STATUS, PushStatus.PENDING)


def contact_on_trash(doc: Any, method: str | None = None) -> None:
	"""A deleted Contact that held an opt-out (its own, or CC's) leaves it on record: the address is never
	pushed again because its Contact went (ERPNext deletes a Lead's Contact with the Lead). Nothing is
	deleted in CC."""
	if not cint(doc.get("unsubscribed")) and doc.get(CONTACT_CC_PERMISSION) != Permission.UNSUBSCRIBED:
		return
	from cc_sync.cc_sync.store.optouts import keep_optout_on_delete

	emails = [row.email_id for row in doc.get("email_ids") or []] or [doc.get("email_id")]
	for email in dict.fromkeys(e for e in emails if e):
		keep_optout_on_delete(
			email, doc.get(CONTACT_OPTED_OUT_AT), reason=f"Kept when Contact {record_title(doc)} was deleted"
		)


def lead_on_trash(doc: Any, method: str | None = None) -> None:
	"""A deleted Lead that opted its address out leaves the opt-out on record; nothing in CC is deleted."""
	if not doc.get("email_id"):
		return
	dnc = lead_target.is_do_not_contact(doc) and lead_target.do_not_contact_opts_out()
	if not cint(doc.get("unsubscribed")) and not dnc:
		return
	from cc_sync.cc_sync.store.optouts import keep_optout_on_delete

	keep_optout_on_delete(
		doc.email_id, doc.get("modified"), reason=f"Kept when Lead {record_title(doc)} was deleted"
	)
