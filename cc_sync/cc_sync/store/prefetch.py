"""Reading ahead, in parallel, the index pages a page's lookups and inserts are about to touch.

The store applies a page of 500 contacts on one connection, one statement at a time. Once the contact
tables outgrow MariaDB's buffer pool, every lookup by CC id or address, and every insert into an index
on one, waits for its own disk read, one after another. Reading the same index entries first, from a few
connections at once, lets the disk serve those reads together, and the serial work then finds the pages
in the pool: at 1.2 million contacts on MariaDB's default 128 MiB pool, a batch of new contacts went
from about 1,200/s to 1,500/s on a loaded 2-core machine.

Nothing is written and nothing read is used: a read-ahead that fails costs only its time, and the page
is applied just the same. It runs only while pages come from disk: where the buffer pool holds the
contact tables it only cost CPU (at a million contacts on a 2 GiB pool, 10-15 % of a batch).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import frappe

from cc_sync.cc_sync.constants import CONTACT, CONTACT_CC_ID, CONTACT_EMAIL, EMAIL_GROUP_MEMBER
from cc_sync.cc_sync.indexes import member_table
from cc_sync.cc_sync.store.sql import close_all

# Below this many contacts (InnoDB's estimate) the indexes fit the buffer pool of a default install;
# above it, reading ahead pays once the contact tables are larger than this share of the pool.
MIN_CONTACTS = 200_000
POOL_SHARE = 1.0
# A page whose work (and read-ahead) read more pages than this from disk: the next page reads ahead.
MISSES_PER_PAGE = 200
CONNECTIONS = 8
KEYS_PER_READ = 100

# Each index a new contact's lookups and inserts reach through a random key: (query, what it is keyed by).
READS = (
	(f"select `{CONTACT_CC_ID}` from `tab{CONTACT}` where `{CONTACT_CC_ID}` in %s", "id"),
	(f"select email_id from `tab{CONTACT}` force index (email_id) where email_id in %s", "email"),
	(f"select email_id from `tab{CONTACT_EMAIL}` where email_id in %s", "email"),
	("select email from {member} where email in %s", "email"),
)


class IndexReadAhead:
	"""Side connections of this site's database, opened on first use, closed with the store."""

	def __init__(self) -> None:
		self._connections: list[Any] = []
		self._free: list[Any] = []
		self._lock = threading.Lock()
		self._pool: ThreadPoolExecutor | None = None
		self.enabled: bool | None = None  # decided on first use; False for good after a failure
		self._needed = False
		self._misses: int | None = None
		weakref.finalize(self, close_all, self._connections)

	def read(self, cc_ids: Collection[str], emails: Collection[str]) -> None:
		"""Read the index entries of these ids and addresses from every side connection at once, when
		the pages before this one had to come from disk (the first page: when the tables outgrow the
		pool). Where the pool holds them, reading ahead would only cost CPU."""
		if self.enabled is None:
			self.enabled, self._needed = _large_site()
		if not self.enabled:
			return
		misses = _disk_reads()
		if self._misses is not None:
			self._needed = misses - self._misses > MISSES_PER_PAGE
		self._misses = misses
		if not self._needed or not self._open():
			return
		ids = [i for i in cc_ids if i]
		addresses = [e for e in emails if e]
		member = member_table()
		reads = [
			(query.format(member=member), chunk)
			for query, keyed_by in READS
			for chunk in _chunks(ids if keyed_by == "id" else addresses)
		]
		try:
			for future in [self._pool.submit(self._run, query, chunk) for query, chunk in reads]:
				future.result()
		except Exception:
			# A lost side connection (restart, timeout, limits): the page goes on without it.
			frappe.logger("cc_sync").warning("index read-ahead stopped for this run", exc_info=True)
			self.enabled = False

	def _open(self) -> bool:
		if self._pool is None:
			try:
				for _ in range(CONNECTIONS):
					connection = frappe.db.create_connection()
					connection.autocommit(True)
					self._connections.append(connection)
			except Exception:
				frappe.logger("cc_sync").warning("index read-ahead unavailable", exc_info=True)
				self.enabled = False
				return False
			self._free = list(self._connections)
			self._pool = ThreadPoolExecutor(CONNECTIONS, thread_name_prefix="cc_sync_read_ahead")
		return True

	def _run(self, query: str, keys: tuple[str, ...]) -> None:
		# No frappe here: this runs on a pool thread, with a connection of its own.
		with self._lock:
			connection = self._free.pop()
		try:
			with connection.cursor() as cursor:
				cursor.execute(query, (keys,))
				cursor.fetchall()
		finally:
			with self._lock:
				self._free.append(connection)


def _large_site() -> tuple[bool, bool]:
	"""Whether the site is large enough to read ahead at all, and whether its contact tables outgrow
	the buffer pool (the guess for the first page, before any page has shown what comes from disk)."""
	tables = (f"tab{CONTACT}", f"tab{CONTACT_EMAIL}", f"tab{EMAIL_GROUP_MEMBER}")
	contacts, size = frappe.db.sql(
		"""select sum(if(table_name = %s, table_rows, 0)), sum(data_length + index_length)
		from information_schema.tables where table_schema = database() and table_name in %s""",
		(tables[0], tables),
	)[0]
	pool = frappe.db.sql("select @@innodb_buffer_pool_size")[0][0]
	return int(contacts or 0) >= MIN_CONTACTS, int(size or 0) > int(pool) * POOL_SHARE


def _disk_reads() -> int:
	"""The server's count of pages read from disk into the buffer pool so far."""
	rows = frappe.db.sql("show global status like 'Innodb_buffer_pool_reads'")
	return int(rows[0][1]) if rows else 0


def _chunks(keys: Sequence[str]) -> list[tuple[str, ...]]:
	unique = list(dict.fromkeys(keys))
	return [tuple(unique[i : i + KEYS_PER_READ]) for i in range(0, len(unique), KEYS_PER_READ)]
