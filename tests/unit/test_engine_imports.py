"""Bulk imports: confirmed by reading back, never assumed from counts or error text; edits and opt-outs
made while an import runs are not lost; an import CC forgot never blocks the others."""

from __future__ import annotations

from dataclasses import replace

import pytest

from cc_sync.sync import push
from cc_sync.sync.streams import STREAM_ACTIVITIES, STREAM_OPTOUT_PUSH, STREAM_PUSH
from tests.world import make_world

IMPORT = "/v3/activities/contacts_json_import"


def _chunked(w, size: int) -> None:
	w.config = replace(w.config, chunk_max_contacts=size)
	w.engine.config = w.config


def _lead_status(w, email: str) -> str | None:
	[lead] = [lead for lead in w.store.leads.values() if lead.email == email]
	return lead.push_status


def test_a_chunk_cc_never_queued_is_not_matched_to_the_previous_chunks_import(monkeypatch):
	"""5xx on every submit of the second chunk: equal item counts must not make it adopt the first chunk's
	import."""
	w = make_world(count_header_row=False)
	_chunked(w, 2)
	emails = [f"c{i}@example.com" for i in range(4)]
	for email in emails:
		w.store.add_lead(email, first_name="C")
	w.store.commit()
	submit = w.client.import_contacts_json
	calls = []

	def second_submit_fails(rows, list_ids):
		calls.append(len(rows))
		if len(calls) >= 2 and len(calls) <= 2 + len(push.RESUBMIT_WAITS):
			w.emu.inject("500", count=1, path_prefix=IMPORT)
		return submit(rows, list_ids)

	monkeypatch.setattr(w.client, "import_contacts_json", second_submit_fails)
	with w.emu.mocked():
		first = w.run()
		assert first.streams[STREAM_PUSH].status == "failed"
		# Nothing of the second chunk reached CC, so none of its leads may say Pushed.
		for email in emails[2:]:
			assert w.emu.find_by_email(email) is None
			assert _lead_status(w, email) != "Pushed"
		w.clock.advance(900)
		w.run()
		w.clock.advance(900)
		w.run()
	for email in emails:
		assert w.emu.find_by_email(email) is not None, f"{email} never reached CC"
		assert _lead_status(w, email) == "Pushed"


def test_a_submit_cc_answered_with_a_5xx_is_sent_again_within_the_run_and_the_log_names_it():
	"""A passing 5xx on an import's submit costs the chunk seconds, not the next run's interval."""
	w = make_world()
	w.store.add_lead("soon@example.com", first_name="S")
	w.store.commit()
	w.emu.inject("503", count=1, path_prefix=IMPORT)
	with w.emu.mocked():
		report = w.run()
	push_report = report.streams[STREAM_PUSH]
	assert push_report.status == "success"
	assert w.emu.find_by_email("soon@example.com") is not None
	assert _lead_status(w, "soon@example.com") == "Pushed"
	assert [r.call for r in push_report.retries] == [push_report.retries[0].call]
	assert "import of chunk" in push_report.retries[0].call and "503" in push_report.retries[0].answer


def test_an_interrupted_submission_waits_while_cc_runs_an_activity_that_may_be_it(monkeypatch):
	"""A read timeout after CC queued the import: settled from what CC holds once it finished, not resent."""
	w = make_world(activity_steps=3)
	w.store.add_lead("slow@example.com", first_name="S")
	w.store.commit()
	w.emu.faults.applied_before_timeout = True
	with w.emu.mocked():
		w.emu.inject("timeout", count=1, path_prefix=IMPORT)
		w.run()
		assert _lead_status(w, "slow@example.com") != "Pushed"
		w.clock.advance(900)
		w.run()  # CC's activity is still running: the record waits
		w.emu.complete_activities()
		w.clock.advance(900)
		w.run()
	assert w.emu.calls_to(IMPORT) == 1
	assert _lead_status(w, "slow@example.com") == "Pushed"


