"""The engine end to end in-process: emulator ⇄ client ⇄ engine ⇄ in-memory store."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from cc_sync.constant_contact.errors import ServerError
from cc_sync.sync.streams import STREAM_CHANGES, STREAM_DELETES, STREAM_OPTOUTS, STREAM_PUSH, STREAM_RECONCILE
from tests.world import make_world


def utc(*args):
	return datetime(*args, tzinfo=timezone.utc)


def test_the_seeds_case_ends_unsubscribed_on_the_site():
	"""updated_at 2023-01-30T18:04:55Z, unsubscribed at 2024-06-08T01:31:05Z, last sync 2024-06-01T01:31:05Z."""
	w = make_world(utc(2024, 5, 31, 9, 0, 0))
	cc_id = w.emu.add_contact(
		"abc@example.com",
		first_name="Abc",
		list_ids=[w.list_id],
		created_at="2023-01-30T18:04:55Z",
		updated_at="2023-01-30T18:04:55Z",
	)
	w.clock.set(utc(2024, 6, 1, 1, 31, 5))
	with w.emu.mocked():
		w.run(STREAM_CHANGES, STREAM_OPTOUTS)
	# what the site knew at the last sync
	contact = w.store.contact_by_email("abc@example.com")
	assert contact is not None and not contact.unsubscribed
	w.store.watermarks[STREAM_CHANGES] = utc(2024, 6, 1, 1, 31, 5)
	w.store.watermarks[STREAM_OPTOUTS] = utc(2024, 6, 1, 1, 31, 5)

	w.clock.set(utc(2024, 6, 8, 1, 31, 5))
	w.emu.unsubscribe(cc_id)
	resource = w.emu.get(cc_id)
	assert resource["updated_at"] == "2023-01-30T18:04:55Z"
	assert resource["email_address"]["updated_at"] == "2024-06-08T01:31:05Z"

	w.clock.advance(3600)
	with w.emu.mocked():
		changes_only = w.engine.run([STREAM_CHANGES])
		# The trap: updated_after alone does not see it.
		assert changes_only.streams[STREAM_CHANGES].fetched == 0
		assert not w.store.contact_by_email("abc@example.com").unsubscribed
		report = w.engine.run([STREAM_OPTOUTS])
	contact = w.store.contact_by_email("abc@example.com")
	assert contact.unsubscribed is True
	assert contact.opted_out_at == utc(2024, 6, 8, 1, 31, 5)
	assert w.store.members[("Newsletter", "abc@example.com")] is True
	assert report.streams[STREAM_OPTOUTS].unsubscribed == 1


def test_first_pull_creates_contacts_with_groups_and_a_rerun_writes_nothing():
	w = make_world()
	for i in range(7):
		w.emu.add_contact(f"p{i}@example.com", first_name=f"P{i}", list_ids=[w.list_id] if i % 2 else [])
	with w.emu.mocked():
		first = w.run()
		writes_after_first = w.store.writes
		w.clock.advance(900)
		second = w.run()
	assert first.streams[STREAM_CHANGES].created == 7
	assert len(w.store.contacts) == 7
	assert {e for (_g, e) in w.store.members} == {"p1@example.com", "p3@example.com", "p5@example.com"}
	assert second.streams[STREAM_CHANGES].created == 0
	assert w.store.writes == writes_after_first
	assert len(w.store.contacts) == 7


def test_an_unchanged_incremental_run_costs_one_call_per_stream():
	w = make_world()
	for i in range(30):
		w.emu.add_contact(f"q{i}@example.com")
	streams = (STREAM_OPTOUTS, STREAM_DELETES, STREAM_CHANGES)
	with w.emu.mocked():
		w.engine.run(streams)
		w.clock.advance(900)
		report = w.engine.run(streams)
	assert {name: report.streams[name].api_calls for name in streams} == dict.fromkeys(streams, 1)


def test_watermark_moves_only_after_the_whole_stream_and_stays_on_failure():
	"""Pages of 5: a run that applies its first page and then fails keeps the old watermark."""
	w = make_world()
	for i in range(12):
		w.emu.add_contact(f"r{i}@example.com")
	w.config = w.engine.config = replace(w.config, page_limit=5)
	with w.emu.mocked():
		w.engine.run([STREAM_CHANGES])
	assert len(w.store.contacts) == 12, "the first run read three pages"
	before = w.store.get_watermark(STREAM_CHANGES)
	w.clock.advance(600)
	for i in range(7):
		w.emu.edit_contact(w.emu.find_by_email(f"r{i}@example.com")["contact_id"], first_name=f"Changed{i}")

	# CC fails every request after the first page of the second run has been applied.
	pages = []
	apply_contacts = w.store.apply_contacts

	def apply_then_break(*args, **kwargs):
		result = apply_contacts(*args, **kwargs)
		pages.append(1)
		if len(pages) == 1:
			w.emu.inject("500", count=50)
		return result

	w.store.apply_contacts = apply_then_break
	with w.emu.mocked():
		report = w.engine.run([STREAM_CHANGES])
	assert len(pages) == 1, "the failure came after one page was applied, before the next"
	assert report.streams[STREAM_CHANGES].status == "failed"
	assert w.store.get_watermark(STREAM_CHANGES) == before

	w.store.apply_contacts = apply_contacts
	w.emu.faults.clear()
	with w.emu.mocked():
		w.engine.run([STREAM_CHANGES])
	names = {w.store.contact_by_email(f"r{i}@example.com").fields["first_name"] for i in range(7)}
	assert names == {f"Changed{i}" for i in range(7)}
	assert w.store.get_watermark(STREAM_CHANGES) > before


def test_cc_delete_is_marked_on_site_and_never_revived_or_pushed():
	w = make_world()
	cc_id = w.emu.add_contact("gone@example.com", list_ids=[w.list_id])
	with w.emu.mocked():
		w.run()
		w.emu.delete_contact(cc_id)
		w.clock.advance(900)
		report = w.run()
		w.store.add_lead("gone@example.com", first_name="Gone")
		w.clock.advance(900)
		w.run()
	# Seen by whichever pull reads it first (the changes pull too, while its overlap window covers it).
	assert report.streams[STREAM_CHANGES].deleted + report.streams[STREAM_DELETES].deleted == 1
	contact = w.store.contact_by_email("gone@example.com")
	assert contact.cc_deleted is True
	assert w.emu.get(cc_id).get("deleted_at")  # still deleted in CC
	assert w.emu.calls_to("/v3/activities/contacts_json_import") == 0


def test_local_unsubscribe_reaches_cc_with_a_read_modify_write():
	w = make_world()
	cc_id = w.emu.add_contact("leave@example.com", first_name="Lea", last_name="Ve", job_title="CFO")
	with w.emu.mocked():
		w.run()
		w.store.unsubscribe_locally("leave@example.com", by_person=True)
		w.clock.advance(60)
		report = w.run()
	resource = w.emu.get(cc_id)
	assert resource["email_address"]["permission_to_send"] == "unsubscribed"
	assert resource["email_address"]["opt_out_source"] == "Contact"
	# the PUT kept every core field CC would otherwise null
	assert (resource["first_name"], resource["last_name"], resource["job_title"]) == ("Lea", "Ve", "CFO")
	assert w.store.pending_optouts() == []
	assert report.streams["optout_push"].unsubscribed == 1


def test_explicit_reoptin_in_cc_after_the_optout_resubscribes_the_site_and_nothing_else_does():
	w = make_world()
	cc_id = w.emu.add_contact("back@example.com", list_ids=[w.list_id])
	with w.emu.mocked():
		w.run()
		w.clock.advance(60)
		w.emu.unsubscribe(cc_id)
		w.clock.advance(60)
		w.run()
		assert w.store.contact_by_email("back@example.com").unsubscribed
		# an account-side edit is not consent
		w.emu.edit_contact(cc_id, first_name="Still")
		w.clock.advance(60)
		w.run()
		assert w.store.contact_by_email("back@example.com").unsubscribed
		w.emu.opt_in(cc_id)
		w.clock.advance(60)
		w.run(STREAM_RECONCILE)
	assert not w.store.contact_by_email("back@example.com").unsubscribed


def test_push_skips_unsubscribed_and_invalid_emails_imports_the_rest_and_links_cc_ids():
	w = make_world()
	out_id = w.emu.add_contact("out@example.com")
	w.emu.unsubscribe(out_id)
	w.store.add_lead("new1@example.com", first_name="New", last_name="One", company_name="Acme")
	w.store.add_lead("NEW2@example.com ", first_name="New2")
	w.store.add_lead("out@example.com", first_name="Out")
	w.store.add_lead("not-an-email", first_name="Bad")
	w.store.add_lead(None, first_name="Nomail")
	w.store.commit()
	with w.emu.mocked():
		report = w.run()
	push = report.streams[STREAM_PUSH]
	assert push.status == "success", push.error
	reasons = {note.email: note.reason for note in push.skips}
	assert "opted out" in reasons["out@example.com"]
	assert "invalid email" in reasons["not-an-email"]
	assert "missing email" in reasons[None]
	new1 = w.emu.find_by_email("new1@example.com")
	assert new1["email_address"]["permission_to_send"] == "implicit"
	assert new1["company_name"] == "Acme"
	assert w.list_id in new1["list_memberships"]
	assert w.emu.find_by_email("out@example.com")["email_address"]["permission_to_send"] == "unsubscribed"
	leads = {lead.email.strip().lower() if lead.email else None: lead for lead in w.store.leads.values()}
	assert leads["new1@example.com"].push_status == "Pushed"
	assert leads["new1@example.com"].cc_contact_id == new1["contact_id"]
	assert leads["new2@example.com"].cc_contact_id == w.emu.find_by_email("new2@example.com")["contact_id"]
	assert leads["out@example.com"].push_status == "Skipped"
	assert w.emu.calls_to("/v3/contacts/sign_up_form") == 0


def test_push_waits_for_successful_optout_and_changes_pulls_in_the_same_run():
	w = make_world()
	w.store.add_lead("wait@example.com")
	w.store.commit()
	w.emu.inject("500", count=50, path_prefix="/v3/contacts")
	with w.emu.mocked():
		report = w.engine.run([STREAM_PUSH])
	assert report.streams[STREAM_OPTOUTS].status == "failed"
	assert report.streams[STREAM_PUSH].status == "skipped"
	assert w.emu.calls_to("/v3/activities/contacts_json_import") == 0


def test_quota_exceeded_stops_the_run_cleanly_with_the_reset_time():
	w = make_world(daily_quota=2)
	for i in range(3):
		w.emu.add_contact(f"s{i}@example.com")
	with w.emu.mocked():
		report = w.run()
	assert report.stopped_by and "quota" in report.stopped_by
	assert any(s.status == "skipped" for s in report.streams.values())


def test_dry_run_returns_the_plan_and_writes_nothing_on_either_side():
	w = make_world()
	w.emu.add_contact("dry@example.com", first_name="Dry")
	w.store.add_lead("lead@example.com")
	w.store.commit()
	before = w.emu.snapshot()
	# Only the Contact the Lead made for itself (as ERPNext's does).
	contacts = {k: (c.email, c.cc_contact_id, c.unsubscribed) for k, c in w.store.contacts.items()}
	assert [email for email, _, _ in contacts.values()] == ["lead@example.com"]
	with w.emu.mocked():
		report = w.run(dry_run=True)
	assert {k: (c.email, c.cc_contact_id, c.unsubscribed) for k, c in w.store.contacts.items()} == contacts
	assert w.store.watermarks == {}
	assert w.emu.snapshot() == before
	assert any(line["email"] == "dry@example.com" for line in report.streams[STREAM_CHANGES].plan)
	assert report.streams[STREAM_PUSH].plan[0]["contacts"] == 1


def test_an_activity_still_running_is_polled_next_run_and_never_imported_twice():
	w = make_world(activity_steps=50)
	w.store.add_lead("slow@example.com")
	w.store.commit()
	with w.emu.mocked():
		w.run()
		assert w.emu.calls_to("/v3/activities/contacts_json_import") == 1
		assert w.store.leads[next(iter(w.store.leads))].push_status == "Queued"
		w.emu.activity_steps = 1
		w.clock.advance(900)
		w.run()
	assert w.emu.calls_to("/v3/activities/contacts_json_import") == 1
	assert w.store.leads[next(iter(w.store.leads))].push_status == "Pushed"


@pytest.mark.parametrize("size", [1, 7, 23])
def test_push_chunks_respect_the_configured_size(size):
	from cc_sync.sync.push import plan_chunks

	rows = [([f"L{i}"], {"email": f"c{i}@example.com", "first_name": "x" * 40}) for i in range(50)]
	chunks = list(plan_chunks(rows, size, 3_500_000))
	assert all(len(c.rows) <= size for c in chunks)
	assert sum(len(c.rows) for c in chunks) == 50
	by_bytes = list(plan_chunks(rows, 40_000, 1_000))
	assert all(c.size <= 1_000 for c in by_bytes)
	assert sum(len(c.rows) for c in by_bytes) == 50


def test_two_leads_with_one_email_send_one_row():
	w = make_world()
	a = w.store.add_lead("twin@example.com", first_name="A")
	b = w.store.add_lead("Twin@Example.com", first_name="B")
	w.store.commit()
	with w.emu.mocked():
		w.run()
	[activity] = w.emu.activities
	assert activity["status"]["items_total_count"] in (1, None) or activity["status"].get("person_count") == 1
	assert w.store.leads[a].push_status == w.store.leads[b].push_status == "Pushed"


def test_reconcile_repairs_list_edits_made_in_cc_screens():
	w = make_world()
	cc_id = w.emu.add_contact("list@example.com")
	with w.emu.mocked():
		w.run()
		w.clock.advance(3600)
		w.run()  # the watermark's overlap window is now past the contact's updated_at
		assert ("Newsletter", "list@example.com") not in w.store.members
		w.emu.add_to_list(cc_id, w.list_id)  # does not move updated_at
		w.clock.advance(900)
		w.run()
		assert ("Newsletter", "list@example.com") not in w.store.members
		report = w.run(STREAM_RECONCILE)
	assert report.streams[STREAM_RECONCILE].corrected == 1
	assert w.store.members[("Newsletter", "list@example.com")] is False


def test_an_unknown_permission_value_is_kept_and_reported_without_stopping_the_run():
	w = make_world()
	cc_id = w.emu.add_contact("odd@example.com")
	w.emu.add_contact("fine@example.com")
	w.emu._need(cc_id)["permission"] = "pending_something_new"
	with w.emu.mocked():
		report = w.run(STREAM_CHANGES)
	changes = report.streams[STREAM_CHANGES]
	assert changes.status == "success"
	assert changes.created == 2
	assert any("unknown permission_to_send" in n.reason for n in changes.warnings)


def test_sync_email_pulls_pushes_and_reports_cc_view():
	w = make_world()
	cc_id = w.emu.add_contact("one@example.com")
	w.emu.unsubscribe(cc_id)
	w.store.add_lead("two@example.com", first_name="Two")
	w.store.commit()
	with w.emu.mocked():
		first = w.engine.sync_email("ONE@example.com")
		second = w.engine.sync_email("two@example.com")
		missing = w.engine.cc_view("nobody@example.com")
	assert first["cc"]["state"] == "unsubscribed"
	assert w.store.contact_by_email("one@example.com").unsubscribed
	assert second["cc"]["state"] == "subscribed"
	assert missing == {"state": "not in CC", "sendable": False}
	assert timedelta(0) <= w.clock.now() - w.clock.now()


def test_push_is_skipped_when_the_changes_pull_fails_so_cc_owned_fields_are_never_overwritten():
	w = make_world()
	w.emu.add_contact("known@example.com", first_name="FromCC")
	w.store.add_lead("known@example.com", first_name="FromSite")
	w.store.commit()
	real_pages = w.client.iter_contact_pages

	def changes_pull_fails(**query):
		if query.get("status") == "all" and "optout_after" not in query and "created_after" not in query:
			raise ServerError(503, None, "Service Unavailable")
		return real_pages(**query)

	w.client.iter_contact_pages = changes_pull_fails
	with w.emu.mocked():
		report = w.engine.run([STREAM_PUSH])
	w.client.iter_contact_pages = real_pages
	assert report.streams[STREAM_PUSH].status == "skipped"
	assert "changes" in report.streams[STREAM_PUSH].error
	with w.emu.mocked():
		w.clock.advance(900)
		w.engine.run([STREAM_PUSH])
	assert w.emu.find_by_email("known@example.com")["first_name"] == "FromCC"


def test_a_lead_whose_address_cc_deleted_before_any_sync_is_never_pushed_back():
	w = make_world()
	cc_id = w.emu.add_contact("removed@example.com", first_name="Removed")
	w.emu.delete_contact(cc_id)
	w.store.add_lead("removed@example.com", first_name="Lead")
	w.store.commit()
	with w.emu.mocked():
		report = w.run()
	assert w.store.contact_by_email("removed@example.com").cc_deleted
	assert report.streams[STREAM_PUSH].skipped == 1
	assert w.emu.get(cc_id).get("deleted_at")  # not revived by an import
	assert w.emu.calls_to("/v3/activities/contacts_json_import") == 0


def test_an_optout_for_a_contact_deleted_in_cc_neither_revives_it_nor_blocks_the_others():
	w = make_world()
	gone = w.emu.add_contact("gone2@example.com")
	w.emu.add_contact("stay@example.com")
	w.emu.delete_contact(gone)
	w.store.unsubscribe_locally("gone2@example.com", by_person=True)
	w.store.unsubscribe_locally("stay@example.com")
	w.store.commit()
	with w.emu.mocked():
		report = w.run()
	assert report.streams["optout_push"].status == "success"
	assert w.emu.get(gone).get("deleted_at")  # still deleted, not revived by a PUT
	assert w.emu.find_by_email("stay@example.com")["email_address"]["permission_to_send"] == "unsubscribed"
	assert w.store.pending_optouts() == []


def test_a_lead_for_someone_cc_holds_adds_them_to_no_list():
	"""Item 8: which lists a pushed row carries is decided per person; someone CC holds is never put back
	on a list they left, seen by the site or not."""
	w = make_world()
	seen = w.emu.add_contact("seen@example.com", first_name="Seen", list_ids=[w.list_id])
	unseen = w.emu.add_contact("unseen@example.com", first_name="Unseen", list_ids=[w.list_id])
	with w.emu.mocked():
		w.run()
		assert w.store.members[("Newsletter", "seen@example.com")] is False
		w.clock.advance(3600)
		w.emu.remove_from_list(seen, w.list_id)  # the person leaves the list in CC
		w.run("reconcile")  # the site sees it: the row stays, unsubscribed
		w.emu.remove_from_list(unseen, w.list_id)  # the account owner removes them; no pull sees it
		w.store.add_lead("seen@example.com", first_name="Lead")
		w.store.add_lead("unseen@example.com", first_name="Lead")
		w.store.add_lead("new@example.com", first_name="New")
		w.store.commit()
		w.clock.advance(900)
		w.run()
		w.emu.complete_activities()
		w.clock.advance(900)
		w.run()
	assert w.list_id not in w.emu.find_by_email("seen@example.com")["list_memberships"]
	assert w.list_id not in w.emu.find_by_email("unseen@example.com")["list_memberships"]
	assert w.store.members[("Newsletter", "seen@example.com")] is True
	assert w.list_id in w.emu.find_by_email("new@example.com")["list_memberships"]
	assert {lead.push_status for lead in w.store.leads.values()} == {"Pushed"}


def test_an_optout_made_after_a_cc_reoptin_wins_over_it():
	w = make_world()
	cc_id = w.emu.add_contact("again@example.com")
	with w.emu.mocked():
		w.run()
	w.store.unsubscribe_locally("again@example.com")
	w.clock.advance(60)
	w.emu.opt_in(cc_id)  # before any sync saw the first opt-out
	w.clock.advance(60)
	w.store.unsubscribe_locally("again@example.com")  # the person opts out once more, here
	w.store.commit()
	w.clock.advance(60)
	with w.emu.mocked():
		w.run()
	assert w.emu.get(cc_id)["email_address"]["permission_to_send"] == "unsubscribed"
	assert w.store.contact_by_email("again@example.com").unsubscribed


def test_a_cc_delete_takes_the_contact_out_of_the_mapped_email_group():
	w = make_world()
	cc_id = w.emu.add_contact("member@example.com", list_ids=[w.list_id])
	with w.emu.mocked():
		w.run()
		assert ("Newsletter", "member@example.com") in w.store.members
		w.clock.advance(3600)
		w.run()  # past the overlap window: only the deletes stream can tell
		w.emu.delete_contact(cc_id)
		w.clock.advance(900)
		w.run("deletes")
	assert ("Newsletter", "member@example.com") not in w.store.members


def test_an_unreachable_cc_stops_the_run_with_a_plain_message_and_no_spent_calls():
	w = make_world()
	w.emu.add_contact("away@example.com")
	w.emu.inject("connect_timeout", count=100)
	with w.emu.mocked():
		report = w.run()
	first = report.streams[STREAM_OPTOUTS]
	assert first.status == "failed"
	assert (
		first.error == "Constant Contact could not be reached; nothing was changed; the next run will retry"
	)
	assert "connect" in (first.traceback or "")
	assert report.stopped_by == first.error
	assert all(s.status == "skipped" for s in report.streams.values() if s is not first)
	assert report.api_calls == 0 and w.client.calls == 0
	assert w.store.contact_by_email("away@example.com") is None
