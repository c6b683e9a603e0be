"""Push targets on a real site: the settings offer exactly the targets this site has and refuse any other
DocType plainly; several targets push at once, each with its own filters and lists; newsletter sign-ups
(Email Group Member) are pushed to the lists of their own group."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

import frappe

from cc_sync.cc_sync import targets
from cc_sync.cc_sync.constants import EMAIL_GROUP_MEMBER, LEAD, SETTINGS
from cc_sync.cc_sync.settings import push_targets
from cc_sync.sync.config import ListMapping
from tests.integration.app_helpers import save_settings
from tests.integration.test_frappe_scenarios import GROUP, addr
from tests.sign_up_scenarios import check_sign_ups_reach_their_own_groups_lists
from tests.world import make_world as build_world


def _world(push_targets_: list[tuple]):
	from tests.integration.frappe_site import FrappeSite, make_store

	site = FrappeSite()
	site.make_group(GROUP)
	return build_world(
		datetime.now(timezone.utc).replace(microsecond=0),
		store=make_store(push_targets=push_targets_),
		group=GROUP,
		static_token=True,
		site=site,
		strict=True,
	)


def test_the_settings_offer_exactly_the_targets_this_site_has():
	have = [d for d in ("Lead", "CRM Lead", "Email Group Member") if frappe.db.exists("DocType", d)]
	assert targets.available() == have
	doc = frappe.get_doc(SETTINGS)
	doc.run_method("onload")
	assert doc.get_onload().get("cc_push_targets") == have


@pytest.mark.parametrize("doctype", ["Contact", "ToDo"])
@pytest.mark.parametrize("where", ["main", "row"])
def test_any_other_doctype_is_refused_with_a_plain_message(settings_kept, doctype, where):
	def edit(doc):
		if where == "main":
			doc.push_doctype = doctype
		else:
			doc.append("push_targets", {"push_doctype": doctype})

	with pytest.raises(frappe.ValidationError, match=r"cannot be pushed to Constant Contact\. Choose one of"):
		save_settings(edit)


def test_several_targets_save_each_with_its_own_filters_and_group(settings_kept):
	from tests.integration.frappe_site import FrappeSite

	FrappeSite().make_group(GROUP)

	def edit(doc):
		doc.push_doctype = LEAD
		doc.push_filters = '{"status": "Open"}'
		doc.set("push_targets", [])
		doc.append("push_targets", {"push_doctype": EMAIL_GROUP_MEMBER, "email_group": GROUP})

	doc = save_settings(edit)
	assert push_targets(doc) == [
		(LEAD, [[LEAD, "status", "=", "Open"]], None),
		(EMAIL_GROUP_MEMBER, [], GROUP),
	]


def test_sign_ups_reach_the_lists_of_their_own_group_only():
	w = _world([(EMAIL_GROUP_MEMBER, None)])
	check_sign_ups_reach_their_own_groups_lists(
		w, join=w.site.add_member, leave=w.site.leave_group, addr=addr
	)
	pushed = frappe.get_all(
		EMAIL_GROUP_MEMBER, filters={"email": addr("su-pushed")}, fields=["cc_push_status", "cc_contact_id"]
	)
	assert [r.cc_push_status for r in pushed] == ["Pushed"] and pushed[0].cc_contact_id


def test_two_targets_push_at_once_each_to_its_own_lists():
	"""Leads of one status to one group's lists, sign-ups to their group's: one run, both."""
	w = _world([(LEAD, [[LEAD, "status", "=", "Open"]], "Targets Leads"), (EMAIL_GROUP_MEMBER, None)])
	leads_list = w.emu.create_list("Leads list")
	news_list = w.emu.create_list("News list")
	w.map_lists(
		ListMapping(leads_list, "Targets Leads", "push"), ListMapping(news_list, "Targets News", "push")
	)
	open_lead, other_lead, member = addr("tg-open"), addr("tg-other"), addr("tg-member")
	w.site.add_lead(open_lead, first_name="Open", status="Open")
	w.site.add_lead(other_lead, first_name="Other", status="Replied")
	w.site.add_member("Targets News", member)
	with w.emu.mocked():
		w.run()
	assert set(w.emu.find_by_email(open_lead)["list_memberships"]) == {leads_list}
	assert w.emu.find_by_email(other_lead) is None
	assert set(w.emu.find_by_email(member)["list_memberships"]) == {news_list}
