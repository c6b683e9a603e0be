"""The consent property suite, written once for any store.

A script of CC events, site events and sync runs is played against the emulator and a store; the promise
is then checked as the product states it (`check_promise`), and two plays of one script (clean, and with
crashes and faults) must end in the same state (`final_state`). Tier 1 plays it on the in-memory store
(tests/unit/test_engine_properties.py), tier 2 on the Frappe store in a real site
(tests/integration/test_frappe_properties.py), through a `site` adapter that performs what users do
and reads back what the site holds.

The world has: CC contacts added, edited, unsubscribed, opted in again by the person, deleted (and back when the person signs up again), put on
and taken off the mapped list by the account owner, and joining or leaving that list themselves; site
leads and contacts, opt-outs through every site channel (Contact, Lead, global and per-document Email
Unsubscribe), leaving and joining the mapped group and a group only the site has; site writes that land
while a page is being applied; and a site clock that differs from CC's by up to five minutes (or by an
hour, either way, in worlds of their own), and CC answering transient 5xx to any call.

Every world is played through one push target, the kind of record the site's people make and the sync
pushes (`TARGETS`): ERPNext's Lead (its own Contact, its Unsubscribed check and Do Not Contact status as
opt-outs), Frappe CRM's CRM Lead (no opt-out of its own: an unsubscribe link of an email sent from it
writes an Email Unsubscribe for it), or a newsletter sign-up (a member row of the group the list is
mapped to; its own opt-out is leaving that group). The site adapter makes and edits the target's records.

Runs come two ways: "Sync now" with every stream, and scheduler ticks that run each scheduled job that
is due with its own streams (the product's job table), on the default cadences or on random ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from cc_sync.sync.streams import DEFAULT_INTERVAL_MINUTES, JOB_STREAMS

EMAILS = [f"u{i}@example.com" for i in range(5)]
# Pairs MariaDB's collation calls equal (an accent, ß, full-width letters): two people each.
TWINS = [
	"rené@example.com",
	"rene@example.com",
	"straße@example.com",
	"strasse@example.com",
	"ｒｏｓａ@example.com",
	"rosa@example.com",
]
# Frappe's forms take only ASCII addresses: the site's own events use those; CC's use every one.
TWINS_ON_SITE = [e for e in TWINS if e.isascii()]
ADDRESSES = EMAILS + TWINS
# What a site's name columns hold (Frappe's Data fields); the in-memory store holds any length.
NAME_FIT = 140
GROUP = "Newsletter"
SITE_ONLY = "Site only"
# "lead" is the record's own opt-out and "status" its opt-out by status (a Lead's Do Not Contact): each
# target's site adapter says what they are for its records.
CHANNELS = ("contact", "lead", "global", "document", "status")
LEAD = "Lead"
CRM_LEAD = "CRM Lead"
SIGN_UP = "Email Group Member"
TARGETS = (LEAD, CRM_LEAD, SIGN_UP)
MAX_SKEW = 300
# CC finishes a bulk import in its own time, polled or not (seconds for the few rows played here): well
# within the 20 seconds that follow any run, so both worlds see it done before the next event.
IMPORT_SECONDS = 10


@dataclass(frozen=True)
class Step:
	kind: str
	email: str
	value: int = 0
	# A CC value of any length and any script, for every mapped field ("cc_values").
	text: str = ""


CC_KINDS = st.sampled_from(
	[
		"cc_add",
		"cc_edit",
		"cc_unsubscribe",
		"cc_opt_in",
		"cc_delete",
		"cc_revive",
		"cc_list",
		"cc_join",
		"cc_leave",
		"cc_malform",
	]
)
cc_values = (
	st.text(st.characters(whitelist_categories=("L", "M", "N", "P", "S", "Zs")), min_size=1, max_size=400)
	.map(str.strip)
	.filter(bool)
)


def cc_steps_of(emails: list[str]) -> st.SearchStrategy[Step]:
	return st.one_of(
		st.builds(Step, CC_KINDS, st.sampled_from(emails), st.integers(0, 9)),
		st.builds(Step, st.just("cc_values"), st.sampled_from(emails), st.integers(0, 9), cc_values),
	)


cc_steps = cc_steps_of(EMAILS)
# What CC has been seen to send that the sync must read around: odd parts of a record whose email
# address and consent are still readable (a record without a readable address is skipped and logged,
# which the unit tests cover; here the promise must hold through the odd ones).
ODD_PARTS = (
	{"street_addresses": [None]},
	{"notes": "called on Monday"},
	{"custom_fields": [{"custom_field_id": "cf-odd", "value": {"choice": 1}}]},
	{"custom_fields": [{"custom_field_id": "cf-odd", "value": True}]},
	{"phone_numbers": "555-0100"},
)
SITE_KINDS = st.sampled_from(
	[
		"site_lead",
		"site_edit_lead",
		"site_unsubscribe",
		"site_contact",
		"site_leave",
		"site_only_join",
		"site_only_leave",
		"site_midpage",
	]
)
site_steps = st.builds(Step, SITE_KINDS, st.sampled_from(EMAILS), st.integers(0, 9))
run_steps = st.builds(Step, st.just("run"), st.just(""), st.integers(0, 9))
# The site's scheduler ticks every five minutes: a tick step lets (value + 1) ticks' time pass, then runs
# each scheduled job that is due, as the scheduler queues them.
tick_steps = st.builds(Step, st.just("tick"), st.just(""), st.integers(0, 11))
scripts = st.lists(st.one_of(cc_steps, site_steps, run_steps, tick_steps), min_size=1, max_size=25)
# The same world among people whose addresses differ only by an accent, ß or the letters' width.
twin_scripts = st.lists(
	st.one_of(
		cc_steps_of(TWINS),
		st.builds(Step, SITE_KINDS, st.sampled_from(TWINS_ON_SITE), st.integers(0, 9)),
		run_steps,
		tick_steps,
	),
	min_size=1,
	max_size=25,
)
# How often each job runs: the defaults, or intervals of the example's own (minutes).
cadences = st.one_of(
	st.just(dict(DEFAULT_INTERVAL_MINUTES)),
	st.fixed_dictionaries(
		{
			job: st.integers(5, 60) if minutes <= 60 else st.integers(30, minutes)
			for job, minutes in DEFAULT_INTERVAL_MINUTES.items()
		}
	),
)
skews = st.integers(-MAX_SKEW, MAX_SKEW)
# A site whose clock is an hour ahead of CC's or an hour behind it (give or take the usual minutes).
HOUR = 3600
hour_skews = st.builds(
	lambda sign, minutes: sign * HOUR + minutes, st.sampled_from([-1, 1]), st.integers(-MAX_SKEW, MAX_SKEW)
)
# CC answering a transient 500 or 503 to any of its calls, at these rates.
TRANSIENT_5XX = ("500", "503")
transient_rates = st.sampled_from([0.1, 0.3, 0.5])

# Mapping worlds: the site's owner changes the list's mapping mid-history (remaps it to another group and
# back, unmaps it, turns its direction) and switches the sync off and on; the promise holds throughout.
OTHER_GROUP = "Weekly"
DIRECTIONS = ("both", "pull", "push")
mapping_steps = st.builds(
	Step,
	st.sampled_from(["map_remap", "map_unmap", "map_direction", "sync_off", "sync_on"]),
	st.just(""),
	st.integers(0, 9),
)
mapping_scripts = st.lists(
	st.one_of(cc_steps, site_steps, run_steps, tick_steps, mapping_steps), min_size=1, max_size=25
)


def list_mapping(w: Any) -> tuple[str, str] | None:
	"""(group, direction) the list is mapped to now, or None while it is unmapped."""
	return getattr(w, "mapping", (GROUP, "both"))


def pulled_group(w: Any) -> str | None:
	"""The group the list fills now (mapped for pull), or None."""
	mapping = list_mapping(w)
	return mapping[0] if mapping is not None and mapping[1] in ("pull", "both") else None


def apply_mapping_event(w: Any, step: Step) -> None:
	"""The site's owner changes the list's mapping, or switches the sync off or on."""
	from cc_sync.sync.config import ListMapping

	if step.kind == "sync_off":
		w.sync_off = True
		return
	if step.kind == "sync_on":
		w.sync_off = False
		return
	current = list_mapping(w)
	if step.kind == "map_unmap":
		w.mapping = None
	elif step.kind == "map_remap":
		group = OTHER_GROUP if current is not None and current[0] == GROUP else GROUP
		w.mapping = (group, current[1] if current else "both")
	else:
		w.mapping = (current[0] if current else GROUP, DIRECTIONS[step.value % len(DIRECTIONS)])
	w.map_lists(*([ListMapping(w.list_id, *w.mapping)] if w.mapping else []))


class SkewedClock:
	"""The site's clock: CC's plus a fixed offset. Sleeping waits on CC's clock."""

	def __init__(self, clock: Any, offset: float) -> None:
		self.clock = clock
		self.offset = timedelta(seconds=offset)

	def monotonic(self) -> float:
		return self.clock.monotonic()

	def now(self) -> datetime:
		return self.clock.now() + self.offset

	def sleep(self, seconds: float) -> None:
		self.clock.sleep(seconds)


