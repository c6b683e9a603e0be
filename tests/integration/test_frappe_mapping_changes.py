"""List mappings that change on a real site: a newly mapped list fills its Email Group at the next run,
and a group leave waiting to reach CC keeps the CC lists it was made against when the list is remapped,
unmapped, or the sync is off meanwhile.

The same situations run on the in-memory store in tests/unit/test_mapping_changes.py.
"""

from __future__ import annotations

from dataclasses import replace

import frappe

from cc_sync.cc_sync.constants import EMAIL_GROUP_MEMBER, OPT_OUT
from cc_sync.sync.config import ListMapping
from cc_sync.sync.engine import SyncEngine
from cc_sync.sync.fieldmap import FieldRule
from cc_sync.sync.streams import STREAM_CHANGES, STREAM_OPTOUT_PUSH
from tests.integration.frappe_site import make_store
from tests.integration.test_frappe_imports import _catch_up_with
from tests.integration.test_frappe_scenarios import GROUP, addr, make_world, one_contact

NEW_GROUP = "Tier2 Weekly"
PAGE = 5
MEMBERS = 12  # three pages


def _leave_then_remap(w, email: str, mappings: tuple[ListMapping, ...]) -> str:
	"""On the mapped list and in its group; the person leaves the group in the desk while the sync is off
	for a rework, and the list mappings change before it is switched on again."""
	w.map_lists(ListMapping(w.list_id, GROUP, "both"))
	cc_id = w.emu.add_contact(email, list_ids=[w.list_id])
	with w.emu.mocked():
		w.run()
	assert w.site.member_rows(email) == {GROUP: False}
	w.site.leave_group(GROUP, email)
	assert frappe.get_all(OPT_OUT, filters={"email": email}, pluck="cc_lists") == [w.list_id]
	w.clock.advance(3600)
	w.map_lists(*mappings)
	w.clock.advance(3600)
	return cc_id


def _leave_row(email: str):
	return frappe.get_all(OPT_OUT, filters={"email": email}, fields=["status", "email_group"])


def test_a_leave_made_before_its_list_is_remapped_still_takes_the_person_off_the_list():
	w = make_world()
	email = addr("remapped")
	cc_id = _leave_then_remap(w, email, (ListMapping(w.list_id, NEW_GROUP, "both"),))
	with w.emu.mocked():
		report = w.run()
		w.emu.complete_activities()
		w.clock.advance(900)
		w.run()
	push = report.streams[STREAM_OPTOUT_PUSH]
	assert push.updated == 1 and push.api_calls > 0
	assert w.list_id not in w.emu.get(cc_id)["list_memberships"]
	assert _leave_row(email) == [{"status": "Done", "email_group": GROUP}]
	# Never a subscribed member of the group the list now fills; still subscribed to email.
	assert w.site.member_rows(email).get(NEW_GROUP) is not False
	assert w.site.member_rows(email)[GROUP] is True
	assert one_contact(w, email).unsubscribed == 0


def test_a_leave_made_before_its_list_is_unmapped_still_takes_the_person_off_the_list():
	w = make_world()
	email = addr("unmapped")
	cc_id = _leave_then_remap(w, email, ())
	with w.emu.mocked():
		report = w.run(STREAM_OPTOUT_PUSH)
		w.emu.complete_activities()
	assert report.streams[STREAM_OPTOUT_PUSH].updated == 1
	assert w.list_id not in w.emu.get(cc_id)["list_memberships"]
	assert _leave_row(email) == [{"status": "Done", "email_group": GROUP}]


def _world_with_unmapped_list(**config):
	"""A site in sync with CC whose account holds a second list nobody has mapped yet, its members
	unchanged since the site last read them."""
	w = make_world()
	w.config = replace(w.config, page_limit=PAGE, **config)
	w.engine.config = w.config
	w.map_lists(ListMapping(w.list_id, GROUP, "both"))
	weekly = w.emu.create_list("Tier2 Weekly news")
	for i in range(MEMBERS):
		w.emu.add_contact(addr(f"weekly{i:02d}"), first_name=f"W{i}", list_ids=[weekly])
	with w.emu.mocked():
		w.run()
	w.clock.advance(3600)
	with w.emu.mocked():
		w.run()  # nothing changed since: the changes stream reads nobody
	w.clock.advance(3600)
	return w, weekly


def _weekly_rows() -> dict[str, bool]:
	rows = frappe.get_all(
		EMAIL_GROUP_MEMBER, filters={"email_group": NEW_GROUP}, fields=["email", "unsubscribed"]
	)
	return {r.email: bool(r.unsubscribed) for r in rows}


