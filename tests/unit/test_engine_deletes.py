"""The deletes stream and the push's dependence on it: a CC delete moves no `updated_at`, so only the
deletes stream can tell the site, and a push that ran without it would revive the contact."""

from __future__ import annotations

from cc_sync.constant_contact.errors import ServerError
from cc_sync.sync.streams import STREAM_CHANGES, STREAM_DELETES, STREAM_OPTOUTS, STREAM_PUSH
from tests.world import make_world

# What the scheduled Push job asks the engine for (cc_sync.cc_sync.settings.JOB_STREAMS["push"]).
PUSH_JOB = ("optout_push", "activities", STREAM_PUSH)


def test_the_push_job_reads_deletes_first_so_a_lead_edit_never_revives_a_cc_delete():
	w = make_world()
	cc_id = w.emu.add_contact("lead@example.com", first_name="Lead", list_ids=[w.list_id])
	with w.emu.mocked():
		w.run()
		lead = w.store.add_lead("lead@example.com", first_name="Lead")
		w.store.commit()
		w.clock.advance(300)
		w.emu.delete_contact(cc_id)  # moves no updated_at: only the deletes stream sees it
		w.store.edit_lead(lead, first_name="Edited")
		w.store.commit()
		w.clock.advance(300)
		report = w.engine.run(PUSH_JOB)
		w.emu.complete_activities()
	assert report.streams[STREAM_DELETES].status == "success"
	assert w.store.contact_by_email("lead@example.com").cc_deleted
	assert w.emu.get(cc_id).get("deleted_at"), "the push revived a contact CC deleted"
	assert w.emu.calls_to("/v3/activities/contacts_json_import") == 0


def test_the_push_is_skipped_when_the_deletes_pull_fails(monkeypatch):
	w = make_world()
	w.store.add_lead("new@example.com", first_name="New")
	w.store.commit()
	pages = w.client.iter_contact_pages

	def deleted_list_broken(**query):
		if query.get("status") == "deleted":
			raise ServerError(503, message="CC answered 503")
		return pages(**query)

	with w.emu.mocked():
		w.engine.run([STREAM_OPTOUTS, STREAM_CHANGES, STREAM_DELETES])
		w.clock.advance(300)
		monkeypatch.setattr(w.client, "iter_contact_pages", deleted_list_broken)
		report = w.engine.run(PUSH_JOB)
	assert report.streams[STREAM_DELETES].status == "failed"
	assert report.streams[STREAM_PUSH].status == "skipped"
	assert w.emu.calls_to("/v3/activities/contacts_json_import") == 0


def test_a_delete_is_seen_when_a_revival_keeps_ccs_deleted_count_unchanged():
	w = make_world()
	back = w.emu.add_contact("back@example.com", list_ids=[w.list_id])
	gone = w.emu.add_contact("gone@example.com", list_ids=[w.list_id])
	w.emu.delete_contact(back)
	with w.emu.mocked():
		w.run()
		assert w.store.contact_by_email("back@example.com").cc_deleted
		w.clock.advance(3600)
		w.run()  # the changes watermark is now past both contacts' updated_at
		# Between two runs: one contact revived (a PUT moves updated_at), another deleted.
		w.client.put_contact(
			back,
			{
				"email_address": {"address": "back@example.com", "permission_to_send": "implicit"},
				"first_name": "Back",
				"update_source": "Account",
			},
		)
		w.emu.delete_contact(gone)
		w.clock.advance(600)
		w.run()
	assert not w.store.contact_by_email("back@example.com").cc_deleted
	assert w.store.contact_by_email("gone@example.com").cc_deleted


def test_a_quiet_deletes_run_costs_one_call_and_a_new_delete_few():
	w = make_world(rate_limit=None)
	ids = [w.emu.add_contact(f"del{i}@example.com") for i in range(1_201)]
	for cc_id in ids[:1_200]:
		w.emu.delete_contact(cc_id)
	with w.emu.mocked():
		w.engine.run([STREAM_CHANGES, STREAM_DELETES])
		w.clock.advance(900)
		quiet = w.engine.run([STREAM_DELETES])
		w.emu.delete_contact(ids[1_200])
		w.clock.advance(900)
		grew = w.engine.run([STREAM_DELETES])
		w.clock.advance(900)
		after = w.engine.run([STREAM_DELETES])
	assert quiet.streams[STREAM_DELETES].api_calls == 1
	assert grew.streams[STREAM_DELETES].deleted == 1
	assert w.store.contact_by_email("del1200@example.com").cc_deleted
	assert after.streams[STREAM_DELETES].api_calls == 1


def test_a_large_deleted_list_is_read_through_the_export_not_page_by_page():
	"""Deletes cost what changed: with 1,200 deleted contacts, a new delete costs a handful of calls
	(count, the stamped-since read, one export), not one call per 500 deleted contacts ever."""
	from dataclasses import replace

	w = make_world(rate_limit=None)
	w.config = replace(w.config, page_limit=50, export_threshold=100, export_poll_interval=1.0)
	w.engine.config = w.config
	ids = [w.emu.add_contact(f"x{i}@example.com") for i in range(1_201)]
	for cc_id in ids[:1_200]:
		w.emu.delete_contact(cc_id)
	with w.emu.mocked():
		w.engine.run([STREAM_CHANGES, STREAM_DELETES])
		w.clock.advance(3600)
		w.engine.run([STREAM_CHANGES, STREAM_DELETES])
		w.emu.delete_contact(ids[1_200])
		w.clock.advance(3600)
		grew = w.engine.run([STREAM_DELETES])
		w.clock.advance(3600)
		after = w.engine.run([STREAM_DELETES])
	assert w.store.contact_by_email("x1200@example.com").cc_deleted
	assert grew.streams[STREAM_DELETES].deleted == 1
	# 1,201 deleted at 50 a page would be 25 pages; the export path stays under 10 whatever the size.
	assert grew.streams[STREAM_DELETES].api_calls < 10, grew.streams[STREAM_DELETES].api_calls
	assert after.streams[STREAM_DELETES].api_calls == 1
