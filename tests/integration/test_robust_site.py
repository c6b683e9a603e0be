"""On a real site: CC values fitted to typed columns, and "Sync now" guarded and telling the truth."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

import frappe
from frappe.utils import get_datetime, now_datetime

from cc_sync.cc_sync import api, record_guard, record_status, runner
from cc_sync.cc_sync.constants import CONTACT, CONTACT_LAST_SYNCED, OPT_OUT, SETTINGS, SYNC_LOG
from cc_sync.constant_contact.ratelimit import DailyBudget
from cc_sync.sync.fieldmap import FieldRule
from cc_sync.sync.streams import STREAM_CHANGES, STREAM_RECONCILE
from tests.integration.app_helpers import settings_restored
from tests.integration.test_frappe_scenarios import addr, make_world

DATE_FIELD = "tier2_anniversary"


@pytest.fixture
def date_field():
	"""A Date field on Contact, as a site might add for CC's anniversary."""
	if not frappe.db.exists("Custom Field", {"dt": CONTACT, "fieldname": DATE_FIELD}):
		frappe.get_doc(
			{
				"doctype": "Custom Field",
				"dt": CONTACT,
				"fieldname": DATE_FIELD,
				"label": "Tier2 Anniversary",
				"fieldtype": "Date",
				"insert_after": "designation",
			}
		).insert(ignore_permissions=True)
		frappe.db.commit()
	frappe.clear_cache(doctype=CONTACT)
	yield DATE_FIELD
	name = frappe.db.get_value("Custom Field", {"dt": CONTACT, "fieldname": DATE_FIELD})
	if name:
		frappe.delete_doc("Custom Field", name, ignore_permissions=True, force=True)
		frappe.db.commit()
	frappe.clear_cache(doctype=CONTACT)


def test_cc_values_that_do_not_fit_their_columns_are_fitted_and_logged_not_failing_the_page(date_field):
	from dataclasses import replace

	from cc_sync.sync.engine import SyncEngine
	from tests.integration.frappe_site import make_store

	w = make_world()
	w.emu.create_custom_field("Notes", "notes")
	rules = (
		FieldRule("first_name", "first_name", "cc"),
		FieldRule("cf:notes", "designation", "cc"),
		FieldRule("anniversary", date_field, "cc"),
	)
	config = replace(w.engine.config, field_map=rules)
	store = make_store(site_fields=[r.site_field for r in rules])
	engine = SyncEngine(w.client, store, config, w.clock)
	long_note = "n" * 255
	odd = w.emu.add_contact(addr("fit-odd"), first_name="Odd", custom_fields={"notes": long_note})
	w.emu.malform(odd, anniversary="next spring")
	dated = w.emu.add_contact(addr("fit-dated"), first_name="Dated")
	w.emu.malform(dated, anniversary="11/15/2006")
	w.emu.add_contact(addr("fit-plain"), first_name="Plain", custom_fields={"notes": "Short"})

	with w.emu.mocked():
		report = engine.run([STREAM_CHANGES])

	changes = report.streams[STREAM_CHANGES]
	assert changes.status == "success", changes.error
	assert changes.created == 3
	[odd_contact] = w.site.contacts(addr("fit-odd"))
	assert odd_contact.designation == long_note[:140]
	assert odd_contact.get(date_field) is None
	[dated_contact] = w.site.contacts(addr("fit-dated"))
	assert str(dated_contact.get(date_field)) == "2006-11-15"
	[plain] = w.site.contacts(addr("fit-plain"))
	assert plain.designation == "Short"
	reasons = [n.reason for n in changes.warnings if n.email == addr("fit-odd")]
	assert any("designation" in r and "255 characters" in r for r in reasons), reasons
	assert any(date_field in r and "is not a date" in r for r in reasons), reasons


