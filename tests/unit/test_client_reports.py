"""The client reads campaigns and their reports as CC sends them, and refuses what CC would refuse."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from cc_sync.constant_contact.errors import PermissionDenied
from tests.world import make_world

CAMPAIGN_SCOPE = "contact_data campaign_data offline_access"


def _sent(scope: str = CAMPAIGN_SCOPE, n: int = 120):
	world = make_world(static_token=True, rate_limit=None, scope=scope)
	for i in range(n):
		world.emu.add_contact(f"p{i}@example.com", list_ids=[world.list_id])
	campaign = world.emu.send_campaign(
		world.list_id,
		name="News",
		subject="June",
		open_rate=0.5,
		click_rate=0.1,
		bounce_rate=0.1,
		optout_rate=0,
	)
	world.clock.advance(72 * 3600)
	return world, campaign


def test_campaigns_their_activities_and_subject_are_read():
	world, campaign = _sent()
	with world.emu.mocked():
		pages = list(world.client.iter_email_campaign_pages())
		full = world.client.get_email_campaign(campaign)
		primary = full.reported_activities()[0]
		activity = world.client.get_email_campaign_activity(primary.campaign_activity_id)
	assert [c.name for c in pages[0].campaigns] == ["News"]
	assert [a.role for a in full.reported_activities()] == ["primary_email"]
	assert activity.subject == "June" and activity.role == "primary_email"


def test_report_pages_read_milliseconds_clicks_and_bounce_codes():
	world, campaign = _sent()
	activity = world.emu.campaign_activity_ids(campaign)[0]
	with world.emu.mocked():
		clicks = [r for p in world.client.iter_tracking_pages(activity, "clicks", limit=5) for r in p.rows]
		bounces = [r for p in world.client.iter_tracking_pages(activity, "bounces") for r in p.rows]
	assert clicks and all(r.link_url and r.url_id for r in clicks)
	assert any(r.created_time.microsecond for r in clicks)
	assert clicks == sorted(clicks, key=lambda r: r.created_time, reverse=True)
	assert len(bounces) == 12 and all(r.bounce_code in "BDFSVXZ" for r in bounces)


def test_a_row_without_a_contact_is_skipped_not_the_page():
	from cc_sync.constant_contact.report_models import TrackingPage

	page = TrackingPage.model_validate(
		{
			"tracking_activities": [
				{"contact_id": "a", "created_time": "2024-06-01T12:00:00.250Z"},
				{"created_time": "2024-06-01T12:00:00.000Z"},
				{"contact_id": "b", "created_time": "not a time"},
			],
			"_links": {"next": {"href": "/v3/x?cursor=1"}},
		}
	)
	assert [r.contact_id for r in page.rows] == ["a"]
	assert page.rows[0].created_time == datetime(2024, 6, 1, 12, 0, 0, 250000, tzinfo=timezone.utc)
	assert page.skipped == 2 and page.next_href == "/v3/x?cursor=1"


def test_stats_for_ten_activities_at_once_and_never_eleven():
	world, campaign = _sent()
	activity = world.emu.campaign_activity_ids(campaign)[0]
	with world.emu.mocked():
		result = world.client.get_activity_stats([activity])
		with pytest.raises(ValueError):
			world.client.get_activity_stats([activity] * 11)
	assert result.results[0].count("em_sends") == 120
	assert result.results[0].last_refresh_time is not None
	assert world.emu.calls_to("/v3/reports/stats") == 1


def test_a_connection_without_campaign_data_is_refused_with_permission_denied():
	world, _campaign = _sent(scope="contact_data offline_access", n=3)
	with world.emu.mocked(), pytest.raises(PermissionDenied):
		list(world.client.iter_email_campaign_pages())


def test_a_contacts_activity_details_need_only_contact_data():
	world, _ = _sent(scope="contact_data offline_access", n=3)
	contact_id = next(iter(world.emu.contacts))["contact_id"]
	with world.emu.mocked():
		rows = [r for p in world.client.iter_contact_activity_pages(contact_id) for r in p.rows]
	assert rows and rows[-1].tracking_activity_type == "em_sends"
	assert rows[0].campaign_activity_name == "News"
