"""Pushes and deletes on the real Frappe store: the push job reads deletes first, an import is confirmed
by reading back, an edit made while an import runs is pushed again, and an import CC forgot never blocks."""

from __future__ import annotations

import time
from datetime import datetime, timezone

from cc_sync.sync.streams import STREAM_ACTIVITIES, STREAM_DELETES, STREAM_PUSH
from tests.integration.test_frappe_scenarios import addr, make_world

PUSH_JOB = ("optout_push", "activities", STREAM_PUSH)


def _catch_up_with(clock) -> None:
	"""Lead.modified is the site's real time: let it pass the fake clock, so an edit is seen as later."""
	ahead = (clock.now() - datetime.now(timezone.utc)).total_seconds()
	assert ahead < 30, "the fake clock must not run far ahead of the site's before an edit"
	if ahead > -1:
		time.sleep(ahead + 1.1)


def test_the_push_job_reads_deletes_first_so_an_edited_lead_never_revives_a_cc_delete():
	w = make_world()
	cc_id = w.emu.add_contact(addr("gone"), first_name="Gone", list_ids=[w.list_id])
	lead = w.site.add_lead(addr("gone"), first_name="Gone")
	with w.emu.mocked():
		w.run()
		w.emu.delete_contact(cc_id)  # moves no updated_at
		_catch_up_with(w.clock)
		w.site.edit_lead(lead, first_name="Edited")
		w.clock.advance(600)
		report = w.engine.run(PUSH_JOB)
	assert report.streams[STREAM_DELETES].status == "success"
	assert w.emu.get(cc_id).get("deleted_at"), "the push revived a contact CC deleted"
	assert w.site.contacts(addr("gone"))[0].cc_deleted


def test_a_lead_edited_while_its_import_runs_reaches_cc():
	w = make_world()
	w.emu.activity_steps = 50
	lead = w.site.add_lead(addr("editing"), first_name="Before")
	with w.emu.mocked():
		w.run()
		assert w.site.lead(lead).cc_push_status == "Queued"
		_catch_up_with(w.clock)
		w.site.edit_lead(lead, first_name="After")
		w.clock.advance(900)
		w.run()
		w.emu.activity_steps = 1
		for _ in range(3):
			w.clock.advance(900)
			w.run()
	assert w.emu.find_by_email(addr("editing"))["first_name"] == "After"
	assert w.site.lead(lead).cc_push_status == "Pushed"


def test_an_import_cc_forgot_is_settled_and_never_blocks_the_activities_stream():
	w = make_world()
	w.emu.activity_steps = 1_000
	old = w.site.add_lead(addr("forgotten"), first_name="Old")
	with w.emu.mocked():
		w.run()
		assert w.site.lead(old).cc_push_status == "Queued"
		w.clock.advance(11 * 86400)  # CC keeps activities for 10 days
		w.emu.activity_steps = 1
		report = w.run()
		w.clock.advance(900)
		w.run()
	assert report.streams[STREAM_ACTIVITIES].status in ("success", "partial")
	assert w.emu.find_by_email(addr("forgotten")) is not None
	assert w.site.lead(old).cc_push_status == "Pushed"


def test_push_candidates_page_through_leads_that_share_a_modified_time_each_once(monkeypatch):
	"""Candidates are read a page at a time from where the last page ended (not by offset, which re-reads
	every earlier row): leads saved in the same instant, across page ends, each come once and in order."""
	import frappe

	from cc_sync.cc_sync.store import push as store_push

	w = make_world()
	monkeypatch.setattr(store_push, "PUSH_PAGE", 7)
	leads = [w.site.add_lead(addr(f"page{i:02d}"), first_name=f"P{i}") for i in range(23)]
	frappe.db.sql(
		"update `tabLead` set modified = %s where name in %s",
		("2031-01-01 10:00:00.000000", tuple(leads[:15])),
	)
	frappe.db.commit()
	w.store.push.targets = [("Lead", [["Lead", "name", "in", leads]], None)]
	keys = [c.key for c in w.store.push_candidates(None)]
	assert sorted(keys) == sorted(leads) and len(keys) == len(set(keys))
	same_instant = sorted(leads[:15])
	assert keys[-15:] == same_instant  # the latest modified last, ties by name