def test_an_interrupted_submission_is_waited_for_within_the_run_as_a_known_import_is():
	"""The submit's answer is lost while CC runs the import for a few seconds: the run straight after waits
	for it as it would poll a known import, and the lead is Pushed (and on the group) when it ends."""
	w = make_world(activity_steps=1_000, activity_seconds=5)
	w.store.add_lead("quick@example.com", first_name="Q")
	w.store.commit()
	w.emu.faults.applied_before_timeout = True
	with w.emu.mocked():
		w.emu.inject("timeout", count=1, path_prefix=IMPORT)
		w.run()  # stops at the lost connection
		assert _lead_status(w, "quick@example.com") != "Pushed"
		w.run()
	assert w.emu.calls_to(IMPORT) == 1
	assert _lead_status(w, "quick@example.com") == "Pushed"
	assert w.store.members.get(("Newsletter", "quick@example.com")) is False


@pytest.mark.parametrize("import_errors", ["named", "counts"])
def test_a_lead_is_pushed_only_when_cc_is_seen_holding_the_contact(import_errors):
	"""Whether or not CC's error messages name addresses, a row CC did not take is Failed, the others Pushed."""
	w = make_world(import_errors=import_errors)
	w.store.add_lead("good@example.com", first_name="G")
	# Valid for the site, refused by CC's import.
	long = "odd,name@example.com"
	w.store.add_lead(long, first_name="L")
	w.store.commit()
	with w.emu.mocked():
		w.run()
		w.clock.advance(900)
		w.run()
	assert _lead_status(w, "good@example.com") == "Pushed"
	assert _lead_status(w, long) == "Failed"
	[lead] = [lead for lead in w.store.leads.values() if lead.email == long]
	assert "does not hold" in (lead.push_error or "")
	assert (
		w.store.contact_by_email("good@example.com").cc_contact_id
		== w.emu.find_by_email("good@example.com")["contact_id"]
	)


def test_a_row_cc_silently_dropped_is_not_marked_pushed(monkeypatch):
	"""CC drops the rest of an import past 4 MB without an error: counts and errors say nothing."""
	w = make_world()
	for i in range(3):
		w.store.add_lead(f"d{i}@example.com", first_name="D")
	w.store.commit()
	submit = w.client.import_contacts_json

	def drops_the_last_row(rows, list_ids):
		activity = submit(rows[:-1], list_ids)
		return activity

	monkeypatch.setattr(w.client, "import_contacts_json", drops_the_last_row)
	with w.emu.mocked():
		w.run()  # submits, then follows the import to its end
	statuses = sorted(_lead_status(w, f"d{i}@example.com") for i in range(3))
	assert statuses == ["Failed", "Pushed", "Pushed"]


def test_a_lead_edited_while_its_import_runs_reaches_cc():
	w = make_world(activity_steps=50)
	lead = w.store.add_lead("edit@example.com", first_name="Before")
	w.store.commit()
	with w.emu.mocked():
		w.run()  # queued; the import is still processing
		w.clock.advance(60)
		w.store.edit_lead(lead, first_name="After")
		w.store.commit()
		w.clock.advance(900)
		w.run()
		w.emu.activity_steps = 1
		for _ in range(3):
			w.clock.advance(900)
			w.run()
	assert w.emu.find_by_email("edit@example.com")["first_name"] == "After"
	assert _lead_status(w, "edit@example.com") == "Pushed"


def test_an_import_older_than_ccs_retention_does_not_block_the_activities_stream():
	w = make_world(activity_steps=1_000)
	w.store.add_lead("old@example.com", first_name="Old")
	w.store.commit()
	with w.emu.mocked():
		w.run()
		assert _lead_status(w, "old@example.com") == "Queued"
		w.clock.advance(11 * 86400)  # CC forgets activities after 10 days
		w.emu.activity_steps = 1
		w.store.add_lead("new@example.com", first_name="New")
		w.store.commit()
		report = w.run()
		w.clock.advance(900)
		again = w.run()
	assert report.streams[STREAM_ACTIVITIES].status in ("success", "partial")
	assert again.streams[STREAM_ACTIVITIES].status in ("success", "partial")
	assert _lead_status(w, "new@example.com") == "Pushed"
	# The forgotten import never ran: its lead is sent again and confirmed.
	assert w.emu.find_by_email("old@example.com") is not None
	assert _lead_status(w, "old@example.com") == "Pushed"
	assert w.store.open_activities() == []


