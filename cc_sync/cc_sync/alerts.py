"""A bell notification to the System Managers when syncing stops working: once when it starts, not on
every scheduled tick while it stays broken, and again only after a run has worked in between."""

from __future__ import annotations

import frappe
from frappe import _

from cc_sync.cc_sync.constants import SYNC_LOG, WORKED, LogStatus

# What the managers were last told about: "connection", "failed", or nothing while all is well.
ALERT_KEY = "cc_sync:alerted"


def note_run(status: str, *, connection_broken: bool, log_name: str, error: str | None) -> bool:
	"""Called after every real run; returns True when it notified."""
	kind = "connection" if connection_broken else ("failed" if status == LogStatus.FAILED else None)
	told = frappe.cache.get_value(ALERT_KEY)
	if kind is None:
		if told and status in WORKED:
			frappe.cache.delete_value(ALERT_KEY)
		return False
	if told == kind or told == "connection":
		# Already told; a broken connection explains every failed run that follows it.
		return False
	frappe.cache.set_value(ALERT_KEY, kind)
	subject = (
		_("The Constant Contact connection stopped working: syncing is paused until someone reconnects.")
		if kind == "connection"
		else _("A Constant Contact sync run failed. The next run retries; the log says what went wrong.")
	)
	notify_system_managers(subject, error, log_name)
	return True


def notify_system_managers(subject: str, detail: str | None, log_name: str) -> None:
	from frappe.desk.doctype.notification_log.notification_log import make_notification_logs
	from frappe.utils.user import get_users_with_role

	users = get_users_with_role("System Manager")
	# Frappe leaves Administrator out of role lists; on many sites it is the one who set the sync up.
	admin_email = frappe.db.get_value("User", {"name": "Administrator", "enabled": 1}, "email")
	if admin_email:
		users.append(admin_email)
	if not users:
		return
	make_notification_logs(
		frappe._dict(
			type="Alert",
			subject=subject,
			email_content=frappe.utils.escape_html(detail or ""),
			document_type=SYNC_LOG,
			document_name=log_name,
			from_user="Administrator",
		),
		users,
	)
