"""The engagement stream: campaigns and who opened, clicked, bounced or opted out, read at a bounded cost."""

from __future__ import annotations

from dataclasses import replace

from cc_sync.sync import engagement, engagement_person
from cc_sync.sync.engine import SyncEngine
from cc_sync.sync.records import PushStatus
from cc_sync.sync.report import StreamStatus
from cc_sync.sync.streams import STREAM_ENGAGEMENT, STREAM_OPTOUTS, STREAM_PUSH
from tests.world import make_world

CAMPAIGN_SCOPE = "contact_data campaign_data offline_access"
REPORTS = "/v3/reports/email_reports/"


def _world(n: int = 300, *, campaign_data: bool = True, scope: str = CAMPAIGN_SCOPE, **emu_kwargs):
	emu_kwargs.setdefault("rate_limit", None)
	world = make_world(static_token=True, scope=scope, **emu_kwargs)
	world.config = replace(world.config, campaign_data=campaign_data)
	world.engine = SyncEngine(world.client, world.store, world.config, world.clock)
	world.ids = [world.emu.add_contact(f"p{i}@example.com", list_ids=[world.list_id]) for i in range(n)]
	return world


def _send(world, name: str = "June news", **rates) -> str:
	rates = {"open_rate": 0.3, "click_rate": 0.05, "bounce_rate": 0.05, "optout_rate": 0.01, **rates}
	with world.emu.mocked():
		return world.emu.send_campaign(world.list_id, name=name, **rates)


def _run(world, *streams: str):
	with world.emu.mocked():
		return world.run(*(streams or (STREAM_ENGAGEMENT,)))


def _emulated(world, campaign: str, report: str) -> list[dict]:
	"""Every row CC holds now for one report of the campaign's primary email (not counted as calls)."""
	activity = world.emu.campaign_activity_ids(campaign)[0]
	act = world.emu._email_activities[activity]
	track = act["tracks"][report]
	return track.rows[: track.arrived(world.clock.now())]


def _stored(world, kind: str) -> set[tuple[str, str]]:
	return {(e.cc_contact_id, e.at.isoformat()) for e in world.store.engagement.values() if e.kind == kind}


def _keys(rows: list[dict]) -> set[tuple[str, str]]:
	from cc_sync.constant_contact.values import parse_datetime

	return {(r["contact_id"], parse_datetime(r["created_time"]).isoformat()) for r in rows}


def test_a_first_read_brings_the_campaign_its_counts_and_every_open_click_and_bounce():
	world = _world()
	campaign = _send(world)
	world.clock.advance(72 * 3600)
	report = _run(world)
	assert report.stream(STREAM_ENGAGEMENT).status == StreamStatus.SUCCESS
	record = world.store.campaigns[campaign]
	assert (record.name, record.subject) == ("June news", "June news")
	assert record.counts["sends"] == 300 and record.counts["opens"] == 90 and record.counts["bounces"] == 15
	assert record.sent_at is not None
	assert _stored(world, "open") == _keys(_emulated(world, campaign, "unique_opens"))
	assert _stored(world, "click") == _keys(_emulated(world, campaign, "clicks"))
	assert _stored(world, "bounce") == _keys(_emulated(world, campaign, "bounces"))
	assert all(e.link_url for e in world.store.engagement.values() if e.kind == "click")


def test_only_non_existent_and_suspended_bounces_are_hard():
	world = _world(600)
	_send(world, bounce_rate=0.3)
	world.clock.advance(3600)
	_run(world)
	bounces = [e for e in world.store.engagement.values() if e.kind == "bounce"]
	assert {e.bounce_code for e in bounces} >= {"B", "S", "Z", "D"}
	assert {e.bounce_code for e in bounces if e.hard_bounce} == {"B", "S"}
	hard = {e.email for e in bounces if e.hard_bounce}
	assert set(world.store.bounced_emails({e.email for e in bounces})) == hard


