"""What a push target states: everything the store and the desk need to push one DocType's records.

A target is one DocType whose records cc_sync pushes to Constant Contact. Its adapter says where the
address is, which of its fields hold what Contact calls otherwise (the field map names Contact's
fields), its own opt-out signals, which of its records are never pushed, the fields cc_sync installs
on it, its document events and its form script. The table of targets is `targets/__init__.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class PushTarget:
	doctype: str
	# The field holding the person's address.
	email_field: str
	# Contact's field -> this DocType's field, where they differ (the field map names Contact's fields).
	contact_fields: dict[str, str] = field(default_factory=dict)
	# The full name, split into first and last name for CC when those are empty.
	full_name_field: str | None = None
	# Checks that opt the address out when ticked on a record (the Lead's `unsubscribed`).
	optout_checks: tuple[str, ...] = ()
	# Frappe filters every pushed record must pass (a status never pushed, a member row that left).
	never_pushed: tuple[tuple[str, str, str], ...] = ()
	# The Email Group a record belongs to: it goes only to the CC lists mapped to that group.
	group_field: str | None = None
	# Whether cc_sync's push fields (CC id, push status, pushed at, error) are installed on it.
	installs_push_fields: bool = True
	# doc_events for hooks.py: event -> dotted path.
	doc_events: dict[str, str] = field(default_factory=dict)
	# The form script (relative to the app's package) that adds the Constant Contact section and Sync now.
	form_script: str | None = None
	# Who a person reads the target as, in the settings.
	label: str = ""
