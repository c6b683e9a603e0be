"""Email engagement on a real site: campaigns, people's events written in bulk, their summary, the bounce rule."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import datetime, timezone

import frappe

from cc_sync.cc_sync import install
from cc_sync.cc_sync.constants import (
	BOUNCE_REASON,
	CAMPAIGN,
	CAMPAIGNS_OPENED,
	CONTACT,
	ENGAGEMENT,
	HARD_BOUNCED,
	LAST_OPENED,
	LEAD,
)
from cc_sync.sync.engine import SyncEngine
from cc_sync.sync.records import PushStatus
from cc_sync.sync.report import StreamStatus
from cc_sync.sync.streams import STREAM_CHANGES, STREAM_ENGAGEMENT, STREAM_PUSH
from tests.integration.test_frappe_scenarios import DOMAIN, GROUP
from tests.world import make_world as build_world

CAMPAIGN_SCOPE = "contact_data campaign_data offline_access"


def _world(n: int):
	"""The scenario world (`test_frappe_scenarios.make_world`), connected with campaign_data."""
	from tests.integration.frappe_site import FrappeSite, make_store

	site = FrappeSite()
	site.make_group(GROUP)
	world = build_world(
		datetime.now(timezone.utc).replace(microsecond=0),
		store=make_store(),
		group=GROUP,
		static_token=True,
		site=site,
		strict=True,
		scope=CAMPAIGN_SCOPE,
		rate_limit=None,
	)
	world.config = replace(world.config, campaign_data=True)
	world.engine = SyncEngine(world.client, world.store, world.config, world.clock)
	for i in range(n):
		world.emu.add_contact(f"e{i}@{DOMAIN}", first_name=f"E{i}", list_ids=[world.list_id])
	return world


def _count(doctype: str, **filters) -> int:
	return frappe.db.count(doctype, filters)


def test_the_doctypes_and_the_contact_and_lead_fields_are_installed():
	assert frappe.db.exists("DocType", CAMPAIGN) and frappe.db.exists("DocType", ENGAGEMENT)
	for doctype in (CONTACT, LEAD):
		meta = frappe.get_meta(doctype)
		for field in install.engagement_fields("x"):
			assert meta.get_field(field["fieldname"]), (doctype, field["fieldname"])
		# The "hard-bounced" list filter.
		assert meta.get_field(HARD_BOUNCED).in_standard_filter


def test_a_campaign_lands_with_its_counts_and_each_persons_summary():
	world = _world(200)
	with world.emu.mocked():
		world.run(STREAM_CHANGES)
		campaign = world.emu.send_campaign(
			world.list_id, name="Tier2 June", open_rate=0.5, click_rate=0.1, bounce_rate=0.1, optout_rate=0
		)
		world.clock.advance(72 * 3600)
		report = world.run(STREAM_ENGAGEMENT)
	assert report.stream(STREAM_ENGAGEMENT).status == StreamStatus.SUCCESS
	doc = frappe.get_doc(CAMPAIGN, campaign)
	assert (doc.campaign_name, doc.sends, doc.opens, doc.bounces) == ("Tier2 June", 200, 100, 20)
	assert round(doc.open_rate) == round(100 * 100 / 180) and doc.sent_at
	openers = frappe.db.sql_list(
		f"select distinct email from `tab{ENGAGEMENT}` where campaign = %s and kind = 'Opened'", campaign
	)
	assert len(openers) == 100
	with_summary = frappe.db.sql_list(
		f"select email_id from `tabContact` where `{LAST_OPENED}` is not null and email_id like %s",
		f"%@{DOMAIN}",
	)
	assert sorted(with_summary) == sorted(openers)
	assert set(
		frappe.db.sql_list(f"select `{CAMPAIGNS_OPENED}` from `tabContact` where email_id in %s", [openers])
	) == {1}
	# A bounce names its reason in words; only B and S mark the Contact hard-bounced.
	hard = frappe.db.sql(
		f"select email_id, `{BOUNCE_REASON}` from `tabContact` where `{HARD_BOUNCED}` = 1 and email_id like %s",
		f"%@{DOMAIN}",
	)
	codes = dict(
		frappe.db.sql(
			f"select email, bounce_code from `tab{ENGAGEMENT}` where kind = 'Bounced' and hard_bounce = 1"
		)
	)
	assert {email for email, _ in hard} == set(codes)
	assert all(reason in ("Non-existent address", "Suspended") for _, reason in hard)


def test_a_report_read_twice_writes_each_row_once():
	world = _world(100)
	with world.emu.mocked():
		world.run(STREAM_CHANGES)
		world.emu.send_campaign(
			world.list_id, name="Tier2 twice", open_rate=0.6, click_rate=0.2, bounce_rate=0, optout_rate=0
		)
		world.clock.advance(72 * 3600)
		world.run(STREAM_ENGAGEMENT)
		before = _count(ENGAGEMENT)
		world.store.set_state("engagement", {})
		again = world.run(STREAM_ENGAGEMENT).stream(STREAM_ENGAGEMENT)
	assert _count(ENGAGEMENT) == before
	assert again.created == 0 and again.unchanged > 0


def test_a_hard_bounced_lead_is_never_pushed_on_the_site():
	world = _world(60)
	with world.emu.mocked():
		world.run(STREAM_CHANGES)
		world.emu.send_campaign(
			world.list_id, name="Tier2 bounce", open_rate=0, click_rate=0, bounce_rate=1.0, optout_rate=0
		)
		world.clock.advance(3600)
		world.run(STREAM_ENGAGEMENT)
		hard = frappe.db.sql_list(f"select email from `tab{ENGAGEMENT}` where hard_bounce = 1 limit 1")[0]
		lead = world.site.add_lead(hard)
		world.run(STREAM_PUSH)
	row = world.site.lead(lead)
	assert row.cc_push_status == PushStatus.SKIPPED and "hard-bounced" in row.cc_push_error


def test_thirty_thousand_opens_land_in_seconds():
	world = _world(40_000)
	with world.emu.mocked():
		world.run(STREAM_CHANGES)
		campaign = world.emu.send_campaign(
			world.list_id, name="Tier2 big", open_rate=0.75, click_rate=0, bounce_rate=0, optout_rate=0
		)
		world.clock.advance(72 * 3600)
		started = time.perf_counter()
		report = world.run(STREAM_ENGAGEMENT)
		seconds = time.perf_counter() - started
	stream = report.stream(STREAM_ENGAGEMENT)
	opens = _count(ENGAGEMENT, campaign=campaign, kind="Opened")
	summarised = frappe.db.sql(
		f"select count(*) from `tabContact` where `{LAST_OPENED}` is not null and email_id like %s",
		f"%@{DOMAIN}",
	)[0][0]
	print(
		f"\n30,000 opens: {opens} rows and {summarised} Contact summaries in {seconds:.1f} s "
		f"(emulator, client and site together), {stream.api_calls} API calls"
	)
	assert opens == 30_000 and summarised == 30_000


def _token_with(scope: str) -> str:
	"""A JWT-shaped access token granting `scope`, as CC issues them."""
	import base64
	import json

	def part(data: dict) -> str:
		return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

	return f"{part({'alg': 'RS256'})}.{part({'scp': scope.split()})}.signature"


def test_engagement_runs_on_its_schedule_only_on_a_connection_with_campaign_data(monkeypatch):
	from frappe.utils.password import set_encrypted_password

	from cc_sync import tasks
	from cc_sync.cc_sync.constants import CONNECTION_CONNECTED, SCHEDULE, SETTINGS
	from cc_sync.cc_sync.settings import get_settings, sync_config, update_settings
	from tests.integration.app_helpers import recording, settings_restored

	with settings_restored():
		values = {"enabled": 1, "connection_status": CONNECTION_CONNECTED}
		values |= {job.last_run: frappe.utils.now_datetime() for job in SCHEDULE.values()}
		values |= {"last_engagement_run": None, "engagement_interval_hours": 1}
		update_settings(values, commit=True)
		set_encrypted_password(SETTINGS, SETTINGS, _token_with("contact_data offline_access"), "access_token")
		frappe.db.commit()
		assert not sync_config(get_settings()).campaign_data
		with recording(monkeypatch) as rec:
			assert tasks.enqueue_due_streams() == []
		assert rec.enqueued == []
		set_encrypted_password(
			SETTINGS, SETTINGS, _token_with("contact_data campaign_data offline_access"), "access_token"
		)
		frappe.db.commit()
		assert sync_config(get_settings()).campaign_data
		with recording(monkeypatch):
			assert tasks.enqueue_due_streams() == [STREAM_ENGAGEMENT]


def test_connect_and_reconnect_ask_cc_for_the_campaign_reports():
	from urllib.parse import parse_qs, urlsplit

	from cc_sync.cc_sync import oauth
	from tests.integration.app_helpers import save_settings, settings_restored

	with settings_restored():
		save_settings(lambda doc: doc.update({"client_id": "tier2-client", "client_secret": "tier2-secret"}))
		url = oauth.connect()["url"]
		frappe.cache.delete_value(oauth.STATE_CACHE_KEY.format(user=frappe.session.user))
	scopes = parse_qs(urlsplit(url).query)["scope"][0].split()
	assert set(scopes) == {"contact_data", "campaign_data", "offline_access"}


def test_leads_get_the_summary_too_and_the_list_filters_find_the_right_people():
	world = _world(120)
	everyone = {f"e{i}@{DOMAIN}" for i in range(120)}
	leads = {email: world.site.add_lead(email) for email in sorted(everyone)[:40]}
	with world.emu.mocked():
		world.run(STREAM_CHANGES)
		world.emu.send_campaign(
			world.list_id, name="Tier2 filters", open_rate=0.5, click_rate=0, bounce_rate=0.2, optout_rate=0
		)
		world.clock.advance(72 * 3600)
		world.run(STREAM_ENGAGEMENT)
	openers = set(frappe.db.sql_list(f"select email from `tab{ENGAGEMENT}` where kind = 'Opened'"))
	hard = set(frappe.db.sql_list(f"select email from `tab{ENGAGEMENT}` where hard_bounce = 1"))
	for email, lead in leads.items():
		assert bool(frappe.db.get_value(LEAD, lead, LAST_OPENED)) == (email in openers), email
	# The desk's list filters, as the Contact list applies them.
	since = frappe.utils.add_days(frappe.utils.nowdate(), -30)
	mine = [["email_id", "like", f"%@{DOMAIN}"]]

	def emails(filters):
		return {
			r.email_id for r in frappe.get_list(CONTACT, filters=mine + filters, fields=["email_id"], limit=0)
		}

	assert emails([[LAST_OPENED, ">=", since]]) == openers
	assert emails([[LAST_OPENED, "is", "not set"]]) == everyone - openers
	assert hard and emails([[HARD_BOUNCED, "=", 1]]) == hard
