"""Rows the sync inserts in a real site: time-ordered names, never a collision, and a stream that fails
part way resumes from its last applied page."""

from __future__ import annotations

from unittest import mock

from cc_sync.sync.config import ListMapping, SyncConfig
from cc_sync.sync.records import ContactWrite
from cc_sync.sync.streams import STREAM_CHANGES
from tests.integration.test_frappe_scenarios import GROUP, addr, make_world, one_contact


def _members(email: str) -> list[str]:
	import frappe

	return frappe.db.sql_list("select name from `tabEmail Group Member` where email = %s", email)


def test_new_rows_get_increasing_time_ordered_names_and_contacts_keep_the_person_as_title():
	from cc_sync.cc_sync.naming import is_time_ordered

	w = make_world()
	for i in range(5):
		w.emu.add_contact(addr(f"n{i}"), first_name="Same", last_name="Name", list_ids=[w.list_id])
	with w.emu.mocked():
		w.run(STREAM_CHANGES)
	contacts = [one_contact(w, addr(f"n{i}")) for i in range(5)]
	names = [c.name for c in contacts]
	assert all(is_time_ordered(n) for n in names)
	assert len(set(names)) == 5
	assert all(c.full_name == "Same Name" for c in contacts)
	members = [m for i in range(5) for m in _members(addr(f"n{i}"))]
	assert len(members) == 5 and all(is_time_ordered(m) for m in members)
	# A later page's rows sort after an earlier page's: inserts append to each table.
	w.emu.add_contact(addr("later"), first_name="Later", list_ids=[w.list_id])
	w.clock.advance(900)
	with w.emu.mocked():
		w.run(STREAM_CHANGES)
	assert one_contact(w, addr("later")).name > max(names)
	assert _members(addr("later"))[0] > max(members)


def test_a_name_already_taken_is_retried_under_a_new_one_and_nothing_is_lost():
	"""Each insert that finds its name taken (by a row some other code named) is tried again.

	Rows named `taken` sit in Contact, Contact Email and Email Group Member; the first name handed out
	for each table is that one (the old code's random child names: the first one is)."""
	import frappe

	from cc_sync.cc_sync.store import sql as store_sql

	w = make_world()
	squatter = w.site.add_contact(addr("squatter"), first_name="Squatter")
	w.site.add_member(GROUP, addr("squatter"))
	taken = "taken" + frappe.generate_hash(length=10)
	frappe.db.sql("update `tabContact` set name = %s where name = %s", (taken, squatter))
	frappe.db.sql(
		"update `tabContact Email` set name = %s, parent = %s where parent = %s", (taken, taken, squatter)
	)
	frappe.db.sql("update `tabEmail Group Member` set name = %s where email = %s", (taken, addr("squatter")))
	frappe.db.commit()
	calls: dict[str, int] = {}
	real_names = getattr(store_sql, "row_names", None)

	def names(doctype, rows, writer):
		out = real_names(doctype, rows, writer)
		calls[doctype] = calls.get(doctype, 0) + 1
		if calls[doctype] == 1:
			out[0] = taken
		return out

	real_hash = frappe.generate_hash
	first = iter([taken])

	def generate_hash(*args, **kwargs):
		return next(first, None) or real_hash(*args, **kwargs)

	for i in range(3):
		w.emu.add_contact(addr(f"c{i}"), first_name=f"C{i}", list_ids=[w.list_id])
	with (
		mock.patch.object(store_sql, "row_names", names, create=True),
		mock.patch.object(frappe, "generate_hash", generate_hash),
		w.emu.mocked(),
	):
		w.run(STREAM_CHANGES)
	for i in range(3):
		assert one_contact(w, addr(f"c{i}")).first_name == f"C{i}"
		assert w.site.member_rows(addr(f"c{i}")) == {GROUP: False}
	assert one_contact(w, addr("squatter")).name == taken
	assert w.site.member_rows(addr("squatter")) == {GROUP: False}
	assert calls == {"Contact": 2, "Contact Email": 2, "Email Group Member": 2}