def test_a_full_name_too_long_for_its_column_is_cut_and_logged_and_the_page_lands():
	"""First and last names that each fit their column, composing a full name that does not: the
	contact is created with its full name cut (a warning says so), and the rest of its page, an opt-out
	among it, is applied."""
	w = make_world()
	first, last = "F" * 120, "L" * 120
	w.emu.add_contact(addr("long-name"), first_name=first, last_name=last, list_ids=[w.list_id])
	leaving = w.emu.add_contact(addr("long-page-mate"), first_name="Mate", list_ids=[w.list_id])
	with w.emu.mocked():
		w.run()
		w.clock.advance(600)
		w.emu.edit_contact(w.emu.find_by_email(addr("long-name"))["contact_id"], last_name=last[:-1] + "M")
		w.emu.unsubscribe(leaving)
		w.clock.advance(600)
		report = w.run()
	[contact] = w.site.contacts(addr("long-name"))
	assert contact.first_name == first
	assert contact.last_name == last[:-1] + "M"
	assert contact.full_name == f"{first} {last[:-1]}M"[:140]
	warned = [n.reason for s in report.streams.values() for n in s.warnings if n.email == addr("long-name")]
	assert any("full_name" in r and "cut" in r for r in warned), warned
	assert w.site.contacts(addr("long-page-mate"))[0].unsubscribed == 1


def test_a_cc_value_cut_to_fit_is_not_rewritten_on_every_read():
	"""CC holds a first name longer than the column: the first read stores it cut (and says so); a
	later read of the unchanged contact writes nothing and warns no more."""
	w = make_world()
	long_first = "Ｗ" + "w" * 199
	w.emu.add_contact(addr("cut-once"), first_name=long_first)
	with w.emu.mocked():
		first = w.run()
		[contact] = w.site.contacts(addr("cut-once"))
		assert contact.first_name == long_first[:140]
		assert any("first_name" in n.reason for n in first.streams[STREAM_CHANGES].warnings)
		w.clock.advance(3600)
		again = w.run(STREAM_RECONCILE)
	reconcile = again.streams[STREAM_RECONCILE]
	assert reconcile.updated == 0
	assert not [n for n in reconcile.warnings if n.email == addr("cut-once")]
	assert w.site.contacts(addr("cut-once"))[0].modified == contact.modified


def test_a_record_the_database_refuses_fails_alone_and_the_page_lands(monkeypatch):
	"""Whatever one record's values do to the database (here an address longer than Contact Email's
	column), that record fails with the reason and every other one of its page is applied."""
	w = make_world()
	too_long = "x" * 140 + "@" + "tier2.test"
	w.emu.add_contact(too_long, first_name="Long")
	for i in range(3):
		w.emu.add_contact(addr(f"page-ok{i}"), first_name="Ok")
	with w.emu.mocked():
		report = w.engine.run([STREAM_CHANGES])
	changes = report.streams[STREAM_CHANGES]
	assert changes.status != "failed", changes.error
	assert [n.email for n in changes.errors] == [too_long]
	assert "could not be written" in changes.errors[0].reason
	for i in range(3):
		assert len(w.site.contacts(addr(f"page-ok{i}"))) == 1


# ---------------------------------------------------------------- "Sync now" on one record


def _clear_counters() -> None:
	frappe.cache.delete_keys("cc_sync:sync_now:")


@pytest.fixture
def sync_now(monkeypatch):
	"""`api.sync_record` against an in-process emulator; the settings are put back afterwards."""
	w = make_world()
	wiring = runner.Wiring(engine=w.engine, client=runner.WatchedClient(w.client), budget=DailyBudget())
	w.engine.client = wiring.client
	monkeypatch.setattr(api, "build", lambda *a, **k: wiring)
	_clear_counters()
	with settings_restored(), w.emu.mocked():
		yield w, wiring
	_clear_counters()


def _contact(local: str) -> str:
	doc = frappe.get_doc(
		{"doctype": CONTACT, "first_name": local, "email_ids": [{"email_id": addr(local), "is_primary": 1}]}
	).insert(ignore_permissions=True)
	frappe.db.commit()
	return doc.name


def test_sync_now_is_throttled_per_user_and_record(sync_now):
	w, _wiring = sync_now
	w.emu.add_contact(addr("now-once"))
	contact = _contact("now-once")
	first = api.sync_record(CONTACT, contact)
	assert first["cc"]["state"] == "subscribed"
	calls, logs = w.emu.calls, frappe.db.count(SYNC_LOG)
	with pytest.raises(frappe.RateLimitExceededError):
		api.sync_record(CONTACT, contact)
	frappe.db.rollback()
	# Refused before anything was spent or logged.
	assert w.emu.calls == calls
	assert frappe.db.count(SYNC_LOG) == logs