def test_a_newly_mapped_list_fills_its_group_at_the_next_run_and_the_dry_run_shows_it():
	w, weekly = _world_with_unmapped_list()
	w.site.unsubscribe_in_desk(one_contact(w, addr("weekly01")).name)
	w.map_lists(ListMapping(w.list_id, GROUP, "both"), ListMapping(weekly, NEW_GROUP, "both"))
	with w.emu.mocked():
		dry = w.run(STREAM_CHANGES, dry_run=True)
	assert f"Would fill Email Group {NEW_GROUP}" in dry.streams[STREAM_CHANGES].notice
	joins = [
		line
		for line in dry.streams[STREAM_CHANGES].plan
		if line.get("member_rows", {}).get(NEW_GROUP) == "subscribed"
	]
	assert len(joins) == MEMBERS - 1
	assert _weekly_rows() == {}
	with w.emu.mocked():
		report = w.run()
	rows = _weekly_rows()
	assert len(rows) == MEMBERS
	assert rows[addr("weekly01")] is True  # opted out on the site: recorded unsubscribed
	assert sum(1 for u in rows.values() if not u) == MEMBERS - 1
	changes = report.streams[STREAM_CHANGES]
	assert f"Filled Email Group {NEW_GROUP} from CC list Tier2 Weekly news: {MEMBERS} members read" in (
		changes.notice
	)
	w.clock.advance(900)
	with w.emu.mocked():
		again = w.run(STREAM_CHANGES)
	assert again.streams[STREAM_CHANGES].fetched == 0


# -- site-owned edits of Leads CC holds ---------------------------------------------------------------
SITE_COMPANY = (
	FieldRule("first_name", "first_name", "cc"),
	FieldRule("company_name", "company_name", "site"),
)


def _pushed_lead(direction: str, local: str):
	"""A Lead pushed into CC through a list mapped `direction`; the site owns its company."""
	w = make_world()
	w.map_lists(ListMapping(w.list_id, GROUP, direction))
	w.config = replace(w.config, field_map=SITE_COMPANY)
	w.store = make_store(site_fields=[r.site_field for r in SITE_COMPANY])
	w.engine = SyncEngine(w.client, w.store, w.config, w.clock)
	lead = w.site.add_lead(addr(local), first_name="Ann", company_name="Old Co")
	with w.emu.mocked():
		w.run()
		w.emu.complete_activities()
		w.clock.advance(5)
		w.run()
	assert w.site.lead(lead).cc_push_status == "Pushed"
	cc = w.emu.find_by_email(addr(local))
	assert cc["company_name"] == "Old Co" and w.list_id in cc["list_memberships"]
	return w, lead, cc["contact_id"]


def _edit_and_push(w, lead: str, company: str):
	_catch_up_with(w.clock)
	w.site.edit_lead(lead, company_name=company)
	w.clock.advance(5)
	with w.emu.mocked():
		report = w.run()
		w.emu.complete_activities()
	return report


def test_a_site_owned_lead_edit_reaches_cc_through_a_push_only_mapping():
	w, lead, cc_id = _pushed_lead("push", "owned-push")
	w.emu.remove_from_list(cc_id, w.list_id)  # the account takes them off the list in CC
	report = _edit_and_push(w, lead, "New Co")
	cc = w.emu.get(cc_id)
	assert cc["company_name"] == "New Co" and cc["first_name"] == "Ann"
	assert cc["email_address"]["permission_to_send"] == "implicit"
	assert w.list_id not in cc["list_memberships"], "put back on a list"
	doc = w.site.lead(lead)
	assert doc.cc_push_status == "Pushed" and "sent to CC" in (doc.cc_push_error or "")
	assert report.streams["push"].pushed == 1


def test_a_site_owned_lead_edit_reaches_cc_when_the_person_left_the_list_in_cc():
	w, lead, cc_id = _pushed_lead("both", "owned-left")
	w.emu.remove_from_list(cc_id, w.list_id)  # the person leaves the list from CC's preference page
	w.clock.advance(5)
	with w.emu.mocked():
		w.run("reconcile")
	assert w.site.member_rows(addr("owned-left")) == {GROUP: True}
	_edit_and_push(w, lead, "Left Co")
	cc = w.emu.get(cc_id)
	assert cc["company_name"] == "Left Co"
	assert w.list_id not in cc["list_memberships"], "put back on the list they left"
	assert w.site.lead(lead).cc_push_status == "Pushed"
