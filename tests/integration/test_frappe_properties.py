"""The consent property suite (tests/consent_world.py) on the Frappe store, in a real site.

Every site event goes through Frappe's own documents and the app's doc_events (a Contact or Lead ticked
Unsubscribed, an Email Unsubscribe, an Email Group Member left or added), and the promise is read back
from the site's tables. The site's clock is the world's: Frappe's `now` follows the world's site clock,
so CC's and the site's clocks differ by the scripted skew only. Fewer examples than tier 1, replayed
from a fixed set under CI. Crashes at a store write are tier 1's (the in-memory store can stop at any
write); faults in CC's answers are played here too.
"""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import frappe

from cc_sync.cc_sync.constants import CONTACT, EMAIL_UNSUBSCRIBE, LEAD
from cc_sync.cc_sync.store import contact_reads, record_local_optout, to_site
from cc_sync.sync.config import ListMapping
from cc_sync.sync.matching import normalise_email
from tests.consent_world import (
	ADDRESSES,
	CRM_LEAD,
	GROUP,
	SIGN_UP,
	TRANSIENT_5XX,
	Events,
	SkewedClock,
	cadences,
	check_promise,
	consent_of,
	final_state,
	hour_skews,
	mapping_scripts,
	play,
	scripts,
	skews,
	transient_rates,
	twin_scripts,
)
from tests.integration import frappe_site as helpers
from tests.integration import target_sites

IN_CI = bool(os.environ.get("CI"))
EXAMPLES = int(os.environ.get("CC_SYNC_SITE_EXAMPLES", 8))
# The push targets the worlds play through on this site.
TARGETS = (LEAD, CRM_LEAD, SIGN_UP)
# Frappe's clock, and every name the app and Frappe bound it under.
NOW_BINDINGS = (
	"frappe.utils.data.now_datetime",
	"frappe.utils.now_datetime",
	"cc_sync.cc_sync.store.contact_writes.now_datetime",
	"cc_sync.cc_sync.store.optouts.now_datetime",
	"cc_sync.tasks.now_datetime",
)


class NeverRaised(BaseException):
	pass


def _contacts(email: str) -> list[str]:
	"""The Contacts holding exactly this address (the column's collation takes rené@ for rene@)."""
	rows = frappe.db.sql(
		"select parent, email_id from `tabContact Email` where parenttype = 'Contact' and email_id = %s",
		email,
	)
	return list(dict.fromkeys(parent for parent, address in rows if _same(address, email)))


def _leads(email: str) -> list[str]:
	rows = frappe.get_all(LEAD, filters={"email_id": email}, fields=["name", "email_id"], order_by="creation")
	return [r.name for r in rows if _same(r.email_id, email)]


def _same(stored: str | None, email: str) -> bool:
	return normalise_email(stored) == normalise_email(email)