def test_paging_stops_at_the_watermark_and_misses_nothing_that_arrives_later():
	world = _world(3000)
	campaign = _send(world, open_rate=0.5)
	world.clock.advance(2 * 3600)
	_run(world)
	first = world.emu.calls_to(REPORTS)
	for _ in range(6):
		world.clock.advance(3600)
		before = world.emu.calls
		_run(world)
		# A steady hourly run: the campaign list, the stats and about one page per report.
		assert world.emu.calls - before <= 10
	assert world.emu.calls_to(REPORTS) - first <= 6 * 6
	assert _stored(world, "open") == _keys(_emulated(world, campaign, "unique_opens"))
	assert _stored(world, "click") == _keys(_emulated(world, campaign, "clicks"))


def test_an_unchanged_campaign_costs_no_report_call():
	world = _world()
	_send(world)
	world.clock.advance(100 * 3600)
	_run(world)
	before = world.emu.calls_to(REPORTS)
	world.clock.advance(3600)
	_run(world)
	assert world.emu.calls_to(REPORTS) == before


def test_a_campaign_outside_the_window_is_not_read():
	world = _world()
	old = _send(world, name="Old")
	world.clock.advance(91 * 86400)
	_send(world, name="New")
	world.clock.advance(3600)
	_run(world)
	assert set(world.store.campaigns) != {old} and old not in world.store.campaigns
	assert all(e.campaign_id != old for e in world.store.engagement.values())


def test_a_campaign_stops_being_polled_after_its_window():
	world = _world()
	campaign = _send(world)
	world.clock.advance(3600)
	_run(world)
	activity = world.emu.campaign_activity_ids(campaign)[0]
	world.clock.advance(91 * 86400)
	before = world.emu.calls_to(f"/v3/reports/stats/email_campaign_activities/{activity}")
	_run(world)
	_run(world)
	assert world.emu.calls_to(f"/v3/reports/stats/email_campaign_activities/{activity}") == before
	assert world.emu.calls_to(f"{REPORTS}{activity}") == 4 + 1  # the first run's reports and its send time


def test_without_campaign_data_the_stream_stays_off_says_why_and_spends_nothing():
	world = _world(campaign_data=False)
	_send(world)
	report = _run(world)
	stream = report.stream(STREAM_ENGAGEMENT)
	assert stream.status == StreamStatus.SKIPPED and "campaign_data" in stream.error
	assert world.emu.calls == 0


def test_a_connection_cc_refuses_campaign_data_skips_the_stream_and_the_rest_runs():
	world = _world(scope="contact_data offline_access")
	_send(world)
	report = _run(world, STREAM_OPTOUTS, STREAM_ENGAGEMENT)
	assert report.stream(STREAM_ENGAGEMENT).status == StreamStatus.SKIPPED
	assert "Reconnect" in report.stream(STREAM_ENGAGEMENT).error
	assert report.stream(STREAM_OPTOUTS).status == StreamStatus.SUCCESS


def test_a_429_mid_report_resumes_where_it_stopped():
	# CC's quota answer (a 429) after two pages of a 4-page report; the next day carries on.
	world = _world(5000, daily_quota=8)
	campaign = _send(world, open_rate=0.4, click_rate=0, bounce_rate=0, optout_rate=0)
	world.clock.advance(60 * 3600)
	report = _run(world)
	assert report.stream(STREAM_ENGAGEMENT).status == StreamStatus.FAILED
	applied = len(_stored(world, "open"))
	assert 0 < applied < 2000
	world.clock.advance(24 * 3600)
	world.emu.daily_quota = 10_000
	activity = world.emu.campaign_activity_ids(campaign)[0]
	before = world.emu.calls_to(f"{REPORTS}{activity}/tracking/unique_opens")
	_run(world)
	assert _stored(world, "open") == _keys(_emulated(world, campaign, "unique_opens"))
	# The pages read before the stop are not read again (one call to look at the top, then the rest).
	assert world.emu.calls_to(f"{REPORTS}{activity}/tracking/unique_opens") - before <= 4 - 2 + 1