def test_a_contact_insert_that_collides_is_retried_with_its_children_following_the_new_name():
	import frappe

	from cc_sync.cc_sync.store import FrappeStore
	from cc_sync.cc_sync.store import sql as store_sql

	w = make_world()
	existing = w.site.add_contact(addr("existing"), first_name="Existing")
	calls = {"n": 0}
	real_names = store_sql.row_names

	def names(doctype, rows, writer):
		out = real_names(doctype, rows, writer)
		if doctype == "Contact" and calls["n"] == 0:
			out[-1] = existing
		calls["n"] += doctype == "Contact"
		return out

	store = FrappeStore()
	with mock.patch.object(store_sql, "row_names", names):
		keys = store.apply_contacts(
			[
				ContactWrite(key=None, email=addr(f"k{i}"), opted_out=False, fields={"first_name": f"K{i}"})
				for i in range(4)
			],
			(),
		)
	store.commit()
	assert calls["n"] == 2
	assert existing not in keys and len(set(keys)) == 4
	for i, key in enumerate(keys):
		contact = one_contact(w, addr(f"k{i}"))
		assert contact.name == key
		parents = frappe.db.sql_list(
			"select parent from `tabContact Email` where email_id = %s", addr(f"k{i}")
		)
		assert parents == [key]
	assert one_contact(w, addr("existing")).name == existing


def test_an_incremental_read_that_fails_part_way_resumes_after_its_last_applied_page():
	from dataclasses import replace

	from cc_sync.sync.resume import ResumePoint, state_name

	w = make_world()
	w.engine.config = replace(
		SyncConfig(list_mappings=(ListMapping(w.list_id, GROUP, "both"),)), page_limit=10
	)
	with w.emu.mocked():
		w.engine.run([STREAM_CHANGES])
	w.clock.advance(900)
	for i in range(30):
		w.emu.add_contact(addr(f"r{i:02d}"), first_name=f"R{i}", list_ids=[w.list_id])
	w.clock.advance(60)
	real_apply = w.store.apply_contacts
	pages = {"n": 0}

	def failing_apply(writes, managed):
		pages["n"] += 1
		if pages["n"] == 2:
			raise RuntimeError("the database went away")
		return real_apply(writes, managed)

	w.store.apply_contacts = failing_apply
	with w.emu.mocked():
		failed = w.engine.run([STREAM_CHANGES])
	assert failed.streams[STREAM_CHANGES].status == "failed"
	assert ResumePoint.from_state(w.store.get_state(state_name(STREAM_CHANGES))).pages == 1
	w.store.apply_contacts = real_apply
	w.clock.advance(900)
	with w.emu.mocked():
		resumed = w.engine.run([STREAM_CHANGES])
	stream = resumed.streams[STREAM_CHANGES]
	assert stream.status == "success"
	assert stream.api_calls == 2  # pages 2 and 3 only
	assert stream.created == 20
	assert all(one_contact(w, addr(f"r{i:02d}")) for i in range(30))
	assert w.store.get_watermark(STREAM_CHANGES) == failed.started
	assert not w.store.get_state(state_name(STREAM_CHANGES))


def test_text_the_sync_writes_arrives_as_it_was_sent_whatever_it_holds():
	"""Names with quotes, backslashes, percent signs and non-Latin letters are stored as CC sent them:
	the store builds its INSERTs itself, so its escaping must match the driver's."""
	w = make_world()
	awkward = {
		"o'brien": ("O'Brien", "Back\\slash"),
		"pct": ("100% sure", "%(values)s"),
		"uni": ("Zoë 😀", "Łukasz—Ørsted"),
		"semi": ("a'); drop table `tabContact`; --", '"quoted"'),
		"ifnull": ("IFNULL(first)", "ifnull(last, 0)"),
	}
	for local, (first, last) in awkward.items():
		w.emu.add_contact(addr(local), first_name=first, last_name=last, list_ids=[w.list_id])
	with w.emu.mocked():
		w.run(STREAM_CHANGES)
	for local, (first, last) in awkward.items():
		contact = one_contact(w, addr(local))
		assert (contact.first_name, contact.last_name) == (first, last)
