"""The naming the Frappe store used before time-ordered names, kept only so the scale benchmark can
measure both schemes side by side in one session.

Contacts were named after the person (`Jane Doe`, then `Jane Doe-1`, ...), as Frappe's own Contact
autoname does, which needed a lookup of every `Base-%` name per run; child and hash-named rows got
Frappe's 10 random hex characters. Needs frappe: import it only inside a bench.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from typing import Any

import frappe
from frappe.contacts.doctype.contact.contact import get_full_name

from cc_sync.cc_sync.constants import CONTACT
from cc_sync.cc_sync.store import sql as store_sql
from cc_sync.cc_sync.store.sql import slices as _slices

NAME_MAX = 120


def base_name(row: dict[str, Any]) -> str:
	"""What Contact's own autoname would give: the full name, or else the email's local part."""
	name = get_full_name(
		row.get("first_name"), row.get("middle_name"), row.get("last_name"), row.get("company_name")
	)
	email = row.get("email_id") or ""
	name = re.sub(r"[<>\s]+", " ", name or email.split("@", 1)[0]).strip()
	return (name or email)[:NAME_MAX].strip()


class ContactNamer:
	"""Unique Contact names, numbered `-N` as Frappe's append_number_if_name_exists does (the old code)."""

	def __init__(self) -> None:
		self._plain_taken: dict[str, bool] = {}
		self._suffix: dict[str, int] = {}
		self.seconds = 0.0

	def names(self, bases: Sequence[str]) -> list[str]:
		t0 = time.perf_counter()
		self._load([b for b in dict.fromkeys(bases) if b.casefold() not in self._suffix])
		names: list[str] = []
		for base in bases:
			key = base.casefold()
			if not self._plain_taken[key]:
				self._plain_taken[key] = True
				names.append(base)
				continue
			self._suffix[key] += 1
			names.append(f"{base}-{self._suffix[key]}")
		clash = set()
		for chunk in _slices(names):
			clash.update(
				r[0].casefold()
				for r in frappe.db.sql("select name from `tabContact` where name in %s", [chunk])
			)
		if clash:
			names = [
				n if n.casefold() not in clash else f"{n}-{frappe.generate_hash(length=5)}" for n in names
			]
		self.seconds += time.perf_counter() - t0
		return names

	def _load(self, bases: list[str]) -> None:
		for base in bases:
			self._plain_taken[base.casefold()] = False
			self._suffix[base.casefold()] = 0
		for chunk in _slices(bases, 100):
			selects = " union all ".join(["select name from `tabContact` where name like %s"] * len(chunk))
			rows = frappe.db.sql(
				f"select name from `tabContact` where name in %s union all {selects}",
				[tuple(chunk), *(_like_prefix(b) + "-%" for b in chunk)],
			)
			for (name,) in rows:
				key = name.casefold()
				if key in self._plain_taken:
					self._plain_taken[key] = True
				head, _, tail = key.rpartition("-")
				if head in self._suffix and tail.isdigit():
					self._suffix[head] = max(self._suffix[head], int(tail))


def _like_prefix(value: str) -> str:
	return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class LegacyNaming:
	"""While active, the Frappe store names rows the old way: person-named Contacts (numbered `-N`, one
	`Base-%` lookup per name per run), random 10-hex names for every other row."""

	def __init__(self) -> None:
		self.namer = ContactNamer()
		self._saved = None

	def names(self, doctype: str, rows: Sequence[dict[str, Any]], writer: int) -> list[str]:
		if doctype == CONTACT:
			return self.namer.names([base_name(row) for row in rows])
		return [frappe.generate_hash(length=10) for _ in rows]

	def __enter__(self) -> LegacyNaming:
		self._saved = store_sql.row_names
		store_sql.row_names = self.names
		return self

	def __exit__(self, *exc: Any) -> None:
		store_sql.row_names = self._saved
