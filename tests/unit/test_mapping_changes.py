"""List mappings that change while the sync runs: a list newly mapped (or turned to pull) fills its
Email Group, and a group leave waiting to reach CC keeps the CC lists it was made against, whatever
happens to the mappings (remapped, unmapped, the sync switched off meanwhile).

Played on the engine and the in-memory store; tests/integration/test_frappe_mapping_changes.py plays
the same situations on a real site.
"""

from __future__ import annotations

from dataclasses import replace

from cc_sync.sync.config import ListMapping
from cc_sync.sync.fieldmap import FieldRule
from cc_sync.sync.streams import STREAM_CHANGES, STREAM_OPTOUT_PUSH
from tests.world import make_world

NEW_GROUP = "Weekly"


def _leave_then_remap(w, email: str, mappings: tuple[ListMapping, ...]) -> str:
	"""The person is on the mapped list and in its group; they leave the group on the site while the sync
	is off, and the mapping changes before the sync is switched on again."""
	cc_id = w.emu.add_contact(email, list_ids=[w.list_id])
	with w.emu.mocked():
		w.run()
	assert w.store.members[("Newsletter", email)] is False
	w.store.leave_group(email, "Newsletter")
	w.store.commit()
	w.clock.advance(3600)  # the sync is off for the rework: nothing runs
	w.map_lists(*mappings)
	w.clock.advance(3600)
	return cc_id


def test_a_leave_made_before_its_list_is_remapped_still_takes_the_person_off_the_list():
	w = make_world()
	email = "remapped@example.com"
	cc_id = _leave_then_remap(w, email, (ListMapping(w.list_id, NEW_GROUP, "both"),))
	with w.emu.mocked():
		report = w.run()
		w.emu.complete_activities()
		w.clock.advance(900)
		w.run()
	push = report.streams[STREAM_OPTOUT_PUSH]
	assert push.updated == 1 and push.api_calls > 0
	assert w.list_id not in w.emu.get(cc_id)["list_memberships"]
	assert not w.store.optouts, "the leave is still pending"
	# Never a subscribed member of the group the list now fills.
	assert w.store.members.get((NEW_GROUP, email)) is not False
	assert w.store.members[("Newsletter", email)] is True


def test_a_leave_made_before_its_list_is_unmapped_still_takes_the_person_off_the_list():
	w = make_world()
	email = "unmapped@example.com"
	cc_id = _leave_then_remap(w, email, ())
	with w.emu.mocked():
		report = w.run(STREAM_OPTOUT_PUSH)
		w.emu.complete_activities()
	assert report.streams[STREAM_OPTOUT_PUSH].updated == 1
	assert w.list_id not in w.emu.get(cc_id)["list_memberships"]
	assert w.emu.get(cc_id)["email_address"]["permission_to_send"] != "unsubscribed"


def test_a_remapped_list_whose_leave_is_still_in_flight_joins_its_new_group_unsubscribed():
	"""The leave reached CC (its removal not finished there yet) before the list was remapped: the
	list's new group records the person as having left, never subscribed."""
	w = make_world()
	email = "inflight@example.com"
	w.emu.add_contact(email, list_ids=[w.list_id])
	with w.emu.mocked():
		w.run()
		w.store.leave_group(email, "Newsletter")
		w.store.commit()
		w.clock.advance(60)
		w.run(STREAM_OPTOUT_PUSH)  # CC is asked to remove them; its activity has not run yet
	w.map_lists(ListMapping(w.list_id, NEW_GROUP, "both"))
	w.clock.advance(900)
	with w.emu.mocked():
		w.run(STREAM_CHANGES)
	assert w.store.members.get((NEW_GROUP, email)) is not False


# -- a newly mapped list fills its group ----------------------------------------------------------------
PAGE = 10
MEMBERS = 35  # four pages


def _world_with_unmapped_list(members: int = MEMBERS, **config):
	"""A site in sync with CC, whose account holds a second list nobody has mapped yet; its members have
	not changed since the site last read them."""
	w = make_world(rate_limit=None)
	w.config = replace(w.config, page_limit=PAGE, **config)
	w.engine.config = w.config
	weekly = w.emu.create_list("Weekly news")
	for i in range(members):
		w.emu.add_contact(f"w{i:03d}@example.com", first_name=f"W{i}", list_ids=[weekly])
	with w.emu.mocked():
		w.run()
	w.clock.advance(3600)
	with w.emu.mocked():
		w.run()  # nothing changed since: the changes stream reads nobody
	w.clock.advance(3600)
	return w, weekly


