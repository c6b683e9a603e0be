"""Addresses go to CC as the person wrote them; "Sync now" says where the person really stands."""

from __future__ import annotations

import pytest

from cc_sync.sync.matching import normalise_email
from cc_sync.sync.streams import STREAM_ACTIVITIES, STREAM_CHANGES, STREAM_OPTOUT_PUSH, STREAM_PUSH
from tests.world import make_world


def test_the_matching_key_never_merges_two_mailboxes():
	assert normalise_email("  Anna.Straße@Example.de ") == "anna.straße@example.de"
	assert normalise_email("anna.straße@example.de") != normalise_email("anna.strasse@example.de")


def test_a_lead_is_pushed_with_its_address_as_written():
	w = make_world()
	w.store.add_lead(" Anna.Straße@Example.de ", first_name="Anna")
	with w.emu.mocked():
		report = w.run(STREAM_PUSH, STREAM_ACTIVITIES)
		w.clock.advance(60)
		w.run(STREAM_ACTIVITIES)
	assert report.streams[STREAM_PUSH].pushed == 1
	held = w.emu.find_by_email("anna.straße@example.de")
	assert held is not None and held["email_address"]["address"] == "Anna.Straße@Example.de"
	assert w.emu.find_by_email("anna.strasse@example.de") is None


def test_a_cc_contact_is_held_on_the_site_under_its_own_address():
	w = make_world()
	w.emu.add_contact("straße@example.de", first_name="S")
	with w.emu.mocked():
		w.run(STREAM_CHANGES)
	contact = w.store.contact_by_email("straße@example.de")
	assert contact is not None and contact.email == "straße@example.de"


def test_a_site_opt_out_of_a_non_ascii_address_reaches_cc():
	w = make_world()
	cc_id = w.emu.add_contact("straße@example.de", list_ids=[w.list_id])
	# The site holds the address but never linked it to CC (no CC id to look it up by).
	w.store.add_contact("Straße@Example.de")
	w.store.unsubscribe_locally("Straße@Example.de")
	w.store.commit()
	with w.emu.mocked():
		report = w.run(STREAM_OPTOUT_PUSH)
	assert report.streams[STREAM_OPTOUT_PUSH].unsubscribed == 1
	assert w.emu.get(cc_id)["email_address"]["permission_to_send"] == "unsubscribed"
	assert w.store.pending_optouts() == []


@pytest.mark.parametrize(
	"permission, state",
	[
		("explicit", "subscribed"),
		("implicit", "subscribed"),
		("pending_confirmation", "pending confirmation"),
		("not_set", "not set"),
		("temp_hold", "on hold"),
		("unsubscribed", "unsubscribed"),
	],
)
def test_sync_now_shows_the_real_permission(permission, state):
	w = make_world()
	w.emu.add_contact("p@example.com", permission=permission)
	w.store.add_contact("p@example.com")
	with w.emu.mocked():
		result = w.engine.sync_email("p@example.com")
	assert result["cc"]["state"] == state
	assert result["cc"]["permission_to_send"] == permission
	assert result["cc"]["sendable"] is (state == "subscribed")


def test_sync_now_never_calls_an_sms_only_contact_subscribed():
	w = make_world()
	cc_id = w.emu.add_contact("sms@example.com")
	w.emu.malform(cc_id, email_address=None)
	with w.emu.mocked():
		result = w.engine.sync_email("sms@example.com")
	assert result["cc"]["state"] == "SMS only"
	assert result["cc"]["sendable"] is False


def test_sync_now_says_when_cc_sent_the_person_unreadably():
	w = make_world()
	cc_id = w.emu.add_contact("odd@example.com")
	w.emu.malform(cc_id, email_address="odd@example.com")
	with w.emu.mocked():
		result = w.engine.sync_email("odd@example.com")
	assert result["cc"]["state"] == "unreadable"
	assert "email_address" in result["cc"]["reason"]


def test_an_undocumented_permission_is_unknown_not_subscribed():
	from cc_sync.constant_contact.models import Contact
	from cc_sync.sync.engine import cc_state

	contact = Contact.model_validate(
		{"email_address": {"address": "x@example.com", "permission_to_send": "brand_new"}}
	)
	assert cc_state(contact) == "unknown"
