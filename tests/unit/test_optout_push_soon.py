"""A site opt-out reaches CC within a minute or so, whatever CC does meanwhile.

A transient 5xx on the push used to leave it 15 minutes; and when the account re-added the person in CC
(a re-import reviving a contact deleted before the opt-out reached it), CC mailed them until the next
opt-out run noticed.
"""

from __future__ import annotations

from datetime import timedelta

from cc_sync.sync.streams import STREAM_CHANGES, STREAM_OPTOUT_PUSH, STREAM_OPTOUTS
from tests.world import make_world


def _permission(w, cc_id):
	return w.emu.get(cc_id)["email_address"]["permission_to_send"]


def test_a_transient_5xx_on_an_opt_out_push_is_retried_within_the_run():
	w = make_world()
	cc_id = w.emu.add_contact("ann@example.com", list_ids=[w.list_id])
	with w.emu.mocked():
		w.run()
	w.clock.advance(60)
	w.store.unsubscribe_locally("ann@example.com")
	w.store.commit()
	# CC answers 503 to every call about her for a few seconds: longer than the client's own retries.
	w.emu.inject("503", count=6, path_prefix=f"/v3/contacts/{cc_id}")
	started = w.clock.now()
	with w.emu.mocked():
		report = w.run(STREAM_OPTOUT_PUSH)
	stream = report.streams[STREAM_OPTOUT_PUSH]
	assert _permission(w, cc_id) == "unsubscribed"
	assert stream.status == "success" and stream.unsubscribed == 1 and stream.failed == 0
	assert w.store.pending_optouts() == []
	assert w.clock.now() - started < timedelta(minutes=1)
	[again] = [r for r in stream.retries if r.call == "opt-out of ann@example.com"]
	assert "HTTP 503" in again.answer and again.waited == 5.0


def test_an_opt_out_cc_revives_by_a_re_import_is_pushed_in_the_run_that_sees_it():
	w = make_world()
	cc_id = w.emu.add_contact("ann@example.com", first_name="Ann", list_ids=[w.list_id])
	with w.emu.mocked():
		w.run()
	w.clock.advance(60)
	w.store.unsubscribe_locally("ann@example.com")
	w.store.commit()
	w.emu.delete_contact(cc_id)  # the owner deletes her in CC before the opt-out reached it
	with w.emu.mocked():
		w.run(STREAM_OPTOUTS, STREAM_OPTOUT_PUSH)  # nothing to unsubscribe: left deleted
		assert w.store.pending_optouts() == []
		w.clock.advance(60)
		# The owner imports his old spreadsheet: CC revives her, mailable.
		w.client.import_contacts_json([{"email": "ann@example.com", "first_name": "Ann"}], [w.list_id])
		w.emu.complete_activities()
		assert _permission(w, cc_id) != "unsubscribed" and not w.emu.get(cc_id).get("deleted_at")
		w.clock.advance(60)
		report = w.run(STREAM_CHANGES)  # the changes job alone
	assert _permission(w, cc_id) == "unsubscribed"
	changes, push = report.streams[STREAM_CHANGES], report.streams[STREAM_OPTOUT_PUSH]
	assert push.status == "success" and push.unsubscribed == 1
	assert any(
		n.email == "ann@example.com"
		and "revived in CC" in n.reason
		and "pushed to CC in this run" in n.reason
		for n in changes.warnings
	)
	assert any(n.email == "ann@example.com" and "same run" in n.reason for n in push.warnings)
	assert w.store.pending_optouts() == []


def test_an_opt_out_reaches_cc_for_a_contact_cc_holds_with_a_name_longer_than_a_put_takes():
	"""CC holds a company name of 60 characters; a PUT takes 50. Echoed back whole it made CC refuse the
	opt-out's PUT, run after run."""
	w = make_world()
	cc_id = w.emu.add_contact("ann@example.com", list_ids=[w.list_id])
	w.emu.edit_contact(cc_id, company_name="C" * 60, first_name="Ann")
	with w.emu.mocked():
		w.run()
	w.clock.advance(60)
	w.store.unsubscribe_locally("ann@example.com")
	w.store.commit()
	with w.emu.mocked():
		report = w.run(STREAM_OPTOUT_PUSH)
	push = report.streams[STREAM_OPTOUT_PUSH]
	assert _permission(w, cc_id) == "unsubscribed"
	assert push.failed == 0 and w.store.pending_optouts() == []
	assert w.emu.get(cc_id)["company_name"] == "C" * 50 and w.emu.get(cc_id)["first_name"] == "Ann"
	assert any("company_name longer than CC takes back" in n.reason for n in push.warnings)