def _weekly_rows(w) -> dict[str, bool]:
	return {e: u for (g, e), u in w.store.members.items() if g == NEW_GROUP}


def test_a_newly_mapped_list_fills_its_group_at_the_next_run_with_the_groups_consent_rules():
	w, weekly = _world_with_unmapped_list()
	# Before the mapping: one member opted out on the site, one already in the group and left it there.
	w.store.unsubscribe_locally("w001@example.com")
	w.store.join_group("w002@example.com", NEW_GROUP)
	w.store.leave_group("w002@example.com", NEW_GROUP)
	w.store.commit()
	with w.emu.mocked():
		w.run(STREAM_OPTOUT_PUSH)
	w.clock.advance(3600)
	w.map_lists(w.config.list_mappings[0], ListMapping(weekly, NEW_GROUP, "both"))
	with w.emu.mocked():
		report = w.run()
	rows = _weekly_rows(w)
	assert len(rows) == MEMBERS
	assert rows["w001@example.com"] is True  # opted out: recorded unsubscribed
	assert rows["w002@example.com"] is True  # left the group: never re-subscribed
	assert sum(1 for u in rows.values() if not u) == MEMBERS - 2
	changes = report.streams[STREAM_CHANGES]
	assert changes.status == "success"
	assert (
		f"Filled Email Group {NEW_GROUP} from CC list Weekly news: {MEMBERS} members read" in changes.notice
	)
	# At CC's pace: one call for the lists' sizes, then one per page of members.
	assert changes.api_calls == 1 + 1 + 4
	# Filled once: the next run reads nobody.
	w.clock.advance(900)
	with w.emu.mocked():
		again = w.run(STREAM_CHANGES)
	assert again.streams[STREAM_CHANGES].fetched == 0
	assert not again.streams[STREAM_CHANGES].notice


def test_the_dry_run_shows_the_fill_and_writes_nothing():
	w, weekly = _world_with_unmapped_list()
	w.map_lists(w.config.list_mappings[0], ListMapping(weekly, NEW_GROUP, "pull"))
	with w.emu.mocked():
		dry = w.run(STREAM_CHANGES, dry_run=True)
	changes = dry.streams[STREAM_CHANGES]
	assert f"Would fill Email Group {NEW_GROUP}" in changes.notice
	joins = [line for line in changes.plan if line.get("member_rows") == {NEW_GROUP: "subscribed"}]
	assert len(joins) == MEMBERS
	assert _weekly_rows(w) == {}
	with w.emu.mocked():
		w.run(STREAM_CHANGES)
	assert len(_weekly_rows(w)) == MEMBERS


def test_a_mapping_turned_to_pull_fills_its_group():
	w, weekly = _world_with_unmapped_list()
	w.map_lists(w.config.list_mappings[0], ListMapping(weekly, NEW_GROUP, "push"))
	with w.emu.mocked():
		w.run()
	assert _weekly_rows(w) == {}
	w.clock.advance(900)
	w.map_lists(w.config.list_mappings[0], ListMapping(weekly, NEW_GROUP, "both"))
	with w.emu.mocked():
		w.run()
	assert len(_weekly_rows(w)) == MEMBERS


def test_a_large_list_fills_through_cc_export():
	w, weekly = _world_with_unmapped_list(export_threshold=20)
	w.map_lists(w.config.list_mappings[0], ListMapping(weekly, NEW_GROUP, "both"))
	with w.emu.mocked():
		report = w.run(STREAM_CHANGES)
		w.emu.complete_activities()
	changes = report.streams[STREAM_CHANGES]
	assert changes.activity_ids, "no export was asked for"
	assert len(_weekly_rows(w)) == MEMBERS
	assert all(not u for u in _weekly_rows(w).values())


def test_a_fill_that_stops_part_way_carries_on_after_its_last_page():
	w, weekly = _world_with_unmapped_list()
	w.map_lists(w.config.list_mappings[0], ListMapping(weekly, NEW_GROUP, "both"))
	pages = 0

	def before_write(operation: str) -> None:
		nonlocal pages
		if operation == "apply_contacts":
			pages += 1
			if pages == 3:
				raise RuntimeError("the database went away")

	w.store.before_write = before_write
	with w.emu.mocked():
		failed = w.run(STREAM_CHANGES)
	assert failed.streams[STREAM_CHANGES].status == "failed"
	assert len(_weekly_rows(w)) == 2 * PAGE
	w.store.before_write = None
	w.clock.advance(900)
	with w.emu.mocked():
		resumed = w.run(STREAM_CHANGES)
	changes = resumed.streams[STREAM_CHANGES]
	assert changes.status == "success"
	assert changes.fetched == MEMBERS - 2 * PAGE  # pages 3 and 4, not the whole list again
	assert len(_weekly_rows(w)) == MEMBERS
	carried = [n.reason for n in changes.warnings if n.reason.startswith("carried on after page 2")]
	assert carried and "watermark" not in carried[0]