def test_sync_now_has_a_cap_per_user(sync_now, monkeypatch):
	monkeypatch.setattr(record_guard, "PER_USER_HOUR", (3600, 2))
	contacts = [_contact(f"now-cap{i}") for i in range(3)]
	api.sync_record(CONTACT, contacts[0])
	api.sync_record(CONTACT, contacts[1])
	with pytest.raises(frappe.RateLimitExceededError):
		api.sync_record(CONTACT, contacts[2])


def test_sync_now_waits_its_turn_behind_a_running_sync(sync_now, monkeypatch):
	w, _wiring = sync_now
	monkeypatch.setattr(record_guard, "LOCK_WAIT_SECONDS", 0.2)
	contact = _contact("now-locked")
	lock = frappe.cache.lock(frappe.cache.make_key(runner.RUN_LOCK_KEY), timeout=60)
	assert lock.acquire(blocking_timeout=5)
	try:
		calls = w.emu.calls
		with pytest.raises(frappe.RateLimitExceededError):
			api.sync_record(CONTACT, contact)
		assert w.emu.calls == calls
	finally:
		lock.release()
	_clear_counters()
	assert api.sync_record(CONTACT, contact)["cc"]["state"] == "not in CC"


def test_sync_now_leaves_the_days_last_calls_to_the_scheduled_sync(sync_now):
	w, wiring = sync_now
	today = datetime.now(timezone.utc).date()
	wiring.budget = DailyBudget(used=wiring.budget.limit - record_guard.DAILY_RESERVE + 1, day=today)
	contact = _contact("now-late")
	calls = w.emu.calls
	with pytest.raises(frappe.RateLimitExceededError):
		api.sync_record(CONTACT, contact)
	assert w.emu.calls == calls


@pytest.mark.parametrize(
	"permission, state",
	[("pending_confirmation", "pending confirmation"), ("not_set", "not set"), ("temp_hold", "on hold")],
)
def test_sync_now_shows_the_real_status_not_subscribed(sync_now, permission, state):
	w, _wiring = sync_now
	local = f"now-{permission.replace('_', '-')}"
	w.emu.add_contact(addr(local), permission=permission)
	answer = api.sync_record(CONTACT, _contact(local))
	assert answer["cc"]["state"] == state
	assert answer["cc"]["sendable"] is False
	assert answer["cc"]["permission_to_send"] == permission


@pytest.mark.parametrize(
	"permission, words",
	[("explicit", "Explicit: the person opted in"), ("not_set", "None recorded: not mailed")],
)
def test_sync_now_says_the_permission_to_send_in_words_as_the_forms_do(sync_now, permission, words):
	w, _wiring = sync_now
	local = f"now-words-{permission.replace('_', '-')}"
	w.emu.add_contact(addr(local), permission=permission)
	contact = _contact(local)
	answer = api.sync_record(CONTACT, contact)
	assert answer["cc"]["permission"] == words
	assert record_status.record_status(CONTACT, contact)["permission"] == words


def test_sync_now_calls_an_sms_only_contact_sms_only(sync_now):
	w, _wiring = sync_now
	cc_id = w.emu.add_contact(addr("now-sms"))
	w.emu.malform(cc_id, email_address=None)
	answer = api.sync_record(CONTACT, _contact("now-sms"))
	assert answer["cc"]["state"] == "SMS only"


def test_a_sync_now_that_breaks_part_way_closes_its_log_and_counts_the_calls_it_spent(sync_now, monkeypatch):
	"""Whatever stops a run, it ends the same way: the log is not left Running and the day's API calls
	include the ones it spent."""
	from cc_sync.cc_sync.settings import update_settings

	w, wiring = sync_now
	w.emu.add_contact(addr("now-breaks"))
	contact = _contact("now-breaks")
	update_settings({"api_calls_today": 0, "api_calls_day": None}, commit=True)

	def breaks(email, **kwargs):
		w.engine.cc_view(email)  # one call spent, then something unforeseen
		raise RuntimeError("the engine broke")

	monkeypatch.setattr(w.engine, "sync_email", breaks)
	with pytest.raises(RuntimeError):
		api.sync_record(CONTACT, contact)
	frappe.db.rollback()
	log = frappe.get_last_doc(SYNC_LOG, filters={"reference": f"{CONTACT} now-breaks"})
	assert log.status == "Failed"
	assert "the engine broke" in log.error
	assert wiring.client.calls >= 1
	assert frappe.db.get_single_value(SETTINGS, "api_calls_today") == wiring.client.calls


