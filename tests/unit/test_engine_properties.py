"""Property: whatever CC and the site do, in any order, with crashes and faults anywhere, the promise
holds (tests/consent_world.py states it), the sync ends where a clean run ends, and nothing is
duplicated or lost. Played here on the in-memory store; tier 2 plays the same suite on the Frappe store.

Every test plays through each push target (`TARGETS`: Lead, CRM Lead, newsletter sign-ups).

Each example plays one random script twice: once cleanly, once with a crash at a random store write of a
random run and with 5xx, timeouts, malformed bodies, 429s and expired tokens injected at random. Both
worlds then run until quiet, and their final states are compared by email.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from cc_sync.sync.matching import normalise_email
from cc_sync.sync.streams import DEFAULT_INTERVAL_MINUTES
from cc_sync_testkit.memory import DO_NOT_CONTACT
from tests.consent_world import (
	GROUP,
	LEAD,
	SIGN_UP,
	TARGETS,
	TRANSIENT_5XX,
	Events,
	SkewedClock,
	Step,
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
from tests.world import make_world as make_engine_world

# CI replays a fixed set of examples, so a red build always means the change under test; anywhere
# else the search explores anew, and CC_SYNC_EXAMPLES makes it search harder.
IN_CI = bool(os.environ.get("CI"))


def examples(default: int) -> int:
	return int(os.environ.get("CC_SYNC_EXAMPLES", default))


class SimulatedCrash(BaseException):
	"""A worker killed mid-run: not an Exception, so nothing in the engine can swallow it."""


class MemorySite:
	"""What users do on the site, and what it holds, on the in-memory store, through one push target."""

	crash_type = SimulatedCrash

	def __init__(self, store, target: str = LEAD) -> None:
		self.store = store
		self.target = target
		store.push_doctypes = {target}

	# -- events ------------------------------------------------------------------------------------
	def _records(self, email: str) -> list:
		return [
			r
			for r in self.store.leads.values()
			if r.doctype == self.target and normalise_email(r.email) == email
		]

	def add_lead(self, email: str, **fields) -> None:
		if not self._records(email):
			self.store.add_lead(email, doctype=self.target, **fields)
			self.store.commit()

	def edit_lead(self, email: str, **fields) -> None:
		if self.target == SIGN_UP:
			# A member row saved again (it has no name to edit): changed, so pushed again.
			for group in self.store.members.groups_of(email):
				self.store.members.at[(group, email)] = self.store._now()
		for lead in self._records(email):
			self.store.edit_lead(lead.key, **fields)
		self.store.commit()

	def add_contact(self, email: str, **fields) -> None:
		if self.store.contact_by_email(email) is None:
			self.store.add_contact(email, **fields)

	def opt_out(self, email: str, channel: str, *, by_person: bool = False) -> None:
		records = self._records(email)
		if channel == "status" and self.target == LEAD and records and records[0].status != DO_NOT_CONTACT:
			self.store.edit_lead(records[0].key, status=DO_NOT_CONTACT)
			if not self.store.do_not_contact_is_optout:
				self.store.unsubscribe_locally(email, by_person=by_person)
		elif channel in ("lead", "status") and self.target != LEAD:
			# A CRM Lead's unsubscribe link writes an Email Unsubscribe for it; a sign-up has no opt-out of
			# its address of its own (leaving its group is a leave): the person opts out on their Contact.
			kind = "document" if self.target != SIGN_UP and records else "contact"
			self.store.unsubscribe_locally(email, by_person=by_person, channel=kind)
		else:
			self.store.unsubscribe_locally(
				email, by_person=by_person, channel="lead" if channel == "status" else channel
			)
		self.store.commit()

	def leave_group(self, email: str, group: str, *, by_person: bool = False) -> None:
		self.store.leave_group(email, group, by_person=by_person)
		self.store.commit()

	def join_group(self, email: str, group: str) -> None:
		self.store.join_group(email, group)
		self.store.commit()

	# -- runs --------------------------------------------------------------------------------------
	def arm(self, land, crash_after: int | None) -> None:
		count = 0

		def before_write(operation: str) -> None:
			nonlocal count
			# The scripted opt-out lands at the run's first store write, whatever the write: a crash at that
			# write then comes after it in both worlds, so the clean and the crashed world see one history.
			land()
			count += 1
			if crash_after is not None and count > crash_after:
				raise SimulatedCrash()

		self.store.before_write = before_write

	def disarm(self) -> None:
		self.store.before_write = None

	# -- what the site holds -----------------------------------------------------------------------
	def contact(self, email: str):
		site = self.store.contact_by_email(email)
		if site is None:
			return None
		return (
			site.unsubscribed,
			site.cc_deleted,
			site.fields.get("first_name"),
			site.cc_contact_id is not None,
		)

	def contact_count(self, email: str) -> int:
		"""The Contacts of the address the sync or a person made, less those a Lead made for itself."""
		return sum(
			1
			for c in self.store.contacts.values()
			if c.email == email and c.key not in self.store.lead_contacts
		)

	def cc_ids(self) -> list[str]:
		return [c.cc_contact_id for c in self.store.contacts.values() if c.cc_contact_id]

	def cc_id(self, email: str) -> str | None:
		site = self.store.contact_by_email(email)
		return site.cc_contact_id if site else None

	def opted_out(self, email: str) -> bool:
		return self.store.consent_state([email])[email].opted_out

	def member_rows(self, email: str) -> dict[str, bool]:
		return {g: u for (g, e), u in self.store.members.items() if e == email}

	def leads(self, email: str) -> list[tuple]:
		"""The push bookkeeping of the address's records of the target."""
		if self.target == SIGN_UP:
			records = [r for (_g, e), r in self.store.sign_up_push.items() if e == email]
		else:
			records = self._records(email)
		return [(r.push_status, r.cc_contact_id is not None) for r in records]


