"""Reading index pages ahead on a large site: the page applies the same with it, without it, and when a
side connection fails."""

from __future__ import annotations

import pytest

from cc_sync.cc_sync.store import prefetch
from cc_sync.sync.streams import STREAM_CHANGES
from tests.integration.test_frappe_scenarios import addr, make_world, one_contact


def _pull_three(w) -> None:
	for i in range(3):
		w.emu.add_contact(addr(f"ahead{i}"), first_name=f"Ahead{i}", list_ids=[w.list_id])
	with w.emu.mocked():
		w.run(STREAM_CHANGES)


def test_a_site_whose_contact_tables_fit_the_buffer_pool_opens_no_side_connections(monkeypatch):
	monkeypatch.setattr(prefetch, "MIN_CONTACTS", 0)
	w = make_world()
	_pull_three(w)
	assert w.store.contact_reads.read_ahead._connections == []
	assert one_contact(w, addr("ahead0")).first_name == "Ahead0"


def test_a_large_site_reads_ahead_on_side_connections_and_applies_the_page_the_same(monkeypatch):
	monkeypatch.setattr(prefetch, "MIN_CONTACTS", 0)
	monkeypatch.setattr(prefetch, "POOL_SHARE", 0)
	read: list[str] = []
	run = prefetch.IndexReadAhead._run
	monkeypatch.setattr(prefetch.IndexReadAhead, "_run", lambda self, q, k: (read.append(q), run(self, q, k)))
	w = make_world()
	_pull_three(w)
	assert w.store.contact_reads.read_ahead.enabled is True
	assert len(read) >= len(prefetch.READS)
	assert [one_contact(w, addr(f"ahead{i}")).first_name for i in range(3)] == ["Ahead0", "Ahead1", "Ahead2"]


@pytest.mark.parametrize("breaks", ["opening", "reading"])
def test_a_side_connection_that_fails_stops_the_read_ahead_not_the_sync(monkeypatch, breaks):
	import frappe

	monkeypatch.setattr(prefetch, "MIN_CONTACTS", 0)
	monkeypatch.setattr(prefetch, "POOL_SHARE", 0)
	if breaks == "opening":
		monkeypatch.setattr(frappe.db, "create_connection", lambda: (_ for _ in ()).throw(OSError("refused")))
	else:

		def lost(self, query, keys):
			raise ConnectionResetError("gone")

		monkeypatch.setattr(prefetch.IndexReadAhead, "_run", lost)
	w = make_world()
	_pull_three(w)
	assert w.store.contact_reads.read_ahead.enabled is False
	assert [one_contact(w, addr(f"ahead{i}")).first_name for i in range(3)] == ["Ahead0", "Ahead1", "Ahead2"]


def test_it_reads_ahead_only_while_the_pages_before_came_from_disk(monkeypatch):
	"""First page: the tables outgrow the pool, so read ahead. Then as the disk says: a page that read
	next to nothing from disk turns it off for the next, one that read a lot turns it back on."""
	monkeypatch.setattr(prefetch, "MIN_CONTACTS", 0)
	monkeypatch.setattr(prefetch, "POOL_SHARE", 0)
	counts = iter([0, 10, 10 + 5_000, 5_010 + 50])
	monkeypatch.setattr(prefetch, "_disk_reads", lambda: next(counts))
	ran: list[int] = []
	monkeypatch.setattr(prefetch.IndexReadAhead, "_run", lambda self, q, k: ran.append(len(k)))
	ahead = prefetch.IndexReadAhead()
	read_per_page = []
	for _ in range(4):
		before = len(ran)
		ahead.read(["cc-1"], ["a@example.com"])
		read_per_page.append(len(ran) > before)
	assert read_per_page == [True, False, True, False]