# ---------------------------------------------------------------- whole runs through the runner


@pytest.fixture
def job(monkeypatch):
	"""`runner.run_job` against an in-process emulator, starting Connected; settings put back after."""
	from cc_sync.cc_sync.settings import update_settings

	w = make_world()

	def build(settings, on_progress=None):
		wiring = runner.Wiring(
			engine=w.engine, client=runner.WatchedClient(w.client, on_progress), budget=DailyBudget()
		)
		w.engine.client = wiring.client
		return wiring

	monkeypatch.setattr(runner, "build", build)
	with settings_restored(), w.emu.mocked():
		update_settings({"connection_status": "Connected", "last_error": None}, commit=True)
		yield w


def _items(log_name: str) -> list:
	return frappe.get_all(
		"Constant Contact Sync Log Item", filters={"parent": log_name}, fields=["kind", "email", "reason"]
	)


def test_an_unreadable_cc_record_is_logged_and_every_other_opt_out_applied(job):
	from cc_sync.cc_sync.constants import TRIGGER_SHELL

	w = job
	plain = w.emu.add_contact(addr("rd-plain"), list_ids=[w.list_id])
	odd = w.emu.add_contact(addr("rd-odd"), list_ids=[w.list_id])
	partial = w.emu.add_contact(addr("rd-partial"), list_ids=[w.list_id])
	w.clock.advance(60)
	for cc_id in (plain, odd, partial):
		w.emu.unsubscribe(cc_id)
	w.emu.malform(odd, email_address=addr("rd-odd"))
	w.emu.malform(partial, street_addresses=[None], notes="called")

	result = runner.run_job("optouts", TRIGGER_SHELL)

	assert result.status == "Success", result
	assert w.site.contacts(addr("rd-plain"))[0].unsubscribed
	assert w.site.contacts(addr("rd-partial"))[0].unsubscribed
	items = _items(result.logs[0])
	[skip] = [i for i in items if i.kind == "Skip" and i.email == addr("rd-odd")]
	assert "cannot be read" in skip.reason and "Raw:" in skip.reason
	assert any(i.kind == "Warning" and i.email == addr("rd-partial") for i in items)


def test_a_throttled_token_endpoint_never_reads_as_a_broken_connection(job):
	from datetime import timedelta

	import requests

	from cc_sync.cc_sync.constants import SETTINGS, TRIGGER_SHELL
	from cc_sync.constant_contact.auth import OAuthClient, OAuthTokenProvider
	from cc_sync.constant_contact.client import ConstantContactClient
	from cc_sync.constant_contact.models import TokenSet

	class ThrottledTokenEndpoint:
		def post(self, url, **kwargs):
			resp = requests.Response()
			resp.status_code = 429
			resp._content = b'{"error_key":"throttled","error_message":"Too Many Requests"}'
			return resp

	w = job
	oauth = OAuthClient(
		"id", "secret", "https://site.example/cb", session=ThrottledTokenEndpoint(), clock=w.clock
	)
	expiring = TokenSet(
		access_token="old", refresh_token="r", expires_at=w.clock.now() + timedelta(seconds=30)
	)
	provider = OAuthTokenProvider(oauth, expiring, lambda t: None, clock=w.clock)
	w.client.__dict__.update(
		ConstantContactClient(provider, clock=w.clock, base_url=w.client.base_url).__dict__
	)

	result = runner.run_job("optouts", TRIGGER_SHELL)

	assert result.status in ("Failed", "Partial")
	log = frappe.get_doc(SYNC_LOG, result.logs[0])
	assert "Throttled" in (log.error or "") and "needs attention" not in (log.error or "")
	frappe.clear_document_cache(SETTINGS, SETTINGS)
	assert frappe.db.get_single_value(SETTINGS, "connection_status") == "Connected"


# ---------------------------------------------------------------- addresses as written


