"""Email Group Member tells apart addresses MariaDB's collation calls equal (rené@x and rene@x): its
unique index takes an exact address key beside the address. No row is changed or removed; the migrate
says what it did."""

import frappe

from cc_sync.cc_sync import indexes
from cc_sync.cc_sync.constants import EMAIL_GROUP_MEMBER


def execute() -> None:
	if not frappe.db.table_exists(EMAIL_GROUP_MEMBER):
		return
	rows = frappe.db.count(EMAIL_GROUP_MEMBER)
	done = indexes.use_one_member_index()
	after = frappe.db.count(EMAIL_GROUP_MEMBER)
	if done:
		print(f"cc_sync: Email Group Member now has {done}; {after:,} of {rows:,} rows kept, none changed")