def test_a_site_optout_made_while_the_import_runs_reaches_cc_once_the_import_completes():
	w = make_world(activity_steps=50)
	w.store.add_lead("leaving@example.com", first_name="Lea")
	w.store.commit()
	with w.emu.mocked():
		w.run()  # queued; CC does not hold the contact yet
		w.store.unsubscribe_locally("leaving@example.com")
		w.store.commit()
		w.clock.advance(60)
		early = w.engine.run([STREAM_OPTOUT_PUSH])
		# Not in CC yet, but on its way: the opt-out waits for the import rather than being dropped.
		assert [o.email for o in w.store.pending_optouts()] == ["leaving@example.com"]
		assert not any("nothing to unsubscribe" in s.reason for s in early.streams[STREAM_OPTOUT_PUSH].skips)
		w.emu.activity_steps = 1
		for _ in range(3):
			w.clock.advance(900)
			w.run()
	contact = w.emu.find_by_email("leaving@example.com")
	assert contact is not None
	assert contact["email_address"]["permission_to_send"] == "unsubscribed"
	assert w.store.pending_optouts() == []


def test_read_backs_grow_with_the_leads_not_their_square():
	"""Each import reads back only its own window; the old follow-up read every contact created since
	the import's submit, so the tenth import of a push read ten chunks' worth."""
	w = make_world(rate_limit=None)
	w.config = replace(w.config, chunk_max_contacts=10, page_limit=5)
	w.engine.config = w.config
	for i in range(100):
		w.store.add_lead(f"g{i:03d}@example.com", first_name="G")
	w.store.commit()
	with w.emu.mocked():
		w.engine.run(("optout_push", "activities", STREAM_PUSH))
	imports = w.emu.calls_to(IMPORT)
	read_backs = sum(
		1
		for method, path, query in w.emu.call_log
		if method == "GET" and path == "/v3/contacts" and ("created_after" in query or "cursor" in query)
	)
	assert imports == 10
	assert all(lead.push_status == "Pushed" for lead in w.store.leads.values())
	# Its own 10 rows are 2 pages; at most the previous import's rows share its window.
	assert read_backs <= imports * 4, read_backs


def test_the_push_says_how_many_of_its_leads_it_has_handed_to_cc():
	"""The push says "X of N": N is the leads this run sends (opted-out ones are not), X grows per chunk."""
	w = make_world()
	_chunked(w, 2)
	for i in range(5):
		w.store.add_lead(f"p{i}@example.com", first_name="P")
	w.store.add_lead("gone@example.com", first_name="Gone", unsubscribed=True)
	w.store.commit()
	said = []
	w.engine.on_progress = lambda stream, done, total: said.append((stream, done, total))
	with w.emu.mocked():
		w.run()
	assert said == [(STREAM_PUSH, n, 5) for n in (0, 2, 4, 5)]
	with w.emu.mocked():
		w.clock.advance(900)
		said.clear()
		w.run()
	assert said == [], "a run with nothing to send says nothing about sending"


def test_a_dry_run_push_names_the_first_addresses_of_each_chunk_it_would_import():
	w = make_world()
	for i in range(7):
		w.store.add_lead(f"d{i}@example.com", first_name="D")
	w.store.commit()
	with w.emu.mocked():
		report = w.run(dry_run=True)
	[line] = report.streams[STREAM_PUSH].plan
	assert line["contacts"] == 7 and len(line["emails"]) == 5
	assert report.streams[STREAM_PUSH].pushed == 7, "a dry run counts what it would send, as the pulls do"
	assert set(line["emails"]) <= {f"d{i}@example.com" for i in range(7)}


def test_a_lead_sent_and_confirmed_in_one_run_is_counted_once():
	"""The push counts what it sent; the read-back of that same import in the same run adds nothing."""
	w = make_world()
	w.store.add_lead("once@example.com", first_name="Once")
	w.store.commit()
	with w.emu.mocked():
		report = w.run()
	assert _lead_status(w, "once@example.com") == "Pushed", "confirmed in the same run"
	assert report.totals()["pushed"] == 1
