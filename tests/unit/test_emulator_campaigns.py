"""The emulator's campaigns and tracking reports behave as CC's reference documents them."""

from __future__ import annotations

from datetime import timedelta

import jsonschema
import pytest
import requests

from cc_sync_testkit.emulator import ConstantContactEmulator, EmulatorError
from tests.swagger import needs_swagger, spec
from tests.world import START, make_world

BASE = "https://api.cc.email/v3"
CAMPAIGN_SCOPE = "contact_data campaign_data offline_access"


def _account(n: int = 200, **rates):
	world = make_world(static_token=True, rate_limit=None, scope=CAMPAIGN_SCOPE)
	emu = world.emu
	ids = [emu.add_contact(f"p{i}@example.com", list_ids=[world.list_id]) for i in range(n)]
	rates = {"open_rate": 0.3, "click_rate": 0.05, "bounce_rate": 0.05, "optout_rate": 0.02, **rates}
	campaign = emu.send_campaign(world.list_id, name="June news", **rates)
	return world, ids, campaign, emu.campaign_activity_ids(campaign)[0]


def _get(emu: ConstantContactEmulator, token: str, path: str, **params):
	with emu.mocked():
		return requests.get(f"{BASE}{path}", params=params, headers={"Authorization": f"Bearer {token}"})


def _token(emu: ConstantContactEmulator, scope: str = CAMPAIGN_SCOPE) -> str:
	return emu.issue_tokens(scope)[0]


def _all_rows(emu, token, activity_id, report, limit=500):
	rows, resp = [], _get(emu, token, f"/reports/email_reports/{activity_id}/tracking/{report}", limit=limit)
	while True:
		body = resp.json()
		rows += body["tracking_activities"]
		nxt = body["_links"].get("next")
		if not nxt:
			return rows
		resp = _get(emu, token, nxt["href"].removeprefix("/v3"))


def test_a_campaign_goes_to_the_lists_subscribed_members_only():
	world = make_world(static_token=True, rate_limit=None, scope=CAMPAIGN_SCOPE)
	emu = world.emu
	members = [emu.add_contact(f"m{i}@example.com", list_ids=[world.list_id]) for i in range(5)]
	emu.unsubscribe(members[0])
	emu.add_contact("elsewhere@example.com")
	campaign = emu.send_campaign(
		world.list_id, name="N", open_rate=0, click_rate=0, bounce_rate=0, optout_rate=0
	)
	activity = emu.campaign_activity_ids(campaign)[0]
	sends = _all_rows(emu, _token(emu), activity, "sends")
	assert sorted(r["contact_id"] for r in sends) == sorted(members[1:])


def test_engagement_arrives_over_the_clock_and_reports_list_the_newest_first():
	world, _, _, activity = _account(400)
	token = _token(world.emu)
	early = _all_rows(world.emu, token, activity, "opens")
	world.clock.advance(48 * 3600)
	later = _all_rows(world.emu, token, activity, "opens")
	assert len(early) < len(later)
	times = [r["created_time"] for r in later]
	assert times == sorted(times, reverse=True)
	# Report timestamps carry milliseconds, unlike contacts'.
	assert all(len(t) == len("2024-06-01T12:00:00.000Z") for t in times)
	assert len({r["contact_id"] for r in _all_rows(world.emu, token, activity, "unique_opens")}) == 120


def test_paging_a_report_sees_every_row_once_while_new_rows_arrive():
	world, _, _, activity = _account(400)
	emu, token = world.emu, _token(world.emu)
	world.clock.advance(3 * 3600)
	first = _get(emu, token, f"/reports/email_reports/{activity}/tracking/sends", limit=100).json()
	world.clock.advance(3600)
	rows = first["tracking_activities"]
	nxt = first["_links"]["next"]["href"]
	while nxt:
		body = _get(emu, token, nxt.removeprefix("/v3")).json()
		rows += body["tracking_activities"]
		nxt = body["_links"].get("next", {}).get("href")
	assert len(rows) == 400 == len({r["contact_id"] for r in rows})


def test_report_pages_hold_at_most_500_rows():
	world, _, _, activity = _account(10)
	resp = _get(world.emu, _token(world.emu), f"/reports/email_reports/{activity}/tracking/sends", limit=501)
	assert resp.status_code == 400


def test_bounces_carry_their_code_and_opt_outs_become_the_contacts_opt_out():
	world, _ids, _, activity = _account(400)
	emu, token = world.emu, _token(world.emu)
	world.clock.advance(72 * 3600)
	bounces = _all_rows(emu, token, activity, "bounces")
	assert len(bounces) == 20 and {r["bounce_code"] for r in bounces} <= set("BDFSVXZ")
	optouts = _all_rows(emu, token, activity, "optouts")
	assert len(optouts) == 8
	for row in optouts:
		contact = emu.get(row["contact_id"])["email_address"]
		assert contact["permission_to_send"] == "unsubscribed"
		assert contact["opt_out_date"][:19] == row["created_time"][:19]