def memory_world(skew: int = 0, target: str = LEAD):
	def make(seed: int):
		w = make_engine_world(rng_seed=seed)
		site_clock = SkewedClock(w.clock, skew)
		w.store._now = site_clock.now
		w.engine.clock = site_clock
		w.site = MemorySite(w.store, target)
		w.events = Events()
		w.midpage = []
		assert GROUP == w.config.list_mappings[0].group
		return w

	return make


@pytest.mark.parametrize("target", TARGETS)
@settings(
	max_examples=examples(60),
	derandomize=IN_CI,
	deadline=None,
	suppress_health_check=[HealthCheck.too_slow],
)
@given(scripts, skews, cadences)
def test_clean_runs_keep_the_promise_and_lose_nothing(target, script, skew, cadence):
	w = play(memory_world(skew, target), script, cadence=cadence)
	check_promise(w)


@pytest.mark.parametrize("target", TARGETS)
@settings(
	max_examples=examples(80),
	derandomize=IN_CI,
	deadline=None,
	suppress_health_check=[HealthCheck.too_slow],
)
@given(
	scripts,
	skews,
	st.integers(0, 4),
	st.integers(0, 12),
	st.sampled_from([0.0, 0.05, 0.2]),
	st.integers(0, 1000),
	cadences,
)
# A lost answer to an import's submit, then the person signs up in CC: CC had finished the import by then,
# so their form's name wins in both worlds.
@example(
	script=[
		Step("tick", "", 0),
		Step("site_lead", "u0@example.com", 0),
		Step("tick", "", 3),
		Step("cc_add", "u0@example.com", 0),
	],
	skew=0,
	crash_run=0,
	crash_after=0,
	fault_rate=0.05,
	seed=372,
	cadence=dict(DEFAULT_INTERVAL_MINUTES),
)
# An import's submit answer lost while CC runs it for a few seconds: the run waits for it as for a known
# import, so the site holds the group row, and the person can leave it, as after a clean run.
@example(
	script=[
		Step("site_lead", "u2@example.com", 0),
		Step("run", "", 1),
		Step("site_leave", "u2@example.com", 0),
	],
	skew=0,
	crash_run=1,
	crash_after=0,
	fault_rate=0.2,
	seed=222,
	cadence=dict(DEFAULT_INTERVAL_MINUTES),
)
def test_crashes_and_faults_end_where_a_clean_run_ends(
	target, script, skew, crash_run, crash_after, fault_rate, seed, cadence
):
	clean = play(memory_world(skew, target), script, cadence=cadence)
	faulty = play(
		memory_world(skew, target),
		script,
		crash_run=crash_run,
		crash_after=crash_after,
		faults=fault_rate,
		seed=seed,
		cadence=cadence,
	)
	check_promise(faulty)
	assert final_state(faulty) == final_state(clean)


