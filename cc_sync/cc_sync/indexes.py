"""The indexes the sync's batched lookups need on host tables, and no more than they need.

Every page the sync applies looks rows up by CC id and by email, and every new contact adds an entry to
each index on a random key (an id, an address). Once the tables outgrow MariaDB's buffer pool, each such
entry costs a disk read and a page write, so the sync keeps one index per lookup it makes:

- Contact Email (email_id, parent): finding the Contacts of an address (Frappe has none; its own
  `get_contact_name` uses it too).
- Email Group Member (email, email_group), unique: finding an address's rows in every group. It takes
  the place of Frappe's unique (email_group, email), which holds the same pairs in the other order:
  the pair stays unique, lookups by group and address use either order, and lookups by group alone have
  Frappe's own `email_group` index. One index instead of two saves every new member row a random page.
- Lead (email_id, unsubscribed), when Lead exists.

Two columns each, because Frappe's schema sync drops a single-column index on a field its DocType does
not mark `search_index`.
"""

from __future__ import annotations

import frappe

from cc_sync.cc_sync.constants import CONTACT_EMAIL, EMAIL_GROUP_MEMBER, LEAD

INDEXES = ((CONTACT_EMAIL, ("email_id", "parent")),)
LEAD_INDEXES = ((LEAD, ("email_id", "unsubscribed")),)

MEMBER_INDEX = "cc_sync_email_email_group"
MEMBER_COLUMNS = ("email", "email_group")
# Frappe's own, made when the Email Group Member table is created (and never again by a migrate).
FRAPPE_MEMBER_UNIQUE = "unique_email_group_email"
FRAPPE_MEMBER_COLUMNS = ("email_group", "email")


def ensure_indexes(with_lead: bool) -> None:
	for doctype, columns in INDEXES + (LEAD_INDEXES if with_lead else ()):
		ensure_index(doctype, columns)
	use_one_member_index()


def ensure_index(doctype: str, columns: tuple[str, ...]) -> None:
	"""Add a plain index unless one already starts with these columns (a unique index serves too)."""
	if any(tuple(cols[: len(columns)]) == columns for cols, _ in _indexes(doctype).values()):
		return
	frappe.db.add_index(doctype, list(columns), index_name=f"cc_sync_{'_'.join(columns)}")


def use_one_member_index() -> None:
	"""Email Group Member keeps one unique index on (email, email_group) in place of Frappe's
	(email_group, email) and the plain one the app used to add, in one ALTER (all or nothing)."""
	have = _indexes(EMAIL_GROUP_MEMBER)
	ours = have.get(MEMBER_INDEX)
	if ours is not None and ours[0] == MEMBER_COLUMNS and FRAPPE_MEMBER_UNIQUE not in have:
		return  # done (or, plain, the duplicates fallback below: said once, not at every migrate)
	steps = []
	if ours is not None:
		steps.append(f"drop index `{MEMBER_INDEX}`")
	steps.append(f"add unique index `{MEMBER_INDEX}` (`email`, `email_group`)")
	if FRAPPE_MEMBER_UNIQUE in have:
		steps.append(f"drop index `{FRAPPE_MEMBER_UNIQUE}`")
	if not _alter_members(
		steps,
		"Constant Contact: Email Group Member holds an address twice in one group",
		"The unique index was not made; a plain one serves the lookups instead.",
	):
		# A site without Frappe's unique index can hold a pair twice: nothing changes but a plain index.
		ensure_index(EMAIL_GROUP_MEMBER, MEMBER_COLUMNS)


def restore_frappe_member_index() -> None:
	"""On uninstall: Frappe's own unique (email_group, email) comes back and the app's goes."""
	have = _indexes(EMAIL_GROUP_MEMBER)
	steps = []
	if FRAPPE_MEMBER_UNIQUE not in have:
		steps.append(f"add unique index `{FRAPPE_MEMBER_UNIQUE}` (`email_group`, `email`)")
	if MEMBER_INDEX in have:
		steps.append(f"drop index `{MEMBER_INDEX}`")
	if steps:
		# Should the table hold a pair twice (see above), the app's index stays and uninstall goes on.
		_alter_members(
			steps,
			"Constant Contact: Frappe's unique index on Email Group Member was not restored",
			"An address is in one group twice; remove the duplicate, then add the index.",
		)


def _alter_members(steps: list[str], title: str, message: str) -> bool:
	"""One ALTER of Email Group Member (all or nothing); False, with the reason logged, when a unique
	index cannot be made over a pair the table holds twice."""
	try:
		frappe.db.sql_ddl(f"alter table `tab{EMAIL_GROUP_MEMBER}` {', '.join(steps)}")
	except Exception as exc:
		if not frappe.db.is_duplicate_entry(exc):
			raise
		frappe.log_error(title=title, message=f"{message}\n{exc}")
		return False
	return True


def _indexes(doctype: str) -> dict[str, tuple[tuple[str, ...], bool]]:
	"""Each index of the table: its columns in order and whether it is unique."""
	out: dict[str, tuple[list[str], bool]] = {}
	rows = frappe.db.sql(f"SHOW INDEX FROM `tab{doctype}`", as_dict=True)
	for row in sorted(rows, key=lambda r: (r["Key_name"], r["Seq_in_index"])):
		cols, _ = out.setdefault(row["Key_name"], ([], not int(row["Non_unique"])))
		cols.append(row["Column_name"])
	return {name: (tuple(cols), unique) for name, (cols, unique) in out.items()}