class FrappeWorldSite:
	"""What users do on the site, through Frappe's documents, and what the site's tables hold, with the
	records of one push target."""

	crash_type = NeverRaised

	def __init__(self, store, target: str = LEAD) -> None:
		self.store = store
		self.target = target
		self.helper = target_sites.TargetSite(target, GROUP)
		self._real_apply = None
		# The Contacts a Lead's own insert made: ERPNext's Lead makes one for every new Lead
		# (`Lead.before_insert` → `create_contact`), whatever Contacts its address already has.
		self.lead_made: set[str] = set()

	# -- events ------------------------------------------------------------------------------------
	def _records(self, email: str) -> list[str]:
		return _leads(email) if self.target == LEAD else target_sites.records(self.target, email)

	def add_lead(self, email: str, **fields) -> None:
		if not self._records(email):
			before = set(_contacts(email))
			self.helper.add_record(email, **fields)
			self.lead_made |= set(_contacts(email)) - before if self.target == LEAD else set()

	def edit_lead(self, email: str, **fields) -> None:
		for name in self._records(email):
			self.helper.edit_record(name if self.target == LEAD else f"{self.target}::{name}", **fields)

	def add_contact(self, email: str, **fields) -> None:
		if not _contacts(email):
			self.helper.add_contact(email, **fields)

	def opt_out(self, email: str, channel: str, *, by_person: bool = False) -> None:
		records = self._records(email)
		if channel in ("lead", "status") and self.target != LEAD:
			# A CRM Lead's unsubscribe link writes an Email Unsubscribe for it; a sign-up has no opt-out of
			# its address of its own: the person opts out on their Contact.
			if self.target == SIGN_UP or not records or _unsubscribed_for(email, self.target):
				channel = "contact"
			else:
				self.helper.own_optout(email)
				return
		if (
			channel == "status"
			and records
			and frappe.db.get_value(LEAD, records[0], "status") != "Do Not Contact"
		):
			self.helper.edit_lead(records[0], status="Do Not Contact")
			return
		if channel == "contact" and _contacts(email):
			self.helper.unsubscribe_in_desk(sorted(_contacts(email))[0])
		elif channel in ("lead", "status") and records:
			doc = frappe.get_doc(LEAD, records[0])
			if not doc.unsubscribed:
				doc.unsubscribed = 1
				doc.save(ignore_permissions=True)
				frappe.db.commit()
			else:
				record_local_optout(email, by_person=by_person)
				frappe.db.commit()
		elif channel in ("global", "document") and not any(
			_same(r.email, email)
			for r in frappe.get_all(
				"Email Unsubscribe",
				{"email": email, "global_unsubscribe": 1 if channel == "global" else 0},
				["email"],
			)
		):
			self.helper.email_unsubscribe(email, global_unsubscribe=channel == "global")
		else:
			record_local_optout(email, by_person=by_person)
			frappe.db.commit()

	def leave_group(self, email: str, group: str, *, by_person: bool = False) -> None:
		self.helper.leave_group(group, email)

	def map_lists(self, mappings) -> None:
		"""The settings' list mappings change (what a group leave records is read from them)."""
		self.helper.map_lists(mappings)

	def join_group(self, email: str, group: str) -> None:
		self.helper.make_group(group)
		if group not in self.helper.member_rows(email):
			self.helper.add_member(group, email)

	# -- runs --------------------------------------------------------------------------------------
	def arm(self, land, crash_after: int | None) -> None:
		real = type(self.store).apply_contacts

		def apply_contacts(writes, managed_groups=()):
			land()
			return real(self.store, writes, managed_groups)

		self.store.apply_contacts = apply_contacts

	def disarm(self) -> None:
		self.store.__dict__.pop("apply_contacts", None)

	# -- what the site holds -----------------------------------------------------------------------
	def contact(self, email: str):
		names = sorted(_contacts(email))
		if not names:
			return None
		row = frappe.db.get_value(
			CONTACT, names[0], ["unsubscribed", "cc_deleted", "first_name", "cc_contact_id"], as_dict=True
		)
		return (bool(row.unsubscribed), bool(row.cc_deleted), row.first_name, bool(row.cc_contact_id))

	def contact_count(self, email: str) -> int:
		"""The Contacts of the address the sync or a person made, less those ERPNext's Lead made."""
		return len([name for name in _contacts(email) if name not in self.lead_made])

	def cc_ids(self) -> list[str]:
		ids = []
		for email in ADDRESSES:
			for name in _contacts(email):
				cc_id = frappe.db.get_value(CONTACT, name, "cc_contact_id")
				if cc_id:
					ids.append(cc_id)
		return list(dict.fromkeys(ids)) if len(set(ids)) == len(ids) else ids

	def cc_id(self, email: str) -> str | None:
		"""The CC id of the Contact the site takes for the address (the app's one rule)."""
		name = contact_reads.contact_for(email)
		return frappe.db.get_value(CONTACT, name, "cc_contact_id") if name else None

	def opted_out(self, email: str) -> bool:
		return self.store.consent_state([email])[email].opted_out

	def member_rows(self, email: str) -> dict[str, bool]:
		return self.helper.member_rows(email)

	def leads(self, email: str) -> list[tuple]:
		"""The push bookkeeping of the address's records of the target."""
		field = target_sites.EMAIL_FIELD[self.target]
		return [
			(r.cc_push_status or None, bool(r.cc_contact_id))
			for r in frappe.get_all(
				self.target, filters={field: email}, fields=[field, "cc_push_status", "cc_contact_id"]
			)
			if _same(r.get(field), email)
		]


def _unsubscribed_for(email: str, doctype: str) -> bool:
	"""Whether the address already has an Email Unsubscribe for a record of this DocType."""
	rows = frappe.get_all(EMAIL_UNSUBSCRIBE, {"email": email, "reference_doctype": doctype}, ["email"])
	return any(_same(r.email, email) for r in rows)


@pytest.fixture
def frappe_world(monkeypatch):
	"""A world factory on the Frappe store, with Frappe's clock following the world's site clock. Each
	world starts from a site without the rows the previous one made."""
	from cc_sync.cc_sync.constants import SETTINGS, SETTINGS_DELETED_COUNT, SETTINGS_SYNC_STATE
	from cc_sync.sync.engine import SyncEngine
	from tests.world import make_world as make_engine_world

	current: dict = {}

	def site_now() -> datetime:
		clock = current.get("clock")
		return to_site(clock.now() if clock else datetime.now(timezone.utc))

	for target in NOW_BINDINGS:
		monkeypatch.setattr(target, site_now)
	states: list = []

	def factory(skew: int, target: str = LEAD):
		def make(seed: int):
			current.pop("clock", None)
			if states:
				helpers.end_test(states.pop())
			states.append(helpers.begin_test())
			frappe.db.set_single_value(
				SETTINGS, {SETTINGS_DELETED_COUNT: 0, SETTINGS_SYNC_STATE: None}, update_modified=False
			)
			frappe.db.commit()
			start = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=2)
			w = make_engine_world(start, rng_seed=seed)
			site_clock = SkewedClock(w.clock, skew)
			current["clock"] = site_clock
			helpers.FrappeSite().make_group(GROUP)
			w.config = replace(w.config, list_mappings=(ListMapping(w.list_id, GROUP, "both"),))
			w.store = target_sites.target_store(target)
			w.engine = SyncEngine(w.client, w.store, w.config, site_clock)
			w.site = FrappeWorldSite(w.store, target)
			w.map_lists(*w.config.list_mappings)  # the settings say what the engine runs with
			w.events = Events()
			w.midpage = []
			return w

		return make

	yield factory
	current.pop("clock", None)
	if states:
		helpers.end_test(states.pop())


