"""The indexes the sync's batched lookups need on host tables, and no more than they need.

Every page the sync applies looks rows up by CC id and by email, and every new contact adds an entry to
each index on a random key (an id, an address). Once the tables outgrow MariaDB's buffer pool, each such
entry costs a disk read and a page write, so the sync keeps one index per lookup it makes:

- Contact Email (email_id, parent): finding the Contacts of an address (Frappe has none; its own
  `get_contact_name` uses it too).
- Email Group Member (email, email_group, cc_sync_address_key), unique: finding an address's rows in
  every group. It takes the place of Frappe's unique (email_group, email): lookups by group and address
  use either, lookups by group alone have Frappe's own `email_group` index, and one index instead of two
  saves every new member row a random page. The address column compares under the table's collation,
  where `rené@x` equals `rene@x` (and `straße` `strasse`), so the pair alone would refuse the second of
  two people; `cc_sync_address_key`, a virtual column of up to 8 bytes (the start of the MD5 of the address
  lower-cased; empty for an address of ASCII letters only, where the collation compares as lower-casing
  does), tells them apart, while one address written in two cases still joins a group once.
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
MEMBER_KEY = "cc_sync_address_key"
# Empty for an address of ASCII letters only (there the collation compares as lower-casing does, and the
# index entry grows by one byte); else the first 8 bytes of the MD5 of the address lower-cased.
MEMBER_KEY_TYPE = "varbinary(8)"
MEMBER_KEY_DEFINITION = (
	f"`{MEMBER_KEY}` {MEMBER_KEY_TYPE} as (if(length(`email`) = char_length(`email`), '', "
	"unhex(left(md5(lower(`email`)), 16)))) virtual"
)
MEMBER_COLUMNS = ("email", "email_group", MEMBER_KEY)
MEMBER_INDEX_SQL = f"(`email`, `email_group`, `{MEMBER_KEY}`)"
# Frappe's own, made when the Email Group Member table is created (and never again by a migrate).
FRAPPE_MEMBER_UNIQUE = "unique_email_group_email"
FRAPPE_MEMBER_COLUMNS = ("email_group", "email")


# Whether each site's Email Group Member table has the app's index (see `member_table`).
_member_index_held: dict[str, bool] = {}


def member_table() -> str:
	"""Email Group Member as a lookup of a page of addresses names it: through the app's index whenever
	the site has it. Left to its statistics, MariaDB can judge the table as small as it was when a first
	sync began and read it whole for every page: 10.6 million rows for 98,000 contacts, a third of the
	first pull's time."""
	site = frappe.local.site
	held = _member_index_held.get(site)
	if held is None:
		held = _member_index_held[site] = MEMBER_INDEX in _indexes(EMAIL_GROUP_MEMBER)
	hint = f" force index (`{MEMBER_INDEX}`)" if held else ""
	return f"`tab{EMAIL_GROUP_MEMBER}`{hint}"


def ensure_indexes(with_lead: bool) -> None:
	for doctype, columns in INDEXES + (LEAD_INDEXES if with_lead else ()):
		ensure_index(doctype, columns)
	use_one_member_index()


def ensure_index(doctype: str, columns: tuple[str, ...]) -> None:
	"""Add a plain index unless one already starts with these columns (a unique index serves too)."""
	if any(tuple(cols[: len(columns)]) == columns for cols, _ in _indexes(doctype).values()):
		return
	frappe.db.add_index(doctype, list(columns), index_name=f"cc_sync_{'_'.join(columns)}")