@dataclass
class Events:
	"""What happened, in order, as the promise is stated about it."""

	# (email, "out" | "in"): address-level consent events that took effect ("in": the person's own opt-in).
	consent: list[tuple[str, str]] = field(default_factory=list)
	# (email, "left" | "joined" | "opt_in"): the mapped list and its group, from either side.
	lists: list[tuple[str, str]] = field(default_factory=list)
	site_only_left: set[str] = field(default_factory=set)
	cc_deleted: set[str] = field(default_factory=set)


def apply_event(w: Any, step: Step) -> None:
	"""One CC or site event; then a minute passes."""
	emu, site, ev = w.emu, w.site, w.events
	if step.kind.startswith(("map_", "sync_")):
		apply_mapping_event(w, step)
		w.clock.advance(61)
		return
	existing = emu.find_by_email(step.email)
	if existing is None and step.kind.startswith("cc_") and step.kind != "cc_add":
		# The person signs up in CC first: a CC-side event must not depend on whether a push had
		# already created them, or the two worlds would be playing different scripts.
		emu.add_contact(step.email, first_name=f"F{step.value}")
		existing = emu.find_by_email(step.email)
	cc_id = existing["contact_id"] if existing else None
	live = existing is not None and not existing.get("deleted_at")
	on_list = live and w.list_id in existing.get("list_memberships", [])
	if step.kind == "cc_add" and not existing:
		emu.add_contact(
			step.email, first_name=f"F{step.value}", list_ids=[w.list_id] if step.value % 2 else []
		)
		if step.value % 2:
			ev.lists.append((step.email, "joined"))
	elif step.kind == "cc_add" and live:
		# The person fills in CC's own form although a push may already have created them: the event's
		# outcome must not depend on how far the sync had got.
		emu.edit_contact(cc_id, first_name=f"F{step.value}")
		if step.value % 2 and not on_list:
			emu.add_to_list(cc_id, w.list_id)
			ev.lists.append((step.email, "joined"))
	elif step.kind == "cc_edit" and live:
		emu.edit_contact(cc_id, first_name=f"E{step.value}")
	elif step.kind == "cc_unsubscribe" and live:
		emu.unsubscribe(cc_id)
		ev.consent.append((step.email, "out"))
	elif step.kind == "cc_opt_in" and live:
		emu.opt_in(cc_id)
		ev.consent.append((step.email, "in"))
		ev.lists.append((step.email, "opt_in"))
	elif step.kind == "cc_delete" and live:
		emu.delete_contact(cc_id)
		ev.cc_deleted.add(step.email)
	elif step.kind == "cc_revive" and existing is not None and not live:
		# The deleted person signs up again in CC: their own newer opt-in brings them back.
		emu.revive(cc_id)
		ev.cc_deleted.discard(step.email)
		ev.consent.append((step.email, "in"))
	elif step.kind == "cc_list" and live:
		# The account owner, in CC's list tool.
		if on_list:
			emu.remove_from_list(cc_id, w.list_id)
			ev.lists.append((step.email, "left"))
		else:
			emu.add_to_list(cc_id, w.list_id)
			ev.lists.append((step.email, "joined"))
	elif step.kind == "cc_join" and live:
		# The person signs up to the list on a CC form: their own newer opt-in, and the list.
		emu.opt_in(cc_id)
		emu.add_to_list(cc_id, w.list_id)
		ev.consent.append((step.email, "in"))
		ev.lists.append((step.email, "opt_in"))
	elif step.kind == "cc_leave" and on_list:
		# The person leaves the list from CC's preference page: off the list, still subscribed.
		emu.remove_from_list(cc_id, w.list_id)
		ev.lists.append((step.email, "left"))
	elif step.kind == "cc_values" and live:
		# Every mapped field at once, of any length and script: the page it is on always lands.
		text = step.text
		emu.edit_contact(
			cc_id,
			first_name=text,
			last_name=text[::-1],
			company_name=text * 2,
			job_title=text[: step.value + 1],
		)
	elif step.kind == "cc_malform" and live:
		# From now on CC sends this person with an odd part in every answer.
		emu.malform(cc_id, **ODD_PARTS[step.value % len(ODD_PARTS)])
	elif step.kind == "site_lead" and site.target == SIGN_UP:
		# A newsletter sign-up to the group the list is mapped to (a member row, where there is none).
		new = GROUP not in site.member_rows(step.email)
		site.join_group(step.email, GROUP)
		if new and site.member_rows(step.email).get(GROUP) is False:
			ev.lists.append((step.email, "joined"))  # their own act: the list it is pushed to follows
	elif step.kind == "site_lead":
		site.add_lead(step.email, first_name=f"L{step.value}")
	elif step.kind == "site_edit_lead":
		site.edit_lead(step.email, company_name=f"Co{step.value}")
	elif step.kind == "site_unsubscribe":
		site.opt_out(step.email, CHANNELS[step.value % len(CHANNELS)], by_person=bool(step.value % 2))
		ev.consent.append((step.email, "out"))
	elif step.kind == "site_contact":
		site.add_contact(step.email, first_name=f"S{step.value}")
	elif (
		step.kind == "site_leave"
		and list_mapping(w) is not None
		and site.member_rows(step.email).get(list_mapping(w)[0]) is False
	):
		# A leave of the group the list is mapped to now (in any direction): a leave of the list.
		site.leave_group(step.email, list_mapping(w)[0], by_person=bool(step.value % 2))
		ev.lists.append((step.email, "left"))
	elif step.kind == "site_only_join":
		site.join_group(step.email, SITE_ONLY)
	elif step.kind == "site_only_leave" and site.member_rows(step.email).get(SITE_ONLY) is False:
		site.leave_group(step.email, SITE_ONLY)
		ev.site_only_left.add(step.email)
	elif step.kind == "site_midpage":
		# The person opts out on the site while the next run is applying a page.
		w.midpage.append(step.email)
		ev.consent.append((step.email, "out"))
	w.clock.advance(61)