def test_addresses_keep_their_letters_on_the_site_and_in_cc():
	from cc_sync.sync.streams import STREAM_ACTIVITIES, STREAM_PUSH

	w = make_world()
	sharp = f"straße@{addr('x').split('@')[1]}"
	plain = f"strasse@{addr('x').split('@')[1]}"
	w.emu.add_contact(sharp, first_name="Sharp")
	w.emu.add_contact(plain, first_name="Plain")
	# Frappe's own check refuses non-ASCII addresses in a form, so the written form here is its case.
	written = f"Anna.Smith@{addr('x').split('@')[1]}"
	w.site.add_lead(written, first_name="Anna")
	with w.emu.mocked():
		w.run(STREAM_CHANGES)
		w.run(STREAM_PUSH)
		w.clock.advance(60)
		w.run(STREAM_ACTIVITIES)
	# Two mailboxes stay two people, each under its own address.
	# (MariaDB's collation compares ß equal to ss, so the lookup is narrowed to the exact address.)
	sharp_contacts = [c for c in w.site.contacts(sharp) if c.email_id == sharp]
	assert [c.first_name for c in sharp_contacts] == ["Sharp"]
	plain_contacts = [c for c in w.site.contacts(plain) if c.email_id == plain]
	assert [c.first_name for c in plain_contacts] == ["Plain"]
	# The lead reached CC as the person wrote it.
	held = w.emu.find_by_email(written.lower())
	assert held is not None and held["email_address"]["address"] == written


def test_sync_now_on_a_contact_cc_holds_unchanged_moves_its_last_synced_to_now(sync_now):
	"""The sync writes a contact only when CC changed it; Sync now still read the person just now."""
	w, _wiring = sync_now
	w.emu.add_contact(addr("now-unchanged"))
	contact = _contact("now-unchanged")
	api.sync_record(CONTACT, contact)
	long_ago = now_datetime() - timedelta(hours=2)
	frappe.db.set_value(CONTACT, contact, CONTACT_LAST_SYNCED, long_ago, update_modified=False)
	frappe.db.commit()
	_clear_counters()
	again = api.sync_record(CONTACT, contact)
	assert again["totals"]["updated"] == 0 and again["totals"]["created"] == 0
	stored = get_datetime(frappe.db.get_value(CONTACT, contact, CONTACT_LAST_SYNCED))
	assert abs((now_datetime() - stored).total_seconds()) < 60
	assert get_datetime(again["site"]["last_synced"]) == stored


def test_a_record_sync_and_an_opt_out_name_the_record_as_a_person_reads_it(sync_now):
	"""The sync names the Contacts it creates by a hash; the log's title and the opt-out's reason give
	the name the form shows."""
	doc = frappe.get_doc(
		{
			"doctype": CONTACT,
			"first_name": "Kai",
			"last_name": "Ng",
			"email_ids": [{"email_id": addr("kai"), "is_primary": 1}],
		}
	)
	doc.insert(ignore_permissions=True, set_name="0f3a9c1e2b")
	frappe.db.commit()
	result = api.sync_record(CONTACT, doc.name)
	log = frappe.get_doc(SYNC_LOG, result["logs"][0])
	assert log.title == "Sync now: Contact Kai Ng" and log.reference == "Contact Kai Ng"
	doc.reload()
	doc.unsubscribed = 1
	doc.save(ignore_permissions=True)
	reason = frappe.db.get_value(OPT_OUT, {"email": addr("kai")}, "reason")
	assert reason == "Unsubscribed on Contact Kai Ng"
	frappe.db.delete(OPT_OUT, {"email": addr("kai")})
	frappe.delete_doc(CONTACT, doc.name, force=True, ignore_permissions=True)
	frappe.db.commit()


def test_a_quiet_scheduled_run_folded_into_the_last_log_still_counts_as_the_streams_turn(job):
	"""Quiet scheduled runs share one log; each is still its stream's last run, or the gate would queue
	the stream again at every tick and the health line would call it overdue."""
	from cc_sync.cc_sync.constants import TRIGGER_SCHEDULER

	for name in frappe.get_all(SYNC_LOG, filters={"quiet": 1}, pluck="name"):
		frappe.delete_doc(SYNC_LOG, name, force=True, ignore_permissions=True, delete_permanently=True)
	runner.run_job("optouts", TRIGGER_SCHEDULER)
	first_log = frappe.get_last_doc(SYNC_LOG)
	first = get_datetime(frappe.db.get_single_value(SETTINGS, "last_optouts_run"))
	later = runner.run_job("optouts", TRIGGER_SCHEDULER)
	assert later.logs == [first_log.name], "the quiet run was folded into the first one's log"
	second = get_datetime(frappe.db.get_single_value(SETTINGS, "last_optouts_run"))
	assert second > first