def test_a_hard_bounced_address_is_never_pushed_until_it_changes():
	world = _world(400)
	_send(world, bounce_rate=0.5, open_rate=0, click_rate=0, optout_rate=0)
	world.clock.advance(3600)
	_run(world)
	hard = sorted({e.email for e in world.store.engagement.values() if e.hard_bounce})
	soft = sorted(
		{e.email for e in world.store.engagement.values() if e.kind == "bounce" and not e.hard_bounce}
	)
	lead_hard = world.store.add_lead(hard[0])
	lead_soft = world.store.add_lead(soft[0])
	_run(world, STREAM_PUSH)
	assert world.store.leads[lead_hard].push_status == PushStatus.SKIPPED
	assert "hard-bounced" in world.store.leads[lead_hard].push_error
	assert world.store.leads[lead_soft].push_status != PushStatus.SKIPPED
	# A new address is a new chance.
	world.store.edit_lead(lead_hard, email="fixed@example.com")
	_run(world, STREAM_PUSH)
	assert world.store.leads[lead_hard].push_status != PushStatus.SKIPPED


def test_report_opt_outs_and_stream_opt_outs_agree():
	def sent_world():
		world = _world(1000, rng_seed=0)
		_send(world, optout_rate=0.03)
		world.clock.advance(72 * 3600)
		_run(world, "changes")
		return world

	by_report, by_stream = sent_world(), sent_world()
	everyone = {f"p{i}@example.com" for i in range(1000)}
	_run(by_report, STREAM_ENGAGEMENT)
	_run(by_stream, STREAM_OPTOUTS)
	opted_out = by_report.store.opted_out_emails(everyone)
	assert len(opted_out) == 30
	assert opted_out == by_stream.store.opted_out_emails(everyone)
	# Nothing is applied twice: the other path then finds nothing left to change.
	assert _run(by_report, STREAM_OPTOUTS).stream(STREAM_OPTOUTS).unsubscribed == 0
	assert _run(by_stream, STREAM_ENGAGEMENT).stream(STREAM_ENGAGEMENT).unsubscribed == 0
	for email in opted_out:
		a = by_report.store.consent_state({email})[email]
		b = by_stream.store.consent_state({email})[email]
		assert (a.opted_out, a.opted_out_at, a.cc_clock) == (b.opted_out, b.opted_out_at, b.cc_clock)


def test_the_days_engagement_spend_stays_within_its_share():
	world = _world(3000)
	world.config = replace(world.config, engagement_share=0.0005)  # 5 calls of 10,000
	world.engine = SyncEngine(world.client, world.store, world.config, world.clock)
	_send(world, open_rate=0.8)
	world.clock.advance(3600)
	report = _run(world)
	assert world.emu.calls == 5
	assert "share" in report.stream(STREAM_ENGAGEMENT).notice
	_run(world)
	assert world.emu.calls == 5
	world.clock.advance(86400)
	_run(world)
	assert world.emu.calls == 10


def test_sync_now_reads_one_persons_activity_details():
	world = _world(50)
	_send(world, open_rate=1.0, click_rate=0, bounce_rate=0, optout_rate=0)
	world.clock.advance(72 * 3600)
	_run(world)
	from cc_sync.sync.context import RunContext
	from cc_sync.sync.report import RunReport

	ctx = RunContext(
		world.client, world.store, world.config, world.clock, RunReport(started=world.clock.now())
	)
	with world.emu.mocked():
		engagement_person.sync_person(ctx, world.ids[0], "p0@example.com")
	kinds = {e.kind for e in world.store.engagement_of("p0@example.com")}
	assert kinds == {"sent", "open"}
	assert world.emu.calls_to(f"/v3/reports/contact_reports/{world.ids[0]}") == 1


def test_a_dry_run_reads_but_writes_nothing():
	world = _world()
	_send(world)
	world.clock.advance(3600)
	with world.emu.mocked():
		report = world.run(STREAM_ENGAGEMENT, dry_run=True)
	assert report.stream(STREAM_ENGAGEMENT).fetched > 0
	assert world.store.engagement == {} and world.store.campaigns == {}
	assert world.store.get_state(engagement.STATE) is None


def test_sync_now_on_a_record_brings_that_persons_engagement():
	world = _world(20)
	_send(world, open_rate=1.0, click_rate=0, bounce_rate=0, optout_rate=0)
	world.clock.advance(72 * 3600)
	with world.emu.mocked():
		result = world.engine.sync_email("p3@example.com")
	assert result["report"].stream(STREAM_ENGAGEMENT).status == StreamStatus.SUCCESS
	assert {e.kind for e in world.store.engagement_of("p3@example.com")} == {"sent", "open"}
	assert {e.email for e in world.store.engagement.values()} == {"p3@example.com"}
