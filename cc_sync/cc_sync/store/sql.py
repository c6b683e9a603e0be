"""Small SQL helpers for batched reads and writes: IN lists in slices, multi-row INSERTs under names of
their own, the database's own column types."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

import frappe
from frappe.database.database import IFNULL_PATTERN

from cc_sync.cc_sync.column_fit import Column
from cc_sync.cc_sync.naming import NAMES, random_writer

# IN lists are sent in slices of this many values.
SLICE = 1000

SAVEPOINT = "cc_sync_new_rows"

# How many times an insert that finds a name taken is tried again under fresh names.
NAME_RETRIES = 3


def slices(values: Iterable[Any], size: int = SLICE) -> Iterator[tuple]:
	items = list(dict.fromkeys(values))
	for start in range(0, len(items), size):
		yield tuple(items[start : start + size])


def select_in(sql: str, values: Iterable[Any], as_dict: bool = True, **params: Any) -> list[Any]:
	"""Run `sql` (with an `%(values)s` IN placeholder) once per slice of `values`: rows as dicts, or
	as tuples (`as_dict=False`, cheaper where a page reads thousands)."""
	rows: list[Any] = []
	for chunk in slices(values):
		rows.extend(frappe.db.sql(sql, {**params, "values": chunk}, as_dict=as_dict))
	return rows


# The longest answer a joined read asks the server for (its default is 1 MiB); a longer one is cut
# short by the server, and the caller reads the rows again one by one.
JOINED_MAX = 8 * 2**20


def joined_sql(rows_sql: str) -> str:
	"""`rows_sql`, each of whose rows is one JSON array named `p`, answered in one row: how many rows, and
	the rows joined by commas. The driver (PyMySQL, written in Python) parses each row of an answer on
	its own, while JSON is parsed in C: a page's thousand rows cost it one."""
	return (
		f"set statement group_concat_max_len = {JOINED_MAX} for "
		f"select count(*), group_concat(p separator ',') from ({rows_sql}) t"
	)


def unjoined(answers: Iterable[tuple]) -> list[list[Any]] | None:
	"""The rows of `joined_sql`'s answers (one per slice of values), or None when the server cut one
	short at JOINED_MAX."""
	rows: list[list[Any]] = []
	for count, joined in answers:
		try:
			part = json.loads(f"[{joined}]") if joined else []
		except ValueError:  # cut inside a row
			return None
		if len(part) != count:  # cut between rows
			return None
		rows.extend(part)
	return rows


def execute_in(sql: str, values: Iterable[Any], **params: Any) -> None:
	for chunk in slices(values):
		frappe.db.sql(sql, {**params, "values": chunk})


def insert_rows(doctype: str, columns: Sequence[str], rows: Sequence[tuple], size: int = 500) -> None:
	"""Multi-row INSERTs, their values escaped here (frappe.db.bulk_insert builds its SQL far slower, and
	the driver's own escaping of 20 values a row took a fifth of a page's time)."""
	names = ", ".join(f"`{c}`" for c in columns)
	# The connection that insert_named asked for its id: frappe.db.sql has opened it.
	literal = literal_for(frappe.db._conn)
	for start in range(0, len(rows), size):
		chunk = rows[start : start + size]
		values = ", ".join("(" + ", ".join([literal(v) for v in row]) + ")" for row in chunk)
		if IFNULL_PATTERN.search(values):
			# frappe.db.sql rewrites `ifnull(` anywhere in a query's text: such values travel apart.
			placeholder = "(" + ", ".join(["%s"] * len(columns)) + ")"
			frappe.db.sql(
				f"insert into `tab{doctype}` ({names}) values {', '.join([placeholder] * len(chunk))}",
				[value for row in chunk for value in row],
			)
		else:
			frappe.db.sql(f"insert into `tab{doctype}` ({names}) values {values}")


def literal_for(connection: Any) -> Callable[[Any], str]:
	"""The driver's SQL literal of a value, with strings escaped by the connection itself (so its
	escaping mode holds) and repeated non-text values (dates, owners' flags) escaped once."""
	escape_string = connection.escape_string
	generic = connection.literal
	cache: dict[tuple[type, Any], str] = {}

	def literal(value: Any) -> str:
		kind = type(value)
		if kind is str:
			return "'" + escape_string(value) + "'"
		if value is None:
			return "NULL"
		if kind is int:
			return str(value)
		if kind is datetime and value.tzinfo is not None:
			return generic(value)  # equal instants in two zones would share a cached text
		key = (kind, value)
		try:
			return cache[key]
		except KeyError:
			cache[key] = text = generic(value)
			return text
		except TypeError:  # unhashable: escaped each time
			return generic(value)

	return literal


def column_specs(doctype: str, meta: Any) -> dict[str, Column]:
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


def doctype_exists(doctype: str) -> bool:
	return bool(frappe.db.table_exists(doctype))


def close_all(connections: Sequence[Any]) -> None:
	"""Close side connections, each as best it can (a store's finaliser: the server may be gone)."""
	for connection in connections:
		try:
			connection.close()
		except Exception:
			pass


def connection_id() -> int:
	"""This connection's id: no two open connections share it, which makes the names below unique."""
	return int(frappe.db.sql("select connection_id()")[0][0])


def row_names(doctype: str, rows: Sequence[dict[str, Any]], writer: int) -> list[str]:
	"""Names for new rows of `doctype` (the scale benchmark swaps in the old scheme to compare)."""
	return NAMES.take(len(rows), writer)


def insert_named(doctype: str, rows: list[dict[str, Any]], blank: dict[str, Any] | None = None) -> None:
	"""Insert `rows` under new names, set on each row (see naming.py: unique, increasing, so each insert
	appends to the table instead of landing on a random page). Should a name be taken anyway, by a row
	some other code named, the insert is undone and tried again under fresh names."""
	if not rows:
		return
	blank = blank or {}
	writer = connection_id()
	for attempt in range(NAME_RETRIES + 1):
		for row, name in zip(rows, row_names(doctype, rows, writer), strict=True):
			row["name"] = name
		columns = list(dict.fromkeys(c for row in rows for c in row))
		values = [tuple(row.get(c, blank.get(c)) for c in columns) for row in rows]
		frappe.db.savepoint(SAVEPOINT)
		try:
			insert_rows(doctype, columns, values)
		except Exception as exc:
			if attempt == NAME_RETRIES or not frappe.db.is_primary_key_violation(exc):
				raise
			frappe.db.rollback(save_point=SAVEPOINT)
			writer = random_writer()
		else:
			return


def base_columns(now: datetime) -> dict[str, Any]:
	user = frappe.session.user if getattr(frappe.local, "session", None) else "Administrator"
	return {"creation": now, "modified": now, "owner": user, "modified_by": user, "docstatus": 0}


def json_value(value: Any, default: Any) -> Any:
	if not value:
		return default
	try:
		return json.loads(value)
	except (TypeError, ValueError):
		return default


class WriteCount:
	"""The rows the store's parts wrote, counted together: one counter handed to each part."""

	def __init__(self) -> None:
		self.total = 0

	def add(self, count: int = 1) -> None:
		self.total += count