def run_once(
	w: Any, *, crash_after: int | None = None, streams: tuple[str, ...] | None = None, pause: int = 900
) -> None:
	"""One sync run (every stream, or a job's); with `crash_after`, the worker dies at that store write.

	Uncommitted work is lost with the worker; `pause` seconds pass after the run.

	An opt-out scripted to land mid-run does so at the run's first store write (tier 1, where crashes
	are injected) or page write (tier 2), or after the run when it wrote nothing.
	"""
	if getattr(w, "sync_off", False):
		# Switched off: nothing runs; the time passes all the same.
		w.clock.advance(pause)
		return
	pending = list(w.midpage)
	w.midpage.clear()

	def land() -> None:
		while pending:
			w.site.opt_out(pending.pop(0), "contact", by_person=True)

	w.site.arm(land, crash_after)
	with w.emu.mocked():
		try:
			w.engine.run(streams or None)
		except w.site.crash_type:
			w.store.rollback()
		finally:
			w.site.disarm()
	land()
	w.clock.advance(pause)


def due_jobs(w: Any, cadence: dict[str, int]) -> list[str]:
	"""The jobs whose interval has passed since they last ran, in the scheduler's order."""
	now = w.clock.now()
	if getattr(w, "job_runs", None) is None:
		w.job_runs = {}
	last = w.job_runs
	due = [
		job
		for job, minutes in cadence.items()
		if job not in last or (now - last[job]).total_seconds() >= minutes * 60
	]
	for job in due:
		last[job] = now
	return due