def test_stats_take_up_to_ten_activities_and_name_unknown_ones():
	world, _, _, activity = _account(50)
	emu, token = world.emu, _token(world.emu)
	unknown = "00000000-0000-4000-8000-000000000001"
	body = _get(emu, token, f"/reports/stats/email_campaign_activities/{activity},{unknown}").json()
	assert [r["campaign_activity_id"] for r in body["results"]] == [activity]
	assert body["results"][0]["stats"]["em_sends"] == 50
	assert len(body["errors"]) == 1
	assert _get(emu, token, "/reports/stats/email_campaign_activities/not-a-uuid").status_code == 404
	eleven = ",".join([activity] * 11)
	assert _get(emu, token, f"/reports/stats/email_campaign_activities/{eleven}").status_code == 400


def test_last_refresh_time_stays_put_while_nothing_arrives():
	world, _, _, activity = _account(50)
	emu, token = world.emu, _token(world.emu)
	world.clock.advance(100 * 3600)
	path = f"/reports/stats/email_campaign_activities/{activity}"
	before = _get(emu, token, path).json()["results"][0]["last_refresh_time"]
	world.clock.advance(3600)
	assert _get(emu, token, path).json()["results"][0]["last_refresh_time"] == before


def test_campaign_endpoints_need_campaign_data_and_activity_details_contact_data():
	world, ids, campaign, activity = _account(20)
	emu = world.emu
	plain = _token(emu, "contact_data offline_access")
	for path in ("/emails", f"/emails/{campaign}", f"/reports/email_reports/{activity}/tracking/opens"):
		assert _get(emu, plain, path).status_code == 403
	assert _get(emu, plain, f"/reports/stats/email_campaign_activities/{activity}").status_code == 403
	details = _get(
		emu, plain, f"/reports/contact_reports/{ids[0]}/activity_details", tracking_activities_list="em_sends"
	)
	assert details.status_code == 200
	assert details.json()["tracking_activities"][0]["campaign_activity_name"] == "June news"


def test_emails_filter_on_updated_at_and_list_activities_by_role():
	world, _, campaign, _ = _account(5, resend=True)
	emu, token = world.emu, _token(world.emu)
	assert [c["campaign_id"] for c in _get(emu, token, "/emails").json()["campaigns"]] == [campaign]
	later = (START + timedelta(days=1)).isoformat()
	assert _get(emu, token, "/emails", after_date=later).json()["campaigns"] == []
	roles = [a["role"] for a in _get(emu, token, f"/emails/{campaign}").json()["campaign_activities"]]
	assert roles == ["primary_email", "permalink", "resend"]
	permalink = emu.campaign_activity_ids(campaign, "permalink")[0]
	assert _get(emu, token, f"/reports/email_reports/{permalink}/tracking/opens").status_code == 404


def test_activity_details_need_a_type_and_page_by_100():
	world, ids, _, _ = _account(5)
	emu, token = world.emu, _token(world.emu)
	path = f"/reports/contact_reports/{ids[0]}/activity_details"
	assert _get(emu, token, path).status_code == 400
	assert _get(emu, token, path, tracking_activities_list="em_sends", limit=101).status_code == 400


def test_a_campaign_needs_sane_rates():
	world = make_world(static_token=True)
	with pytest.raises(EmulatorError):
		world.emu.send_campaign(
			world.list_id, name="x", open_rate=1.5, click_rate=0, bounce_rate=0, optout_rate=0
		)


@needs_swagger
def test_report_bodies_match_the_contract():
	world, ids, campaign, activity = _account(50)
	emu, token = world.emu, _token(world.emu)
	world.clock.advance(72 * 3600)
	definitions = spec()["definitions"]

	def check(name, body):
		schema = {"$ref": f"#/definitions/{name}", "definitions": definitions}
		jsonschema.validate(body, schema, cls=jsonschema.Draft4Validator)

	check("PagedEmailCampaignResponse", _get(emu, token, "/emails").json())
	check("EmailCampaign", _get(emu, token, f"/emails/{campaign}").json())
	check("EmailCampaignActivity", _get(emu, token, f"/emails/activities/{activity}").json())
	for report, name in (
		("sends", "SendsTrackingActivitiesPage"),
		("opens", "OpensTrackingActivitiesPage"),
		("clicks", "ClicksTrackingActivitiesPage"),
		("optouts", "OptoutsTrackingActivitiesPage"),
		("bounces", "BouncesTrackingActivitiesPage"),
		("didnotopens", "DidNotOpensTrackingActivitiesPage"),
	):
		check(name, _get(emu, token, f"/reports/email_reports/{activity}/tracking/{report}").json())
	stats = _get(emu, token, f"/reports/stats/email_campaign_activities/{activity}").json()
	check("CampaignActivityStatsQueryResultEmail", stats)
	details = _get(
		emu, token, f"/reports/contact_reports/{ids[0]}/activity_details", tracking_activities_list="em_sends"
	)
	check("ContactTrackingActivitiesPage", details.json())