def use_one_member_index() -> str | None:
	"""Email Group Member keeps one unique index on (email, email_group, address key) in place of
	Frappe's (email_group, email) and the app's earlier ones, in one ALTER (all or nothing). Returns what
	it changed, or None when the table was already so.

	No row is touched: every pair the earlier indexes held unique is unique by the new one too."""
	have = _indexes(EMAIL_GROUP_MEMBER)
	ours = have.get(MEMBER_INDEX)
	key_type = _key_type()
	if (
		ours is not None
		and ours[0] == MEMBER_COLUMNS
		and FRAPPE_MEMBER_UNIQUE not in have
		and key_type == MEMBER_KEY_TYPE
	):
		return None  # done (or, plain, the duplicates fallback below: said once, not at every migrate)
	steps = []
	if key_type is None:
		steps.append(f"add column {MEMBER_KEY_DEFINITION}")
	elif key_type != MEMBER_KEY_TYPE:
		steps.append(f"modify column {MEMBER_KEY_DEFINITION}")
	if ours is not None:
		steps.append(f"drop index `{MEMBER_INDEX}`")
	steps.append(f"add unique index `{MEMBER_INDEX}` {MEMBER_INDEX_SQL}")
	if FRAPPE_MEMBER_UNIQUE in have:
		steps.append(f"drop index `{FRAPPE_MEMBER_UNIQUE}`")
	replaced = ", ".join(
		f"({', '.join(have[n][0])})" for n in (MEMBER_INDEX, FRAPPE_MEMBER_UNIQUE) if n in have
	)
	if _alter_members(
		steps,
		"Constant Contact: Email Group Member holds an address twice in one group",
		"The unique index was not made; a plain one serves the lookups instead.",
	):
		done = f"one unique index on (email, email_group, {MEMBER_KEY})"
		return f"{done} in place of {replaced}" if replaced else done
	# A site without Frappe's unique index can hold a pair twice: nothing changes but a plain index.
	steps = [s for s in steps if "unique" not in s]
	steps.append(f"add index `{MEMBER_INDEX}` {MEMBER_INDEX_SQL}")
	_alter_members(steps, "", "")
	return f"a plain index on (email, email_group, {MEMBER_KEY}): the table holds a pair twice"


def restore_frappe_member_index() -> None:
	"""On uninstall: Frappe's own unique (email_group, email) comes back and the app's goes."""
	have = _indexes(EMAIL_GROUP_MEMBER)
	steps = []
	if FRAPPE_MEMBER_UNIQUE not in have:
		steps.append(f"add unique index `{FRAPPE_MEMBER_UNIQUE}` (`email_group`, `email`)")
	if MEMBER_INDEX in have:
		steps.append(f"drop index `{MEMBER_INDEX}`")
	if frappe.db.has_column(EMAIL_GROUP_MEMBER, MEMBER_KEY):
		steps.append(f"drop column `{MEMBER_KEY}`")
	if steps:
		# Should the table hold a pair Frappe's index calls equal (see above), the app's index and its
		# key column stay and uninstall goes on.
		_alter_members(
			steps,
			"Constant Contact: Frappe's unique index on Email Group Member was not restored",
			"An Email Group holds two addresses MariaDB's collation calls equal (rené@x and rene@x, "
			"straße@x and strasse@x: two people) or one address twice. Frappe's own unique index cannot "
			"hold both; remove one of the rows, then add the index.",
		)
	frappe.cache.hdel("table_columns", f"tab{EMAIL_GROUP_MEMBER}")


def _alter_members(steps: list[str], title: str, message: str) -> bool:
	"""One ALTER of Email Group Member (all or nothing); False, with the reason logged, when a unique
	index cannot be made over a pair the table holds twice."""
	_member_index_held.pop(frappe.local.site, None)
	try:
		frappe.db.sql_ddl(f"alter table `tab{EMAIL_GROUP_MEMBER}` {', '.join(steps)}")
		frappe.cache.hdel("table_columns", f"tab{EMAIL_GROUP_MEMBER}")  # as Frappe caches them
	except Exception as exc:
		if not frappe.db.is_duplicate_entry(exc):
			raise
		frappe.log_error(title=title, message=f"{message}\n{exc}")
		return False
	return True


def _key_type() -> str | None:
	"""The address key column's type as the database holds it, or None when there is none."""
	rows = frappe.db.sql(
		"""select column_type from information_schema.columns where table_schema = database()
		and table_name = %s and column_name = %s""",
		(f"tab{EMAIL_GROUP_MEMBER}", MEMBER_KEY),
	)
	return str(rows[0][0]).lower() if rows else None


def _indexes(doctype: str) -> dict[str, tuple[tuple[str, ...], bool]]:
	"""Each index of the table: its columns in order and whether it is unique."""
	out: dict[str, tuple[list[str], bool]] = {}
	rows = frappe.db.sql(f"SHOW INDEX FROM `tab{doctype}`", as_dict=True)
	for row in sorted(rows, key=lambda r: (r["Key_name"], r["Seq_in_index"])):
		cols, _ = out.setdefault(row["Key_name"], ([], not int(row["Non_unique"])))
		cols.append(row["Column_name"])
	return {name: (tuple(cols), unique) for name, (cols, unique) in out.items()}
