"""An incremental changes read that fails part way carries on from its last applied page, never from
the first."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from cc_sync.sync.resume import ResumePoint, state_name
from cc_sync.sync.streams import STREAM_CHANGES
from tests.world import make_world

PAGE = 50
CONTACTS = 500  # ten pages


class StoreFailure(Exception):
	"""The site failing while it applies a page (a lost connection, a deadlock, a bug)."""


def world_with_contacts(contacts: int = CONTACTS):
	"""A site already in sync (its changes watermark set), then `contacts` new in CC: an incremental read."""
	w = make_world(rate_limit=None)
	w.config = replace(w.config, page_limit=PAGE)
	w.engine.config = w.config
	with w.emu.mocked():
		w.run(STREAM_CHANGES)
	w.clock.advance(900)
	for i in range(contacts):
		w.emu.add_contact(f"p{i:04d}@example.com", first_name=f"P{i}", list_ids=[w.list_id])
	w.clock.advance(60)
	return w


def point(w) -> ResumePoint | None:
	return ResumePoint.from_state(w.store.get_state(state_name(STREAM_CHANGES)))


def fail_on_page(w, page: int) -> None:
	"""The store raises while applying the given page (1-based) of the next run, and only then."""
	pages = 0

	def before_write(operation: str) -> None:
		nonlocal pages
		if operation == "apply_contacts":
			pages += 1
			if pages == page:
				raise StoreFailure("the database went away")

	w.store.before_write = before_write


def test_a_failure_mid_stream_resumes_after_the_last_applied_page():
	w = world_with_contacts()
	fail_on_page(w, 7)
	with w.emu.mocked():
		failed = w.run(STREAM_CHANGES)
	stream = failed.streams[STREAM_CHANGES]
	assert stream.status == "failed"
	assert stream.api_calls == 7
	assert len(w.store.contacts) == 6 * PAGE  # six pages applied and kept
	watermark = w.store.get_watermark(STREAM_CHANGES)
	assert watermark < failed.started
	started = failed.started

	w.store.before_write = None
	w.clock.advance(900)
	with w.emu.mocked():
		resumed = w.run(STREAM_CHANGES)
	stream = resumed.streams[STREAM_CHANGES]
	assert stream.status == "success"
	assert stream.api_calls == 4  # pages 7 to 10, not all ten again
	assert stream.created == 4 * PAGE
	assert len(w.store.contacts) == CONTACTS
	assert {
		w.store.contact_by_email(f"p{i:04d}@example.com").fields["first_name"] for i in range(CONTACTS)
	} == {f"P{i}" for i in range(CONTACTS)}
	# The watermark moves to the start of the run that read the first page, not to this run's start.
	assert w.store.get_watermark(STREAM_CHANGES) == started
	assert point(w) is None
	assert any("carried on after page 6" in note.reason for note in stream.warnings)


def test_a_change_made_in_cc_while_the_stream_was_unfinished_is_not_missed():
	w = world_with_contacts()
	fail_on_page(w, 3)
	with w.emu.mocked():
		w.run(STREAM_CHANGES)
	w.store.before_write = None
	# A contact on an already applied page changes before the stream resumes.
	w.clock.advance(300)
	w.emu.edit_contact(w.emu.find_by_email("p0001@example.com")["contact_id"], first_name="Renamed")
	w.clock.advance(300)
	with w.emu.mocked():
		w.run(STREAM_CHANGES)
		w.clock.advance(900)
		later = w.run(STREAM_CHANGES)
	assert later.streams[STREAM_CHANGES].updated == 1
	assert w.store.contact_by_email("p0001@example.com").fields["first_name"] == "Renamed"


def test_a_cursor_cc_refuses_reads_the_stream_afresh():
	w = world_with_contacts()
	fail_on_page(w, 4)
	with w.emu.mocked():
		w.run(STREAM_CHANGES)
	w.store.before_write = None
	stale = replace(point(w), next_href="/v3/contacts?cursor=expired")
	w.store.set_state(state_name(STREAM_CHANGES), stale.as_state())
	w.store.commit()
	w.clock.advance(900)
	with w.emu.mocked():
		report = w.run(STREAM_CHANGES)
	stream = report.streams[STREAM_CHANGES]
	assert stream.status == "success"
	assert stream.api_calls == 1 + CONTACTS // PAGE
	assert len(w.store.contacts) == CONTACTS
	assert w.store.get_watermark(STREAM_CHANGES) == report.started
	assert any("refused its cursor" in note.reason for note in stream.warnings)


def test_a_changed_query_or_an_old_resume_point_reads_the_stream_afresh():
	for change in ("query", "age"):
		w = world_with_contacts()
		fail_on_page(w, 4)
		with w.emu.mocked():
			w.run(STREAM_CHANGES)
		w.store.before_write = None
		if change == "query":
			# Someone set the watermark meanwhile: the query the cursor belongs to is no longer this one.
			w.store.set_watermark(STREAM_CHANGES, w.clock.now() - timedelta(days=30))
			w.store.commit()
		else:
			w.clock.advance((w.config.resume_max_age + timedelta(minutes=1)).total_seconds())
		with w.emu.mocked():
			report = w.run(STREAM_CHANGES)
		stream = report.streams[STREAM_CHANGES]
		assert stream.status == "success", change
		assert stream.fetched == CONTACTS, change
		assert any("read afresh" in note.reason for note in stream.warnings), change
		assert point(w) is None


def test_a_dry_run_neither_uses_nor_leaves_a_resume_point():
	w = world_with_contacts()
	fail_on_page(w, 5)
	with w.emu.mocked():
		w.run(STREAM_CHANGES)
	w.store.before_write = None
	kept = point(w)
	with w.emu.mocked():
		dry = w.run(STREAM_CHANGES, dry_run=True)
	assert dry.streams[STREAM_CHANGES].fetched == CONTACTS
	assert point(w) == kept