def settle(w: Any, *, reconcile: bool = True) -> None:
	"""Quiet: the sync on, no more faults, every activity finished, and the full reconcile on its own
	cadence (without it, what the streams alone carry must already hold)."""
	w.sync_off = False
	w.emu.faults.clear()
	w.emu.rate_limit = 4
	for _ in range(3):
		run_once(w)
		w.emu.complete_activities()
	if reconcile:
		with w.emu.mocked():
			w.engine.run(["reconcile"])
	run_once(w)


def play(
	make_world: Any,
	script: list[Step],
	*,
	crash_run=None,
	crash_after=None,
	faults=None,
	seed=0,
	cadence: dict[str, int] | None = None,
	fault_kinds: tuple[str, ...] | None = None,
	rerun: bool = True,
	reconcile: bool = True,
):
	"""Play the script: CC and site events, and sync runs (one of them killed at a store write).

	A "run" step is "Sync now" with every stream; a "tick" step lets scheduler ticks pass and runs each
	job then due with its own streams, on `cadence` (the default intervals unless given). `fault_kinds`
	names the faults CC answers with (every kind unless given); with `rerun` off, a run with faults is not
	followed by a clean one (the sync must get there on its own schedule); with `reconcile` off, the
	quiet end runs no full reconcile.
	"""
	w = make_world(seed)
	w.emu.activity_seconds = IMPORT_SECONDS
	cadence = cadence or dict(DEFAULT_INTERVAL_MINUTES)
	if faults:
		w.emu.faults.rate = faults
		w.emu.faults.reseed(seed)
		if fault_kinds:
			w.emu.faults.kinds = fault_kinds
	runs = 0

	def one_run(value: int, streams: tuple[str, ...] | None, pause: int) -> None:
		nonlocal runs
		if faults and value % 3 == 0:
			w.emu.expire_access_tokens()  # the next call gets a 401 and refreshes
		if faults and value % 4 == 1:
			w.emu.rate_limit = 2  # CC throttles below the client's own pace: 429 throttled
		again = bool((faults and rerun) or crash_run is not None)
		# With a run again after it, the pause comes after that one: both worlds keep one clock, so the
		# scheduler finds the same jobs due in each.
		crash = crash_after if runs == crash_run else None
		run_once(w, crash_after=crash, streams=streams, pause=0 if again else pause)
		w.emu.rate_limit = 4
		runs += 1
		if again:
			# Rule 4: a killed or failed run is run again before anything else happens; from
			# there on the world must be where one clean run would have left it.
			rate = w.emu.faults.rate
			w.emu.faults.rate = 0.0
			run_once(w, streams=streams, pause=pause)
			w.emu.faults.rate = rate

	for step in script:
		if step.kind == "run":
			one_run(step.value, None, 900)
		elif step.kind == "tick":
			w.clock.advance(300 * (step.value + 1))
			for job in due_jobs(w, cadence):
				one_run(step.value, JOB_STREAMS[job], 20)
		else:
			apply_event(w, step)
	settle(w, reconcile=reconcile)
	return w