# -- site-owned edits of people CC holds --------------------------------------------------------------
SITE_COMPANY = (
	FieldRule("first_name", "first_name", "cc"),
	FieldRule("company_name", "company_name", "site"),
)


def _pushed_lead(direction: str, **config):
	"""A lead pushed into CC through a list mapped `direction`, with the company the site's to own."""
	w = make_world()
	w.map_lists(ListMapping(w.list_id, "Newsletter", direction))
	w.config = replace(w.config, field_map=SITE_COMPANY, **config)
	w.engine.config = w.config
	key = w.store.add_lead("owned@example.com", first_name="Ann", company_name="Old Co")
	w.store.commit()
	with w.emu.mocked():
		w.run()
		w.emu.complete_activities()
		w.clock.advance(900)
		w.run()
	assert w.store.leads[key].push_status == "Pushed"
	cc = w.emu.find_by_email("owned@example.com")
	assert cc["company_name"] == "Old Co" and w.list_id in cc["list_memberships"]
	return w, key, cc["contact_id"]


def _edit_and_push(w, key: str, company: str):
	w.clock.advance(60)
	w.store.edit_lead(key, company_name=company)
	w.store.commit()
	w.clock.advance(900)
	with w.emu.mocked():
		report = w.run()
		w.emu.complete_activities()
	return report


def test_a_site_owned_edit_reaches_cc_through_a_push_only_mapping():
	w, key, cc_id = _pushed_lead("push")
	w.emu.remove_from_list(cc_id, w.list_id)  # the account takes them off the list in CC
	report = _edit_and_push(w, key, "New Co")
	cc = w.emu.get(cc_id)
	assert cc["company_name"] == "New Co"
	assert cc["first_name"] == "Ann"
	assert cc["email_address"]["permission_to_send"] == "implicit"
	assert w.list_id not in cc["list_memberships"], "put back on a list"
	lead = w.store.leads[key]
	assert lead.push_status == "Pushed" and "sent to CC" in lead.push_error
	assert report.streams["push"].pushed == 1
	assert w.emu.put_resubscribes == 0


def test_a_site_owned_edit_reaches_cc_when_the_person_left_the_list_in_cc():
	w, key, cc_id = _pushed_lead("both")
	w.emu.remove_from_list(cc_id, w.list_id)  # the person leaves the list from CC's preference page
	w.clock.advance(900)
	with w.emu.mocked():
		w.run("reconcile")
	assert w.store.members[("Newsletter", "owned@example.com")] is True
	_edit_and_push(w, key, "Left Co")
	cc = w.emu.get(cc_id)
	assert cc["company_name"] == "Left Co"
	assert w.list_id not in cc["list_memberships"], "put back on the list they left"
	assert w.store.leads[key].push_status == "Pushed"


def test_an_edit_not_sent_in_this_run_never_reads_pushed():
	w, key, _cc_id = _pushed_lead("push", field_update_max=1)
	other = w.store.add_lead("second@example.com", first_name="Bo", company_name="Bo Co")
	w.store.commit()
	with w.emu.mocked():
		w.run()
		w.emu.complete_activities()
		w.clock.advance(900)
		w.run()
	w.clock.advance(60)
	w.store.edit_lead(key, company_name="First Co")
	w.store.edit_lead(other, company_name="Second Co")
	w.store.commit()
	w.clock.advance(900)
	with w.emu.mocked():
		w.run()
	statuses = sorted(lead.push_status for lead in (w.store.leads[key], w.store.leads[other]))
	assert statuses == ["Pending", "Pushed"]
	w.clock.advance(900)
	with w.emu.mocked():
		w.run()
	assert w.emu.find_by_email("owned@example.com")["company_name"] == "First Co"
	assert w.emu.find_by_email("second@example.com")["company_name"] == "Second Co"
	assert {w.store.leads[key].push_status, w.store.leads[other].push_status} == {"Pushed"}
