"""Large accounts use CC's export for the backfill and the reconcile; the reconcile says what it corrected;
a value CC rewrites on write is compared in CC's form."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

import pytest

from cc_sync.sync.exports import ExportFailed, export_calls, paging_calls
from cc_sync.sync.fieldmap import FieldRule, fields_to_pull
from cc_sync.sync.streams import STREAM_CHANGES, STREAM_RECONCILE
from tests.world import make_world

RULES = (
	FieldRule("first_name", "first_name", "cc"),
	FieldRule("address:home.state", "state", "cc"),
	FieldRule("address:home.country", "country", "site"),
	FieldRule("cf:crm_id", "crm_id", "cc"),
)


def utc(*args):
	return datetime(*args, tzinfo=timezone.utc)


def world(contacts: int, threshold: int):
	w = make_world(utc(2024, 6, 1, 12), rate_limit=None)
	w.engine.config = replace(w.config, export_threshold=threshold, field_map=RULES)
	w.emu.create_custom_field("CRM Id")
	events = w.emu.create_list("Events, 2024")  # a list name with a comma in it
	for i in range(contacts):
		cid = w.emu.add_contact(
			f"p{i}@example.com",
			first_name=f"P{i}",
			list_ids=[w.list_id, events] if i % 3 == 0 else [],
			custom_fields={"crm_id": f"C-{i}"},
			street_addresses=[{"kind": "home", "state": "CA", "country": "US"}],
		)
		if i % 10 == 0:
			w.emu.unsubscribe(cid)
	return w


def snapshot(w):
	return {
		c.email: (
			c.unsubscribed,
			c.fields.get("first_name"),
			c.fields.get("state"),
			c.fields.get("crm_id"),
			c.groups,
		)
		for c in w.store.contacts.values()
	}


def test_a_large_first_sync_reads_cc_s_export_and_ends_like_paging():
	exported = world(600, threshold=500)
	paged = world(600, threshold=0)
	with exported.emu.mocked():
		via_export = exported.run(STREAM_CHANGES).streams[STREAM_CHANGES]
	with paged.emu.mocked():
		via_pages = paged.run(STREAM_CHANGES).streams[STREAM_CHANGES]
	assert via_export.activity_ids and not via_pages.activity_ids
	assert via_export.created == via_pages.created == 600
	assert snapshot(exported) == snapshot(paged)
	p0 = exported.store.contact_by_email("p0@example.com")
	assert p0.unsubscribed and p0.fields["state"] == "California" and p0.fields["crm_id"] == "C-0"
	assert p0.groups == frozenset({"Newsletter"})
	# 600 contacts is below where the export pays (forced here); its cost does not grow with the account.
	assert via_pages.api_calls == 3 and via_export.api_calls == 8


def test_an_export_backfill_then_an_export_reconcile_corrects_nothing():
	w = world(600, threshold=500)
	with w.emu.mocked():
		w.run(STREAM_CHANGES)
		writes = w.store.writes
		w.clock.advance(3600)
		report = w.run(STREAM_RECONCILE).streams[STREAM_RECONCILE]
	assert report.activity_ids and report.corrected == 0
	assert report.notice == "Nothing to correct: the site matched CC."
	assert w.store.writes == writes


@pytest.mark.parametrize("threshold", [0, 50])
def test_the_reconcile_reports_what_it_corrected_per_kind(threshold):
	w = world(60, threshold=threshold)
	with w.emu.mocked():
		w.run(STREAM_CHANGES)
	# Drift no incremental stream reports: a list-tool edit, a site-side edit of a CC-owned field, and a
	# contact the site lost.
	w.emu.add_to_list(w.emu.find_by_email("p1@example.com")["contact_id"], w.list_id)
	w.store.contacts[w.store.contact_by_email("p2@example.com").key].fields["first_name"] = "Wrong"
	gone = w.store.contact_by_email("p4@example.com")
	w.store._drop_contact(w.store.contacts[gone.key])
	w.clock.advance(3600)
	with w.emu.mocked():
		report = w.run(STREAM_RECONCILE).streams[STREAM_RECONCILE]
	assert bool(report.activity_ids) == bool(threshold)
	assert report.corrected == 3
	# Each kind names the records it corrected, and which of their fields.
	assert report.notice == (
		"Corrected 3 contact(s): 1 contacts created (p4@example.com), "
		"1 field values (p2@example.com: first_name), 1 list memberships (p1@example.com)."
	)
	assert w.store.contact_by_email("p1@example.com").groups == frozenset({"Newsletter"})
	assert w.store.contact_by_email("p2@example.com").fields["first_name"] == "P2"


def test_an_export_cc_never_finishes_fails_the_stream_and_keeps_its_watermark():
	w = world(20, threshold=10)
	w.engine.config = replace(w.engine.config, export_polls=3)
	w.emu.activity_steps = 100
	with w.emu.mocked():
		report = w.run(STREAM_CHANGES).streams[STREAM_CHANGES]
	assert report.status == "failed" and ExportFailed.__name__ in report.error
	assert w.store.get_watermark(STREAM_CHANGES) is None


def test_call_costs_of_each_path():
	assert paging_calls(10_000) == 20 and paging_calls(1_000_000) == 2000 and paging_calls(0) == 1
	assert export_calls(polls=5) == 9


def test_a_value_cc_rewrites_on_write_is_compared_in_cc_s_form():
	"""Recorded responses: CC stores CA as California and US as United States. The site's short form is
	the same value, so it is neither pulled over nor a difference that would be pushed again."""
	site = {"state": "CA", "country": "US", "first_name": "Ann"}
	incoming = {"state": "California", "country": "United States", "first_name": "Ann"}
	assert fields_to_pull(site, incoming, RULES) == {}
	assert fields_to_pull({"state": "NY"}, {"state": "California"}, RULES) == {"state": "California"}


def test_a_site_address_in_short_form_causes_no_write_on_any_later_pull():
	w = world(1, threshold=0)
	with w.emu.mocked():
		w.run(STREAM_CHANGES)
	key = w.store.contact_by_email("p0@example.com").key
	w.store.contacts[key].fields.update(state="CA", country="US")  # as a person typed them on the site
	cid = w.emu.find_by_email("p0@example.com")["contact_id"]
	w.clock.advance(60)
	w.emu.edit_contact(cid, job_title="Chef")  # CC moves updated_at: the changes pull reads it again
	w.clock.advance(900)
	with w.emu.mocked():
		report = w.run(STREAM_CHANGES).streams[STREAM_CHANGES]
	assert report.updated == 0 and report.unchanged == 1
	assert w.store.contacts[key].fields["state"] == "CA"


def test_a_lead_push_after_an_export_backfill_never_overwrites_cc_owned_fields():
	"""Export rows carry no CC contact id; the Contacts they make still count as held by CC."""
	w = world(600, threshold=500)
	w.clock.advance(3600)  # the contacts were last changed in CC more than an overlap before the sync
	with w.emu.mocked():
		w.run(STREAM_CHANGES)
		w.clock.advance(60)
		w.store.add_lead("p5@example.com", first_name="Someone Else")
		w.store.commit()
		w.clock.advance(60)
		assert w.store.contact_by_email("p5@example.com").cc_contact_id is None
		w.run()
		w.emu.complete_activities()
	assert all("first_name" not in row for row in w.emu.imported_rows())
	assert w.emu.find_by_email("p5@example.com")["first_name"] == "P5"