def final_state(w: Any) -> dict:
	state = {}
	for email in ADDRESSES:
		cc = w.emu.find_by_email(email)
		rows = w.site.member_rows(email)
		state[email] = {
			"cc": None
			if cc is None
			else (
				cc["email_address"]["permission_to_send"] == "unsubscribed",
				bool(cc.get("deleted_at")),
				cc.get("first_name"),
				w.list_id in cc.get("list_memberships", []),
			),
			"site": w.site.contact(email),
			# Subscribed rows must match exactly. Whether an unsubscribed row (the record of an opt-out)
			# exists depends on whether the site saw a CC list edit, which moves no timestamp, before
			# the opt-out: consent itself is checked by `check_promise`.
			"members": sorted(g for g, unsubscribed in rows.items() if not unsubscribed),
			# A record not pushed yet has no status: it sorts first.
			"leads": sorted(w.site.leads(email), key=lambda lead: (lead[0] or "", *lead[1:])),
		}
	return state


def consent_of(state: dict) -> dict:
	"""Each address's consent in a `final_state`: unsubscribed and deleted in CC, opted out and deleted on
	the site."""
	return {
		email: (
			None if view["cc"] is None else view["cc"][:2],
			None if view["site"] is None else view["site"][:2],
		)
		for email, view in state.items()
	}