@pytest.mark.parametrize("target", TARGETS)
@settings(
	max_examples=examples(40),
	derandomize=IN_CI,
	deadline=None,
	suppress_health_check=[HealthCheck.too_slow],
)
@given(twin_scripts, skews, st.sampled_from([0.0, 0.05]), st.integers(0, 1000), cadences)
def test_addresses_differing_only_by_accent_width_or_sharp_s_are_two_people(
	target, script, skew, fault_rate, seed, cadence
):
	"""rené@ and rene@, straße@ and strasse@, full-width and plain: each keeps the promise on its own,
	with CC values of any length in every mapped field, and faults end where a clean run ends."""
	clean = play(memory_world(skew, target), script, cadence=cadence)
	check_promise(clean)
	faulty = play(memory_world(skew, target), script, faults=fault_rate, seed=seed, cadence=cadence)
	check_promise(faulty)
	assert final_state(faulty) == final_state(clean)


# -- mapping worlds: the list remapped, unmapped, turned, and the sync switched off and on --------------
@pytest.mark.parametrize("target", TARGETS)
@settings(
	max_examples=examples(60),
	derandomize=IN_CI,
	deadline=None,
	suppress_health_check=[HealthCheck.too_slow],
)
@given(mapping_scripts, skews, cadences)
# A leave made while the sync is off, then the list remapped: the person leaves the list in CC and never
# becomes a subscribed member of the group it fills now.
@example(
	script=[
		Step("cc_add", "u0@example.com", 1),
		Step("run", "", 0),
		Step("sync_off", "", 0),
		Step("site_leave", "u0@example.com", 0),
		Step("map_remap", "", 0),
		Step("sync_on", "", 0),
		Step("run", "", 0),
	],
	skew=0,
	cadence=dict(DEFAULT_INTERVAL_MINUTES),
)
def test_mapping_changes_keep_the_promise(target, script, skew, cadence):
	w = play(memory_world(skew, target), script, cadence=cadence)
	check_promise(w)


@pytest.mark.parametrize("target", TARGETS)
@settings(
	max_examples=examples(40),
	derandomize=IN_CI,
	deadline=None,
	suppress_health_check=[HealthCheck.too_slow],
)
@given(
	mapping_scripts,
	skews,
	st.integers(0, 4),
	st.integers(0, 12),
	st.sampled_from([0.0, 0.05, 0.2]),
	st.integers(0, 1000),
	cadences,
)
def test_mapping_changes_with_crashes_and_faults_end_where_a_clean_run_ends(
	target, script, skew, crash_run, crash_after, fault_rate, seed, cadence
):
	clean = play(memory_world(skew, target), script, cadence=cadence)
	faulty = play(
		memory_world(skew, target),
		script,
		crash_run=crash_run,
		crash_after=crash_after,
		faults=fault_rate,
		seed=seed,
		cadence=cadence,
	)
	check_promise(faulty)
	assert final_state(faulty) == final_state(clean)


@pytest.mark.parametrize("target", TARGETS)
@settings(
	max_examples=examples(40),
	derandomize=IN_CI,
	deadline=None,
	suppress_health_check=[HealthCheck.too_slow],
)
@given(scripts, hour_skews, cadences)
def test_a_site_clock_an_hour_off_cc_s_keeps_the_promise_without_the_reconcile(target, script, skew, cadence):
	"""The streams alone (no full reconcile at the end) carry every CC change and keep every opt-out,
	with the site's clock an hour ahead of CC's or an hour behind it."""
	w = play(memory_world(skew, target), script, cadence=cadence, reconcile=False)
	check_promise(w, reconciled=False)


@pytest.mark.parametrize("target", TARGETS)
@settings(
	max_examples=examples(40),
	derandomize=IN_CI,
	deadline=None,
	suppress_health_check=[HealthCheck.too_slow],
)
@given(scripts, skews, transient_rates, st.integers(0, 1000), cadences)
def test_transient_5xx_on_every_cc_call_end_where_a_clean_history_ends(
	target, script, skew, rate, seed, cadence
):
	"""CC answers 500 or 503 to any call at up to one call in two, and no clean run follows a faulty one:
	the promise holds and everyone's consent, in CC and on the site, ends where a clean history leaves it."""
	clean = play(memory_world(skew, target), script, cadence=cadence)
	faulty = play(
		memory_world(skew, target),
		script,
		faults=rate,
		seed=seed,
		cadence=cadence,
		fault_kinds=TRANSIENT_5XX,
		rerun=False,
	)
	check_promise(faulty)
	# Without a clean rerun a fault can delay a push past a CC event (the person signs up in CC before
	# their lead's import went through), so lists may differ; consent may not.
	assert consent_of(final_state(faulty)) == consent_of(final_state(clean))
