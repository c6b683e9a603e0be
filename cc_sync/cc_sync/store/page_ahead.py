"""Reading the next page while this one is decided.

A whole-account read (the first sync, the full reconcile) applies pages one after another. For a page
with nothing to change, most of the site's time is MariaDB answering the page's two reads (its Contacts
by address, and every other consent channel), while the sync's process waits. So, once a page has
written nothing, the next page's two reads are sent, each on a side connection of its own, as soon as
this page has been read; MariaDB answers them while this page is decided, and the next page then reads
their answers. No thread is involved: the statements are sent, and their rows read later by the sync's
own process, as the database driver would read them at once (a thread reading them would contend with
the page being decided).

They are used only if the store wrote nothing in between and nothing was left uncommitted when they were
sent: what they read is then what the sync's own connection would read (committed rows, as fresh as
when they were sent, a page's decision earlier than a read of its own). A page that writes throws the
next page's reads away, and the page after it is read as before; a first sync, whose every page writes,
sends them once. A failed side read costs only its time: the page is read on the sync's connection and
reading ahead stops for the run.
"""

from __future__ import annotations

import weakref
from collections.abc import Collection, Sequence
from typing import Any

from pymysql.constants import COMMAND

import frappe

from cc_sync.cc_sync.store.sql import SLICE, WriteCount, close_all

Key = tuple[str, frozenset]


class PageReadAhead:
	"""Side connections of this site's database, one per statement of a page, opened on first use and
	closed with the store."""

	def __init__(self, count: WriteCount) -> None:
		self.count = count
		self.enabled = True
		self._connections: list[Any] = []
		self._sent: dict[Key, Any] = {}  # each read sent, and the connection answering it
		self._sent_at: int | None = None  # the store's write count when they were sent
		self._last_page: int | None = None  # the write count when the page before was read
		weakref.finalize(self, close_all, self._connections)

	def send(self, statements: Sequence[tuple[str, Collection[str]]]) -> None:
		"""Send the next page's reads (each SQL with its `%(values)s`), unless the page before this one
		wrote something (the pages are changing: reads sent ahead would be thrown away) or the sync's
		connection holds writes not yet committed (the side connections would not see them)."""
		self._discard()
		written = self.count.total
		quiet = self._last_page is None or self._last_page == written
		self._last_page = written
		if not (self.enabled and quiet and not frappe.db.transaction_writes):
			return
		if any(len(values) > SLICE for _, values in statements) or not self._open(len(statements)):
			return
		self._sent_at = written
		try:
			literals: dict[frozenset, str] = {}
			for (sql, values), connection in zip(statements, self._connections, strict=False):
				key = frozenset(values)
				if key not in literals:  # the page's addresses, escaped once for its reads
					literals[key] = connection.literal(tuple(sorted(values)))
				query = sql % {"values": literals[key]}  # as the driver's own `mogrify` puts it
				connection._execute_command(COMMAND.COM_QUERY, query.encode(connection.encoding))
				self._sent[(sql, key)] = connection
		except Exception:
			self._stop("page read-ahead stopped for this run")

	def take(self, sql: str, values: Collection[str]) -> list[tuple] | None:
		"""The rows of a read sent ahead, or None: none was sent for these values, or the store has
		written since (read it again)."""
		connection = self._sent.pop((sql, frozenset(values)), None)
		if connection is None:
			return None
		try:
			rows = _answer(connection)
		except Exception:
			self._stop("page read-ahead stopped for this run")
			return None
		return rows if self.count.total == self._sent_at else None

	def _discard(self) -> None:
		"""Read and drop the answers not taken: a connection answers one statement at a time."""
		sent, self._sent = self._sent, {}
		for connection in sent.values():
			try:
				_answer(connection)
			except Exception:
				self._stop("page read-ahead stopped for this run")

	def _open(self, wanted: int) -> bool:
		try:
			while len(self._connections) < wanted:
				connection = frappe.db.create_connection()
				connection.autocommit(True)
				self._connections.append(connection)
		except Exception:
			self._stop("page read-ahead unavailable")
			return False
		return True

	def _stop(self, why: str) -> None:
		frappe.logger("cc_sync").warning(why, exc_info=True)
		self.enabled = False
		self._sent = {}


def _answer(connection: Any) -> list[tuple]:
	"""The rows a side connection answers to the statement sent on it, read as the driver reads a
	query's result (made by Frappe's own settings and conversions, so its rows are those frappe.db.sql
	returns)."""
	connection._affected_rows = connection._read_query_result()
	return list(connection._result.rows or ())