@pytest.mark.parametrize("target", TARGETS)
@settings(
	max_examples=EXAMPLES,
	derandomize=IN_CI,
	deadline=None,
	suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(scripts, skews, cadences)
def test_clean_runs_keep_the_promise_on_the_frappe_store(frappe_world, target, script, skew, cadence):
	w = play(frappe_world(skew, target), script, cadence=cadence)
	check_promise(w)


@pytest.mark.parametrize("target", TARGETS)
@settings(
	max_examples=max(1, EXAMPLES // 2),
	derandomize=IN_CI,
	deadline=None,
	suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(scripts, skews, st.sampled_from([0.05, 0.2]), st.integers(0, 1000), cadences)
def test_faults_end_where_a_clean_run_ends_on_the_frappe_store(
	frappe_world, target, script, skew, fault_rate, seed, cadence
):
	clean = final_state(play(frappe_world(skew, target), script, cadence=cadence))
	faulty = play(frappe_world(skew, target), script, faults=fault_rate, seed=seed, cadence=cadence)
	check_promise(faulty)
	assert final_state(faulty) == clean


@pytest.mark.parametrize("target", TARGETS)
@settings(
	max_examples=max(1, EXAMPLES // 2),
	derandomize=IN_CI,
	deadline=None,
	suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(twin_scripts, skews, st.sampled_from([0.0, 0.05]), st.integers(0, 1000), cadences)
def test_addresses_differing_only_by_accent_width_or_sharp_s_are_two_people_on_the_frappe_store(
	frappe_world, target, script, skew, fault_rate, seed, cadence
):
	"""rené@ and rene@, straße@ and strasse@, full-width and plain, with CC values of any length in
	every mapped field: the promise holds for each, every page lands, faults end where a clean run ends."""
	clean = play(frappe_world(skew, target), script, cadence=cadence)
	check_promise(clean)
	clean_state = final_state(clean)
	faulty = play(frappe_world(skew, target), script, faults=fault_rate, seed=seed, cadence=cadence)
	check_promise(faulty)
	assert final_state(faulty) == clean_state


# -- mapping worlds: the list remapped, unmapped, turned, and the sync switched off and on --------------
@pytest.mark.parametrize("target", TARGETS)
@settings(
	max_examples=EXAMPLES,
	derandomize=IN_CI,
	deadline=None,
	suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(mapping_scripts, skews, cadences)
def test_mapping_changes_keep_the_promise_on_the_frappe_store(frappe_world, target, script, skew, cadence):
	w = play(frappe_world(skew, target), script, cadence=cadence)
	check_promise(w)


@pytest.mark.parametrize("target", TARGETS)
@settings(
	max_examples=max(1, EXAMPLES // 2),
	derandomize=IN_CI,
	deadline=None,
	suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(mapping_scripts, skews, st.sampled_from([0.05, 0.2]), st.integers(0, 1000), cadences)
def test_mapping_changes_with_faults_end_where_a_clean_run_ends_on_the_frappe_store(
	frappe_world, target, script, skew, fault_rate, seed, cadence
):
	clean = final_state(play(frappe_world(skew, target), script, cadence=cadence))
	faulty = play(frappe_world(skew, target), script, faults=fault_rate, seed=seed, cadence=cadence)
	check_promise(faulty)
	assert final_state(faulty) == clean


@pytest.mark.parametrize("target", TARGETS)
@settings(
	max_examples=max(1, EXAMPLES // 2),
	derandomize=IN_CI,
	deadline=None,
	suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(scripts, hour_skews, cadences)
def test_a_site_clock_an_hour_off_cc_s_keeps_the_promise_without_the_reconcile_on_the_frappe_store(
	frappe_world, target, script, skew, cadence
):
	w = play(frappe_world(skew, target), script, cadence=cadence, reconcile=False)
	check_promise(w, reconciled=False)


@pytest.mark.parametrize("target", TARGETS)
@settings(
	max_examples=max(1, EXAMPLES // 2),
	derandomize=IN_CI,
	deadline=None,
	suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(scripts, skews, transient_rates, st.integers(0, 1000), cadences)
def test_transient_5xx_on_every_cc_call_end_where_a_clean_history_ends_on_the_frappe_store(
	frappe_world, target, script, skew, rate, seed, cadence
):
	clean = final_state(play(frappe_world(skew, target), script, cadence=cadence))
	faulty = play(
		frappe_world(skew, target),
		script,
		faults=rate,
		seed=seed,
		cadence=cadence,
		fault_kinds=TRANSIENT_5XX,
		rerun=False,
	)
	check_promise(faulty)
	assert consent_of(final_state(faulty)) == consent_of(clean)
