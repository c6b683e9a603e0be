"""The store contract: what every SyncStore must do, written once.

Tier 1 runs it on the in-memory store (tests/unit/test_store_contract.py); tier 2 runs the same class on
the Frappe store in a real site (tests/integration/test_frappe_store_contract.py). A subclass provides
`make_site()`, returning the store and a `site` helper that performs the site-side events a user would:
`add_contact(email, **fields) -> key`, `add_lead(email, **fields) -> key`,
`unsubscribe_locally(email, by_person=False)`, `member_rows(email) -> dict[group, unsubscribed]`,
`make_group(name)`, `add_member(group, email)`, `leave_group(group, email)` and
`email_unsubscribe(email, global_unsubscribe=True)`.

The push and the record's own consent are written once for each push target (`TARGETS`, narrowed by a
subclass's `targets` to those its site has): `make_site(target)` returns a store pushing that target and
a helper whose `add_record(email, **fields) -> key` makes one of its records (a sign-up joins
`SIGN_UP_GROUP`), `edit_record(key, **fields)` edits it, and `own_optout(email)` makes the record's own
opt-out: a Lead's Unsubscribed, the Email Unsubscribe a CRM Lead's unsubscribe link writes for it, a
sign-up's leave of its group.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest

from cc_sync.sync.consent import MemberRow
from cc_sync.sync.records import ActivityRecord, ContactWrite, PushOutcome

T0 = datetime(2024, 6, 1, 12, 0, tzinfo=timezone.utc)
LEAD = "Lead"
CRM_LEAD = "CRM Lead"
SIGN_UP = "Email Group Member"
TARGETS = (LEAD, CRM_LEAD, SIGN_UP)
SIGN_UP_GROUP = "Signups"


class StoreContract:
	# The push targets this store's site has.
	targets: tuple[str, ...] = TARGETS

	def make_site(self, target: str = LEAD):  # pragma: no cover - provided by subclasses
		raise NotImplementedError

	def pytest_generate_tests(self, metafunc):
		if "target" in metafunc.fixturenames:
			metafunc.parametrize("target", self.targets)

	@pytest.fixture
	def site(self):
		return self.make_site()

	@pytest.fixture
	def record_site(self, target):
		return self.make_site(target)

	# -- watermarks ------------------------------------------------------------------------------
	def test_watermark_is_kept_only_when_committed(self, site):
		store, _ = site
		assert store.get_watermark("changes") is None
		store.set_watermark("changes", T0)
		store.commit()
		store.set_watermark("changes", T0 + timedelta(hours=1))
		store.rollback()
		assert store.get_watermark("changes") == T0

	def test_stream_state_is_kept_only_when_committed(self, site):
		store, _ = site
		assert store.get_state("optouts") is None
		store.set_state("optouts", {"expected": [{"email": "a@example.com"}], "reliable": True})
		store.rollback()
		assert store.get_state("optouts") is None
		store.set_state("optouts", {"expected": [], "reliable": False, "reason": "x"})
		store.commit()
		assert store.get_state("optouts") == {"expected": [], "reliable": False, "reason": "x"}

	def test_watermarks_are_per_stream(self, site):
		store, _ = site
		store.set_watermark("changes", T0)
		store.set_watermark("optouts", T0 + timedelta(days=1))
		store.commit()
		assert store.get_watermark("changes") == T0
		assert store.get_watermark("optouts") == T0 + timedelta(days=1)

	# -- contacts --------------------------------------------------------------------------------
	def test_create_then_find_by_cc_id_and_by_email(self, site):
		store, _ = site
		[key] = store.apply_contacts(
			[
				ContactWrite(
					key=None,
					email="ann@example.com",
					opted_out=False,
					cc_contact_id="cc-1",
					fields={"first_name": "Ann"},
				)
			],
			(),
		)
		store.commit()
		by_id = store.find_contacts(["cc-1"], [])
		by_email = store.find_contacts([], ["ann@example.com"])
		assert [c.key for c in by_id] == [key] == [c.key for c in by_email]
		assert by_id[0].fields.get("first_name") == "Ann"
		assert by_id[0].cc_contact_id == "cc-1"

	def test_uncommitted_create_is_lost_on_rollback(self, site):
		store, _ = site
		store.apply_contacts(
			[ContactWrite(key=None, email="gone@example.com", opted_out=False, cc_contact_id="cc-x")], ()
		)
		store.rollback()
		assert store.find_contacts(["cc-x"], ["gone@example.com"]) == []

	def test_find_matches_a_site_contact_by_email_case_insensitively(self, site):
		store, helper = site
		key = helper.add_contact("Bob@Example.COM", first_name="Bob")
		found = store.find_contacts([], ["bob@example.com"])
		assert [c.key for c in found] == [key]
		assert found[0].email == "bob@example.com"

	def test_a_page_read_gives_the_contacts_and_consent_the_separate_reads_give(self, site):
		store, helper = site
		kept = helper.add_contact("Kept@Example.com", first_name="Kept")
		helper.add_contact("quit@example.com")
		helper.unsubscribe_locally("quit@example.com")
		helper.add_lead("leadonly@example.com", unsubscribed=True)
		store.apply_contacts(
			[ContactWrite(key=None, email="moved@example.com", opted_out=True, cc_contact_id="cc-moved")], ()
		)
		store.commit()
		emails = ["kept@example.com", "quit@example.com", "leadonly@example.com", "new@example.com"]
		# CC's contact cc-moved now has another address: found by its id, its old address's consent too.
		found, states = store.read_page(["cc-moved"], [*emails, "moved-now@example.com"])
		assert found == store.find_contacts(["cc-moved"], [*emails, "moved-now@example.com"])
		assert kept in [c.key for c in found]
		expected = store.consent_state([*emails, "moved-now@example.com", "moved@example.com"])
		assert states == expected
		assert states["quit@example.com"].opted_out and states["leadonly@example.com"].opted_out
		assert states["moved@example.com"].opted_out and not states["new@example.com"].opted_out

	def test_update_changes_only_the_fields_given(self, site):
		store, helper = site
		key = helper.add_contact("cat@example.com", first_name="Cat", last_name="Stevens")
		store.apply_contacts(
			[ContactWrite(key=key, email="cat@example.com", opted_out=False, fields={"first_name": "Kat"})],
			(),
		)
		store.commit()
		[contact] = store.find_contacts([], ["cat@example.com"])
		assert contact.fields.get("first_name") == "Kat"
		assert contact.fields.get("last_name") == "Stevens"

	def test_cc_state_is_stored_for_change_detection(self, site):
		store, _ = site
		store.apply_contacts(
			[
				ContactWrite(
					key=None,
					email="dan@example.com",
					opted_out=False,
					cc_contact_id="cc-d",
					cc_permission="implicit",
					cc_deleted=True,
				)
			],
			(),
		)
		store.commit()
		[contact] = store.find_contacts(["cc-d"], [])
		assert contact.cc_permission == "implicit"
		assert contact.cc_deleted is True

	# -- consent ---------------------------------------------------------------------------------
	def _rows(self, store, key, email, rows, **kwargs):
		"""Write member rows as the engine does: stated, on the premise of what the site holds."""
		state = store.consent_state([email])[email]
		[applied] = store.apply_contacts(
			[
				ContactWrite(
					key=key,
					email=email,
					opted_out=kwargs.pop("opted_out", state.opted_out),
					rows=rows,
					premise_opted_out=state.opted_out,
					premise_opted_out_at=state.opted_out_at,
					premise_rows={g: state.rows.get(g) for g in rows},
					**kwargs,
				)
			],
			(),
		)
		store.commit()
		return applied

	def test_cc_optout_unsubscribes_contact_and_every_member_row(self, site):
		store, helper = site
		helper.make_group("News")
		helper.make_group("Events")
		key = helper.add_contact("eve@example.com")
		self._rows(
			store, key, "eve@example.com", {"News": MemberRow(False, T0), "Events": MemberRow(False, T0)}
		)
		assert helper.member_rows("eve@example.com") == {"News": False, "Events": False}
		self._rows(
			store,
			key,
			"eve@example.com",
			{"News": MemberRow(True, T0), "Events": MemberRow(True, T0)},
			opted_out=True,
			opted_out_at=T0,
			cc_clock=True,
			cc_permission="unsubscribed",
		)
		[contact] = store.find_contacts([], ["eve@example.com"])
		assert contact.unsubscribed is True
		assert helper.member_rows("eve@example.com") == {"News": True, "Events": True}
		state = store.consent_state(["eve@example.com"])["eve@example.com"]
		assert state.opted_out and state.cc_clock and state.opted_out_at == T0
		assert "eve@example.com" in store.opted_out_emails(["eve@example.com", "other@example.com"])

	def test_a_row_added_for_an_opted_out_address_is_written_unsubscribed(self, site):
		"""Item 1: the row's state is the engine's, never the store's default."""
		store, helper = site
		helper.make_group("News")
		key = helper.add_contact("olga@example.com")
		helper.unsubscribe_locally("olga@example.com")
		self._rows(store, key, "olga@example.com", {"News": MemberRow(True, T0)})
		assert helper.member_rows("olga@example.com") == {"News": True}

	def test_a_left_list_keeps_its_row_unsubscribed_and_a_cc_delete_removes_a_subscribed_one(self, site):
		store, helper = site
		helper.make_group("News")
		helper.make_group("Events")
		key = helper.add_contact("gus@example.com")
		self._rows(
			store, key, "gus@example.com", {"News": MemberRow(False, T0), "Events": MemberRow(False, T0)}
		)
		self._rows(store, key, "gus@example.com", {"News": MemberRow(True, T0), "Events": None})
		assert helper.member_rows("gus@example.com") == {"News": True}

	def test_a_write_on_a_stale_premise_is_refused(self, site):
		"""Item 10: an opt-out committed after the engine read the site is never erased."""
		store, helper = site
		helper.make_group("News")
		key = helper.add_contact("mid@example.com")
		state = store.consent_state(["mid@example.com"])["mid@example.com"]
		helper.unsubscribe_locally("mid@example.com")  # lands while the page is being applied
		[applied] = store.apply_contacts(
			[
				ContactWrite(
					key=key,
					email="mid@example.com",
					opted_out=False,
					rows={"News": MemberRow(False, T0)},
					premise_opted_out=state.opted_out,
					premise_opted_out_at=state.opted_out_at,
					premise_rows={"News": None},
				)
			],
			(),
		)
		store.commit()
		assert applied is None
		assert helper.member_rows("mid@example.com") == {}
		assert store.consent_state(["mid@example.com"])["mid@example.com"].opted_out

	def test_local_unsubscribe_becomes_a_pending_optout_until_resolved(self, site):
		store, helper = site
		helper.add_contact("hal@example.com")
		helper.unsubscribe_locally("hal@example.com", by_person=True)
		pending = store.pending_optouts()
		assert [p.email for p in pending] == ["hal@example.com"]
		assert pending[0].by_person is True
		assert "hal@example.com" in store.opted_out_emails(["hal@example.com"])
		store.resolve_optout("hal@example.com", "cc-hal", T0)
		store.commit()
		assert store.pending_optouts() == []
		# Resolved means CC holds it; the address is still opted out on the site.
		assert "hal@example.com" in store.opted_out_emails(["hal@example.com"])

	def test_a_deferred_optout_stays_pending_with_its_retry_state(self, site):
		store, helper = site
		helper.add_contact("kim@example.com")
		helper.unsubscribe_locally("kim@example.com")
		[fresh] = store.pending_optouts()
		assert (fresh.attempts, fresh.retry_at, fresh.last_error) == (0, None, None)
		store.defer_optout("kim@example.com", 2, T0 + timedelta(minutes=30), "ServerError: HTTP 503")
		store.commit()
		store.defer_optout("kim@example.com", 3, T0 + timedelta(hours=1), "not kept")
		store.rollback()
		[pending] = store.pending_optouts()
		assert pending.email == "kim@example.com"
		assert (pending.attempts, pending.retry_at, pending.last_error) == (
			2,
			T0 + timedelta(minutes=30),
			"ServerError: HTTP 503",
		)
		assert "kim@example.com" in store.opted_out_emails(["kim@example.com"])

	def test_a_resolved_optout_of_an_address_held_nowhere_else_is_kept(self, site):
		"""Item 6: the opt-out row is the address's record once CC holds it."""
		store, helper = site
		helper.unsubscribe_locally("nowhere@example.com")
		store.resolve_optout("nowhere@example.com", None, T0)
		store.commit()
		assert store.consent_state(["nowhere@example.com"])["nowhere@example.com"].opted_out

	def test_a_resolved_optout_gives_cc_s_id_to_one_contact_of_the_address(self, site):
		"""Two Contacts hold one address (a Lead made one of its own): one of them takes CC's id."""
		store, helper = site
		helper.add_contact("two@example.com", first_name="One")
		helper.add_contact("two@example.com", first_name="Two")
		helper.unsubscribe_locally("two@example.com")
		store.resolve_optout("two@example.com", "cc-two", T0)
		store.commit()
		found = store.find_contacts([], ["two@example.com"])
		assert len(found) == 2 and all(c.unsubscribed for c in found)
		assert [c.cc_contact_id for c in found].count("cc-two") == 1

	@pytest.mark.parametrize("channel", ["lead", "global", "document"])
	def test_every_site_channel_of_optout_is_one_answer(self, site, channel):
		"""Item 6: a Lead, a global or per-document Email Unsubscribe opts the address out for matching,
		creating and pushing alike."""
		store, helper = site
		email = f"{channel}-out@example.com"
		if channel == "lead":
			helper.add_lead(email, unsubscribed=True)
		else:
			helper.email_unsubscribe(email, global_unsubscribe=channel == "global")
		state = store.consent_state([email])[email]
		assert state.opted_out and state.opted_out_at is not None
		assert email in store.opted_out_emails([email])
		key = helper.add_contact(email)
		# ERPNext's Lead makes a Contact of its own on a real site: the one added here is read.
		[contact] = [c for c in store.find_contacts([], [email]) if c.key == key]
		assert contact.key == key and contact.unsubscribed is True

	def test_leaving_one_group_is_not_an_address_optout(self, site):
		"""Item 14: leaving one Email Group leaves that group; the address stays subscribed."""
		store, helper = site
		helper.make_group("News")
		helper.make_group("Events")
		helper.add_contact("leaver@example.com")
		helper.add_member("News", "leaver@example.com")
		helper.add_member("Events", "leaver@example.com")
		helper.leave_group("News", "leaver@example.com")
		state = store.consent_state(["leaver@example.com"])["leaver@example.com"]
		assert not state.opted_out
		assert state.rows["News"].unsubscribed and not state.rows["Events"].unsubscribed
		assert [(p.email, p.group) for p in store.pending_optouts()] == [("leaver@example.com", "News")]
		store.resolve_optout("leaver@example.com", None, T0, group="News")
		store.commit()
		assert store.pending_optouts() == []

	def test_request_cc_optout_queues_a_pending_optout(self, site):
		store, helper = site
		key = helper.add_contact("ida@example.com")
		store.apply_contacts(
			[
				ContactWrite(
					key=key,
					email="ida@example.com",
					opted_out=True,
					opted_out_at=T0,
					request_cc_optout=True,
				)
			],
			(),
		)
		store.commit()
		assert [p.email for p in store.pending_optouts()] == ["ida@example.com"]

	def test_a_lifted_optout_clears_every_address_channel_and_only_the_rows_named(self, site):
		store, helper = site
		helper.make_group("News")
		helper.make_group("Site only")
		key = helper.add_contact("joy@example.com")
		helper.add_lead("joy@example.com")
		helper.add_member("News", "joy@example.com")
		helper.add_member("Site only", "joy@example.com")
		helper.unsubscribe_locally("joy@example.com")
		helper.email_unsubscribe("joy@example.com", global_unsubscribe=True)
		state = store.consent_state(["joy@example.com"])["joy@example.com"]
		assert set(state.channels) >= {"contact", "lead", "unsubscribe"}
		applied = self._rows(
			store,
			key,
			"joy@example.com",
			{"News": MemberRow(False, T0)},
			opted_out=False,
			lift_optout=True,
			cc_permission="explicit",
		)
		assert applied == key
		[contact] = [c for c in store.find_contacts([], ["joy@example.com"]) if c.key == key]
		assert contact.unsubscribed is False
		assert store.pending_optouts() == []
		assert store.opted_out_emails(["joy@example.com"]) == set()
		# Item 7: the site-only group the person left stays left.
		assert helper.member_rows("joy@example.com") == {"News": False, "Site only": True}

	def test_deleted_in_cc_is_excluded_from_push(self, site):
		store, _ = site
		store.apply_contacts(
			[
				ContactWrite(
					key=None, email="kim@example.com", opted_out=False, cc_contact_id="cc-k", cc_deleted=True
				)
			],
			(),
		)
		store.commit()
		assert store.opted_out_emails(["kim@example.com"]) == {"kim@example.com"}

	# -- push, for each target -------------------------------------------------------------------
	def test_push_candidates_of_one_address_are_only_its_records(self, record_site):
		store, helper = record_site
		mine = helper.add_record("Ann.Sync@example.com", first_name="Ann")
		helper.add_record("other.lead@example.com", first_name="Other")
		assert [c.key for c in store.push_candidates(None, email="ann.sync@example.com")] == [mine]
		assert list(store.push_candidates(None, email="nobody@example.com")) == []

	def test_push_candidates_are_the_records_changed_since(self, record_site, target):
		store, helper = record_site
		key = helper.add_record("lee@example.com", first_name="Lee")
		found = {c.key: c for c in store.push_candidates(None)}
		assert key in found
		assert found[key].email.lower() == "lee@example.com"
		if target == SIGN_UP:
			# A sign-up carries no name, and goes only to its own group's lists.
			assert found[key].groups == (SIGN_UP_GROUP,)
		else:
			assert found[key].fields.get("first_name") == "Lee"
			assert found[key].groups is None
		later = max(c.modified for c in found.values()) + timedelta(seconds=1)
		assert key not in {c.key for c in store.push_candidates(later)}
		time.sleep(1.01)  # the site's clock stores whole seconds
		helper.edit_record(key, company_name="Edited Co")
		assert key in {c.key for c in store.push_candidates(later)}

	def test_record_push_sets_status_and_cc_id(self, record_site):
		store, helper = record_site
		key = helper.add_record("max@example.com")
		store.record_push([PushOutcome(key, "Pushed", None, "act-1", "cc-max", at=T0)])
		store.commit()
		[candidate] = [c for c in store.push_candidates(None) if c.key == key]
		assert candidate.cc_contact_id == "cc-max"
		assert candidate.pushed_at == T0

	def test_a_record_of_an_opted_out_address_is_opted_out(self, record_site):
		store, helper = record_site
		helper.add_record("ned@example.com")
		helper.unsubscribe_locally("ned@example.com")
		assert store.opted_out_emails(["ned@example.com"]) == {"ned@example.com"}

	def test_a_record_s_own_optout_opts_its_address_out_or_leaves_its_group(self, record_site, target):
		"""A Lead's Unsubscribed and a CRM Lead's Email Unsubscribe opt the address out, and CC is to be
		told; a sign-up's leave is a leave of its group only, and the row is never pushed again."""
		store, helper = record_site
		email = "own-out@example.com"
		key = helper.add_record(email, first_name="Own")
		helper.own_optout(email)
		state = store.consent_state([email])[email]
		pending = {(p.email, p.group) for p in store.pending_optouts()}
		if target == SIGN_UP:
			assert not state.opted_out and state.rows[SIGN_UP_GROUP].unsubscribed
			assert pending == {(email, SIGN_UP_GROUP)}
			assert key not in {c.key for c in store.push_candidates(None)}
		else:
			assert state.opted_out and state.opted_out_at is not None
			assert {LEAD: "lead", CRM_LEAD: "unsubscribe"}[target] in state.channels
			assert email in store.opted_out_emails([email])
			assert pending == {(email, None)}

	def test_a_record_makes_a_contact_only_where_its_host_app_does(self, record_site, target):
		"""ERPNext's Lead makes a Contact of its own address (not opted out, not linked to CC); a CRM Lead
		has none until it becomes a deal; a sign-up has none."""
		store, helper = record_site
		helper.add_record("made@example.com", first_name="Made")
		found = store.find_contacts([], ["made@example.com"])
		if target == LEAD:
			[contact] = found
			assert not contact.unsubscribed and contact.cc_contact_id is None
			assert contact.fields.get("first_name") == "Made"
		else:
			assert found == []

	def test_a_lifted_optout_clears_the_record_s_own_optout_but_not_a_sign_up_s_leave(
		self, record_site, target
	):
		"""CC reports the person's newer opt-in: the record's own opt-out goes and the record is pushed
		again; a sign-up row that left its group stays left and is never pushed."""
		store, helper = record_site
		email = "lifted@example.com"
		key = helper.add_record(email, first_name="Lift")
		contact = helper.add_contact(email)
		helper.own_optout(email)
		helper.unsubscribe_locally(email)
		applied = self._rows(store, contact, email, {}, opted_out=False, lift_optout=True)
		assert applied == contact
		assert store.opted_out_emails([email]) == set()
		left = [(email, SIGN_UP_GROUP)] if target == SIGN_UP else []
		assert [(p.email, p.group) for p in store.pending_optouts()] == left
		candidates = {c.key for c in store.push_candidates(None, email=email)}
		assert (key in candidates) is (target != SIGN_UP)

	def test_a_lead_set_to_do_not_contact_is_never_pushed_and_opts_its_address_out(self, site):
		store, helper = site
		key = helper.add_lead("dnc@example.com", first_name="Dnc")
		helper.edit_lead(key, status="Do Not Contact")
		assert key not in {c.key for c in store.push_candidates(None)}
		state = store.consent_state(["dnc@example.com"])["dnc@example.com"]
		assert state.opted_out and "lead" in state.channels
		assert [p.email for p in store.pending_optouts()] == ["dnc@example.com"]

	# -- activities ------------------------------------------------------------------------------
	def test_activities_stay_open_until_finished(self, site):
		store, _ = site
		record = ActivityRecord(
			chunk_id="c1",
			kind="import",
			state="submitting",
			submitted_at=T0,
			keys=["L1"],
			emails=["a@example.com"],
		)
		store.save_activity(record)
		store.commit()
		[open_record] = store.open_activities()
		assert open_record.state == "submitting"
		assert open_record.keys == ["L1"]
		record.activity_id = "act-9"
		record.state = "completed"
		record.finished = True
		store.save_activity(record)
		store.commit()
		assert store.open_activities() == []

	def test_activity_saved_but_not_committed_is_lost(self, site):
		store, _ = site
		store.save_activity(ActivityRecord(chunk_id="c2", kind="import", state="submitting", submitted_at=T0))
		store.rollback()
		assert store.open_activities() == []

	def test_deleted_count_is_kept_only_when_committed(self, site):
		store, _ = site
		assert store.get_deleted_count() is None
		store.set_deleted_count(12)
		store.commit()
		store.set_deleted_count(13)
		store.rollback()
		assert store.get_deleted_count() == 12

	def test_count_cc_deleted_counts_the_site_contacts_held_as_deleted(self, site):
		store, _ = site
		keys = store.apply_contacts(
			[
				# Read from CC's export of deleted contacts, whose rows carry no CC id.
				ContactWrite(key=None, email="d0@example.com", opted_out=False, cc_deleted=True),
				ContactWrite(
					key=None, email="d1@example.com", opted_out=False, cc_contact_id="cc-d1", cc_deleted=True
				),
				ContactWrite(
					key=None, email="d2@example.com", opted_out=False, cc_contact_id="cc-d2", cc_deleted=True
				),
				ContactWrite(
					key=None,
					email="live@example.com",
					opted_out=False,
					cc_contact_id="cc-live",
					cc_deleted=False,
				),
			],
			(),
		)
		store.commit()
		assert store.count_cc_deleted() == 3
		store.apply_contacts(
			[ContactWrite(key=keys[2], email="d2@example.com", opted_out=False, cc_deleted=False)], ()
		)
		store.commit()
		assert store.count_cc_deleted() == 2

	def test_a_newer_local_optout_moves_the_optout_time_forward(self, site):
		store, helper = site
		helper.add_contact("later@example.com")
		helper.unsubscribe_locally("later@example.com")
		first = store.pending_optouts()[0].at
		time.sleep(0.05)
		helper.unsubscribe_locally("later@example.com")
		[pending] = store.pending_optouts()
		assert pending.at > first
		[contact] = store.find_contacts([], ["later@example.com"])
		assert (
			contact.opted_out_at is not None and abs((contact.opted_out_at - pending.at).total_seconds()) < 1
		)
