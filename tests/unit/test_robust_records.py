"""One odd record never stops the others: CC pages are read per contact, opt-outs are pushed per record."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cc_sync.constant_contact.models import ContactPage, parse_contact
from cc_sync.sync.streams import STREAM_CHANGES, STREAM_OPTOUT_PUSH, STREAM_OPTOUTS, STREAM_PUSH
from tests.world import make_world

ODD_RECORDS = {
	"bool-cf@example.com": {"custom_fields": [{"custom_field_id": "cf-1", "value": True}]},
	"object-cf@example.com": {"custom_fields": [{"custom_field_id": "cf-1", "value": {"a": 1}}]},
	"list-cf@example.com": {"custom_fields": [{"custom_field_id": "cf-1", "value": ["a", "b"]}]},
	"null-address@example.com": {"street_addresses": [None]},
	"string-notes@example.com": {"notes": "called on Monday"},
}


def test_odd_subresources_are_left_out_and_the_contact_still_reads():
	for email, odd in ODD_RECORDS.items():
		raw = {
			"contact_id": "id-1",
			"email_address": {"address": email, "permission_to_send": "unsubscribed"},
			"first_name": "Ann",
			**odd,
		}
		contact, problem = parse_contact(raw)
		assert contact is not None, email
		assert contact.email_address.permission_to_send == "unsubscribed"
		assert contact.first_name == "Ann"
		if email == "bool-cf@example.com":
			# A boolean custom field is a value, kept as text.
			assert problem is None
			assert contact.custom_fields[0].value == "true"
		else:
			assert problem is not None and not problem.skipped
			assert problem.contact_id == "id-1" and problem.email == email
			assert email in problem.snippet


@pytest.mark.parametrize(
	"raw, why",
	[
		({"contact_id": "id-2", "email_address": "odd@example.com"}, "email_address"),
		(
			{"contact_id": "id-3", "email_address": {"address": "x@example.com"}, "first_name": {"a": 1}},
			"first_name",
		),
		(None, "not a JSON object"),
		("text", "not a JSON object"),
	],
)
def test_a_record_that_cannot_be_read_is_skipped_with_reason_and_snippet(raw, why):
	contact, problem = parse_contact(raw)
	assert contact is None
	assert problem.skipped and why in problem.reason
	assert problem.snippet


def test_a_page_keeps_every_readable_contact():
	page = ContactPage.model_validate(
		{
			"contacts": [
				{"contact_id": "a", "email_address": "a@example.com"},
				{
					"contact_id": "b",
					"email_address": {"address": "b@example.com"},
					"street_addresses": [None],
				},
				{"contact_id": "c", "email_address": {"address": "c@example.com"}},
			],
			"_links": {"next": {"href": "/v3/contacts?cursor=x"}},
		}
	)
	assert [c.contact_id for c in page.contacts] == ["b", "c"]
	assert [(p.contact_id, p.skipped) for p in page.problems] == [("a", True), ("b", False)]
	assert page.next_href == "/v3/contacts?cursor=x"


def _world_with_odd_opt_outs():
	w = make_world()
	w.emu.create_custom_field("Score", "score")
	ids = {}
	for email in [*ODD_RECORDS, "string-email@example.com", "plain@example.com"]:
		ids[email] = w.emu.add_contact(email, first_name="P", list_ids=[w.list_id])
	with w.emu.mocked():
		w.run()
	w.clock.advance(900)
	for cc_id in ids.values():
		w.emu.unsubscribe(cc_id)
	for email, odd in ODD_RECORDS.items():
		w.emu.malform(ids[email], **odd)
	w.emu.malform(ids["string-email@example.com"], email_address="string-email@example.com")
	w.clock.advance(60)
	return w, ids


def test_one_odd_record_does_not_stop_the_opt_out_stream_or_the_push():
	w, _ids = _world_with_odd_opt_outs()
	w.store.add_lead("new-lead@example.com", first_name="New")
	with w.emu.mocked():
		report = w.run()
	optouts = report.streams[STREAM_OPTOUTS]
	assert optouts.status == "success", optouts.error
	# Every opt-out that can be read reaches the site, the odd-but-readable ones included.
	for email in [*ODD_RECORDS, "plain@example.com"]:
		assert w.store.contact_by_email(email).unsubscribed, email
	# The unreadable one is skipped and logged with its reason and what CC sent.
	[skip] = [s for s in optouts.skips if "cannot be read" in s.reason]
	assert skip.email == "string-email@example.com"
	assert "email_address" in skip.reason and '"email_address":"string-email@example.com"' in skip.reason
	warned = {n.email for n in optouts.warnings if "Raw:" in n.reason}
	assert warned == set(ODD_RECORDS) - {"bool-cf@example.com"}
	assert w.store.get_watermark(STREAM_OPTOUTS) is not None
	# ... and the push, which needs this run's opt-out and changes pulls, still runs.
	assert report.streams[STREAM_CHANGES].status == "success"
	assert report.streams[STREAM_PUSH].status == "success"
	assert report.streams[STREAM_PUSH].pushed == 1


def test_sync_now_never_imports_a_person_cc_sent_unreadably():
	w, _ids = _world_with_odd_opt_outs()
	w.store.add_lead("string-email@example.com", first_name="Again")
	with w.emu.mocked():
		result = w.engine.sync_email("string-email@example.com")
	report = result["report"]
	assert STREAM_PUSH not in report.streams
	assert any("cannot be read" in s.reason for s in report.stream(STREAM_CHANGES).skips)
	assert report.stream(STREAM_OPTOUT_PUSH).status in ("success", "pending")


# ---------------------------------------------------------------- opt-out push, one record at a time


def _world_with_site_optouts(*emails):
	"""Contacts known to both sides, then opted out on the site one minute apart (oldest first)."""
	w = make_world()
	ids = {email: w.emu.add_contact(email, list_ids=[w.list_id]) for email in emails}
	with w.emu.mocked():
		w.run()
	for email in emails:
		w.clock.advance(60)
		w.store.unsubscribe_locally(email)
		w.store.commit()
	return w, ids


def _cc_permission(w, cc_id):
	return w.emu.get(cc_id)["email_address"]["permission_to_send"]


def test_a_5xx_on_one_optout_does_not_hold_up_the_later_ones_and_it_is_retried_with_backoff():
	w, ids = _world_with_site_optouts("first@example.com", "second@example.com", "third@example.com")
	first = ids["first@example.com"]
	w.emu.inject("500", count=1000, path_prefix=f"/v3/contacts/{first}")
	started = w.clock.now()
	with w.emu.mocked():
		report = w.run(STREAM_OPTOUT_PUSH)
	stream = report.streams[STREAM_OPTOUT_PUSH]
	assert stream.status == "partial"
	assert _cc_permission(w, ids["second@example.com"]) == "unsubscribed"
	assert _cc_permission(w, ids["third@example.com"]) == "unsubscribed"
	assert _cc_permission(w, first) != "unsubscribed"
	# Tried again within the run, about a minute of waits in all, before it waits for a later run.
	own = [r for r in stream.retries if r.call == "opt-out of first@example.com"]
	assert [r.waited for r in own] == [5.0, 15.0, 40.0] and all("HTTP 500" in r.answer for r in own)
	assert w.clock.now() - started < timedelta(minutes=4)
	[error] = stream.errors
	assert error.email == "first@example.com" and "HTTP 500" in error.reason and "attempt 1" in error.reason
	[pending] = w.store.pending_optouts()
	assert pending.email == "first@example.com" and pending.attempts == 1
	assert pending.retry_at == w.clock.now() + timedelta(minutes=1)
	assert "HTTP 500" in pending.last_error

	# Before its retry time it is left alone: no call to CC for it.
	w.clock.advance(30)
	calls = w.emu.calls
	with w.emu.mocked():
		report = w.run(STREAM_OPTOUT_PUSH)
	assert w.emu.calls == calls
	assert report.streams[STREAM_OPTOUT_PUSH].failed == 0
	assert "waiting to retry" in report.streams[STREAM_OPTOUT_PUSH].warnings[0].reason

	# Due again and still failing: the wait doubles.
	w.clock.advance(31)
	with w.emu.mocked():
		w.run(STREAM_OPTOUT_PUSH)
	[pending] = w.store.pending_optouts()
	assert pending.attempts == 2 and pending.retry_at == w.clock.now() + timedelta(minutes=2)

	# CC answers again: the opt-out reaches it at its next turn.
	w.emu.faults.clear()
	w.clock.advance(2 * 60 + 1)
	with w.emu.mocked():
		report = w.run(STREAM_OPTOUT_PUSH)
	assert report.streams[STREAM_OPTOUT_PUSH].unsubscribed == 1
	assert _cc_permission(w, first) == "unsubscribed"
	assert w.store.pending_optouts() == []


def test_an_sms_only_contact_in_cc_does_not_hold_up_the_later_optouts():
	w, ids = _world_with_site_optouts("sms@example.com", "after@example.com")
	# CC now sends the first person without an email address (SMS-only).
	w.emu.malform(ids["sms@example.com"], email_address=None)
	with w.emu.mocked():
		report = w.run(STREAM_OPTOUT_PUSH)
	stream = report.streams[STREAM_OPTOUT_PUSH]
	assert _cc_permission(w, ids["after@example.com"]) == "unsubscribed"
	[error] = stream.errors
	assert error.email == "sms@example.com" and "no email address" in error.reason
	[pending] = w.store.pending_optouts()
	assert pending.email == "sms@example.com" and pending.retry_at > w.clock.now()


def test_retry_waits_grow_and_stop_at_a_day():
	from cc_sync.sync.optout_push import retry_delay

	waits = [retry_delay(n) for n in range(1, 10)]
	assert waits[:4] == [timedelta(minutes=m) for m in (15, 30, 60, 120)]
	assert waits == sorted(waits) and waits[-1] == timedelta(hours=24)


def test_when_cc_itself_is_down_the_push_stops_instead_of_spending_calls_on_every_optout():
	emails = [f"down{i}@example.com" for i in range(6)]
	w, ids = _world_with_site_optouts(*emails)
	w.emu.inject("500", count=100_000)
	with w.emu.mocked():
		report = w.run(STREAM_OPTOUT_PUSH)
	stream = report.streams[STREAM_OPTOUT_PUSH]
	assert stream.status == "failed" and "in a row" in stream.error
	pending = {p.email: p for p in w.store.pending_optouts()}
	assert set(pending) == set(emails)
	# Three were tried (within the run too) and wait a minute; the rest were not touched.
	assert [pending[e].attempts for e in emails] == [1, 1, 1, 0, 0, 0]
	assert all(pending[e].retry_at == w.clock.now() + timedelta(minutes=1) for e in emails[:3])
	w.emu.faults.clear()
	w.clock.advance(60)
	with w.emu.mocked():
		report = w.run(STREAM_OPTOUT_PUSH)
	assert report.streams[STREAM_OPTOUT_PUSH].unsubscribed == 6
	assert all(w.emu.get(ids[e])["email_address"]["permission_to_send"] == "unsubscribed" for e in emails)


def test_an_unreadable_opt_out_is_no_reason_to_distrust_optout_after():
	"""The first opt-out run compares what it got with CC's unsubscribed count; a record CC sent but
	that could not be read was still returned."""
	from cc_sync.sync.optouts import STATE

	w, _ids = _world_with_odd_opt_outs()
	w.store.set_state(STATE, {})  # as on a site whose first opt-out run is this one
	w.store.commit()
	with w.emu.mocked():
		w.run(STREAM_OPTOUTS)
	assert w.store.get_state(STATE)["reliable"] is True
