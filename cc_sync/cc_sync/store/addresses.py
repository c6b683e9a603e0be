"""Rows by address on a Frappe site, compared exactly: which rows hold an address, by one rule (which
Contact holds an address is the site contacts' rule, on these rows: contact_reads.py).

MariaDB compares the host tables' address columns under `utf8mb4_unicode_ci`, where `rené@x` equals
`rene@x`, `straße` equals `strasse` and full-width letters equal their plain forms; two such addresses
are two people. The column's index still finds an address's rows (every row the app means is among what
it returns), and what it returns is then kept only where the app's own key matches exactly
(`normalise_email`: trimmed and lower-cased by Python's rules; MariaDB's `lower()` knows 738 fewer
capital letters, so it cannot be that key). Writes by address go through the rows found here, by name:
no UPDATE or DELETE names an address itself.

The one index that compares addresses itself, Email Group Member's unique index, takes an exact key
column beside the address (see indexes.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import frappe

from cc_sync.cc_sync.store.sql import select_in
from cc_sync.sync.matching import normalise_email


def wanted(emails: Iterable[str | None]) -> set[str]:
	"""The keys of these addresses, without the empty ones."""
	return {e for e in (normalise_email(e) for e in emails) if e}


def rows_by_address(
	doctype: str,
	column: str,
	emails: Iterable[str | None],
	fields: str = "name",
	where: str = "",
	**params: Any,
) -> dict[str, list[frappe._dict]]:
	"""The rows of `doctype` whose `column` holds each address exactly, keyed by the address's key.

	`fields` are selected beside the address (as `address`); `where` narrows the rows further (an SQL
	condition with `%(name)s` placeholders given in `params`)."""
	keys = wanted(emails)
	if not keys:
		return {}
	condition = f" and ({where})" if where else ""
	out: dict[str, list[frappe._dict]] = {}
	for row in select_in(
		f"""select {fields}, `{column}` as address from `tab{doctype}`
		where `{column}` in %(values)s{condition}""",
		keys,
		**params,
	):
		key = normalise_email(row.address)
		if key in keys:
			out.setdefault(key, []).append(row)
	return out


def names_by_address(
	doctype: str, column: str, emails: Iterable[str | None], where: str = "", **params: Any
) -> list[str]:
	"""The names of every row of `doctype` holding one of these addresses exactly."""
	found = rows_by_address(doctype, column, emails, where=where, **params)
	return list(dict.fromkeys(row.name for rows in found.values() for row in rows))