def _last(events: list[tuple[str, str]], email: str) -> str | None:
	found = [kind for e, kind in events if e == email]
	return found[-1] if found else None


def check_promise(w: Any, *, reconciled: bool = True) -> None:
	"""The product's promise, as stated, over everything that happened. Without a full reconcile at the
	end (`reconciled` off), a list left in CC's own screens, which moves no timestamp, is not yet known to
	the site's group: that part is the reconcile's."""
	site, emu, ev = w.site, w.emu, w.events
	assert emu.calls_to("/v3/contacts/sign_up_form") == 0, "sign_up_form was called"
	cc_ids = site.cc_ids()
	assert len(cc_ids) == len(set(cc_ids)), "two site contacts claim one CC contact"
	for email in ADDRESSES:
		assert site.contact_count(email) <= 1, f"{email}: a contact was duplicated on the site"
		cc = emu.find_by_email(email)
		rows = site.member_rows(email)
		# An unsubscribe is never overwritten: the last consent event was an opt-out, from either side.
		if _last(ev.consent, email) == "out":
			if cc is not None and not cc.get("deleted_at"):
				assert cc["email_address"]["permission_to_send"] == "unsubscribed", (
					f"{email} subscribed in CC"
				)
			assert site.opted_out(email), f"{email} subscribed on the site"
			for group, unsubscribed in rows.items():
				assert unsubscribed, f"{email} subscribed in Email Group {group}"
		# Nobody is put back on a list (or the group it fills now) they left, but by their own newer
		# opt-in. (A group the list no longer fills is the site's own, as any group no list is mapped to.)
		if _last(ev.lists, email) == "left":
			if cc is not None:
				assert w.list_id not in cc.get("list_memberships", []), f"{email} re-listed in CC"
			group = pulled_group(w)
			if group is not None and reconciled:
				assert rows.get(group) is not False, f"{email} re-listed in {group}"
		# A group only the site has is left for good: nothing the sync does re-adds anyone to it.
		if email in ev.site_only_left:
			assert rows.get(SITE_ONLY) is True, f"{email} back in {SITE_ONLY}"
		# No contact deleted in CC is revived by the app.
		if email in ev.cc_deleted:
			assert cc is not None and cc.get("deleted_at"), f"{email} revived in CC"
	for cc in emu.contacts:
		email = cc["email_address"]["address"]
		view = site.contact(email)
		assert view is not None, f"CC contact {email} missing on the site"
		if cc.get("deleted_at"):
			assert view[1], f"{email}: a CC delete did not reach the site"
			continue
		assert site.cc_id(email) == cc["contact_id"]
		if cc.get("first_name"):
			# The site holds it whole, or as much of it as its column holds.
			held, sent = view[2] or "", cc["first_name"]
			assert sent.startswith(held) and len(held) >= min(len(sent), NAME_FIT), (
				f"{email}: a CC change did not reach the site"
			)
