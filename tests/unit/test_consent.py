"""The consent ratchet, row by row of the tables in cc_sync/sync/consent.py."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from cc_sync.sync.consent import (
	SKEW_MARGIN,
	AddressConsent,
	ConsentDecision,
	MemberRow,
	decide,
	decide_rows,
	push_lists,
)

OUT = datetime(2024, 6, 8, 1, 31, 5, tzinfo=timezone.utc)
NOW = OUT + timedelta(days=40)


def site(opted_out=False, opted_out_at=None, *, cc_clock=False, rows=None):
	return AddressConsent(
		email="a@example.com",
		opted_out=opted_out,
		opted_out_at=opted_out_at,
		cc_clock=cc_clock,
		rows=dict(rows or {}),
	)


def test_cc_unsubscribe_reaches_a_subscribed_site_contact_with_cc_date():
	d = decide(site(), "unsubscribed", OUT, None, OUT)
	assert (d.opted_out, d.changed, d.cc_clock) == (True, True, True)
	assert d.opted_out_at == OUT


def test_cc_unsubscribe_without_opt_out_date_uses_the_email_update_time():
	d = decide(site(), "unsubscribed", None, None, OUT)
	assert d.opted_out is True and d.opted_out_at == OUT


def test_cc_unsubscribe_creates_unsubscribed_for_an_unknown_contact():
	assert decide(None, "unsubscribed", OUT, None, OUT).opted_out is True


@pytest.mark.parametrize("permission", ["implicit", "pending_confirmation", "not_set", "temp_hold"])
def test_site_optout_is_never_lifted_by_a_non_explicit_cc_state(permission):
	d = decide(site(True, OUT), permission, None, OUT + timedelta(days=30), None, "Contact")
	assert d.opted_out is True and not d.changed
	assert d.push_optout is True


def test_the_persons_explicit_opt_in_after_the_optout_lifts_it():
	d = decide(site(True, OUT), "explicit", None, OUT + SKEW_MARGIN + timedelta(seconds=1), None, "Contact")
	assert d.opted_out is False and d.lifted
	assert d.push_optout is False


def test_an_explicit_opt_in_by_the_account_never_lifts_an_optout():
	d = decide(site(True, OUT), "explicit", None, OUT + timedelta(days=1), None, "Account")
	assert d.opted_out is True and not d.lifted and d.push_optout is True


def test_explicit_opt_in_before_the_optout_does_not_resubscribe_and_cc_is_told():
	d = decide(site(True, OUT), "explicit", None, OUT - timedelta(days=1), None, "Contact")
	assert d.opted_out is True and not d.changed
	assert d.push_optout is True


def test_clock_skew_cannot_flip_a_site_optout():
	"""Item 9: CC 90 s ahead; the person opted out on the site 30 s after an opt-in CC dated by its clock."""
	site_out_at = OUT
	cc_opt_in_by_cc_clock = OUT - timedelta(seconds=30) + timedelta(seconds=90)
	d = decide(site(True, site_out_at), "explicit", None, cc_opt_in_by_cc_clock, None, "Contact")
	assert d.opted_out is True and not d.lifted


def test_a_cc_dated_optout_is_compared_on_ccs_own_clock():
	d = decide(site(True, OUT, cc_clock=True), "explicit", None, OUT + timedelta(seconds=1), None, "Contact")
	assert d.lifted


def test_optout_of_unknown_date_is_never_lifted():
	d = decide(site(True, None), "explicit", None, OUT, None, "Contact")
	assert d.opted_out is True and d.push_optout is True


def test_subscribed_both_sides_changes_nothing():
	d = decide(site(), "implicit", None, None, None)
	assert (d.opted_out, d.changed, d.push_optout, d.unknown_permission) == (False, False, False, None)


def test_unknown_permission_value_is_reported_and_changes_nothing():
	d = decide(site(True, OUT), "double_opted_maybe", None, None, None)
	assert d.unknown_permission == "double_opted_maybe"
	assert d.opted_out is True and not d.changed and d.push_optout is False


def test_already_unsubscribed_both_sides_needs_no_write():
	d = decide(site(True, OUT), "unsubscribed", OUT, None, OUT)
	assert d.opted_out is True and not d.changed


def test_sms_only_contact_has_no_email_consent():
	d = decide(site(True, OUT), None, None, None, None)
	assert (d.opted_out, d.changed, d.push_optout) == (True, False, False)


# -- list level -----------------------------------------------------------------------------------
MANAGED = {"News", "Events"}
SUBSCRIBED = ConsentDecision()


def test_a_cc_list_member_gets_a_subscribed_row():
	rows = decide_rows(site(), SUBSCRIBED, frozenset({"News"}), MANAGED, now=NOW)
	assert rows == {"News": MemberRow(False, NOW)}


def test_an_opted_out_address_gets_its_new_rows_unsubscribed():
	"""Item 1: a row added for someone opted out is added opted out, stated explicitly."""
	out = decide(site(True, OUT), "implicit", None, None, None)
	rows = decide_rows(site(True, OUT), out, frozenset({"News"}), MANAGED, now=NOW)
	assert rows == {"News": MemberRow(True, OUT)}


def test_an_address_optout_unsubscribes_every_row_including_site_only_groups():
	state = site(rows={"News": MemberRow(False, OUT), "Site only": MemberRow(False, OUT)})
	d = decide(state, "unsubscribed", OUT, None, OUT)
	rows = decide_rows(state, d, frozenset(), MANAGED, now=NOW)
	assert rows == {"News": MemberRow(True, OUT), "Site only": MemberRow(True, OUT)}


def test_leaving_the_cc_list_keeps_the_row_unsubscribed():
	state = site(rows={"News": MemberRow(False, OUT)})
	assert decide_rows(state, SUBSCRIBED, frozenset(), MANAGED, now=NOW) == {"News": MemberRow(True, NOW)}


def test_a_left_group_is_not_rejoined_because_cc_still_lists_the_person():
	state = site(rows={"News": MemberRow(True, OUT)})
	assert decide_rows(state, SUBSCRIBED, frozenset({"News"}), MANAGED, now=NOW) == {}


def test_the_persons_newer_opt_in_rejoins_a_left_group_cc_lists_them_on():
	state = site(rows={"News": MemberRow(True, OUT)})
	rows = decide_rows(
		state,
		SUBSCRIBED,
		frozenset({"News"}),
		MANAGED,
		permission="explicit",
		opt_in_source="Contact",
		opt_in_date=OUT + SKEW_MARGIN + timedelta(seconds=1),
		now=NOW,
	)
	assert rows == {"News": MemberRow(False, NOW)}


def test_a_lifted_optout_leaves_site_only_groups_and_lists_not_held_alone():
	"""Item 7: re-opting in through CC rejoins only the lists CC has the person on."""
	state = site(
		True,
		OUT,
		rows={
			"News": MemberRow(True, OUT),
			"Events": MemberRow(True, OUT),
			"Site only": MemberRow(True, OUT),
		},
	)
	opt_in = OUT + SKEW_MARGIN + timedelta(seconds=1)
	d = decide(state, "explicit", None, opt_in, None, "Contact")
	assert d.lifted
	rows = decide_rows(
		state,
		d,
		frozenset({"News"}),
		MANAGED,
		permission="explicit",
		opt_in_source="Contact",
		opt_in_date=opt_in,
		now=NOW,
	)
	assert rows == {"News": MemberRow(False, NOW)}


def test_memberships_not_fetched_change_no_row():
	state = site(rows={"News": MemberRow(False, OUT)})
	assert decide_rows(state, SUBSCRIBED, None, MANAGED, now=NOW) == {}


# -- push lists -----------------------------------------------------------------------------------
LISTS = {"L-news": ["News"], "L-events": ["Events"]}


def test_a_new_person_is_pushed_to_every_push_list():
	assert push_lists(site(), LISTS, known_in_cc=False) == ["L-events", "L-news"]


def test_the_push_never_relists_someone_who_left_the_group():
	"""Item 8: the lists a pushed row carries are decided per person."""
	state = site(rows={"News": MemberRow(True, OUT)})
	assert push_lists(state, LISTS, known_in_cc=False) == ["L-events"]


def test_a_contact_cc_holds_is_put_on_no_list_it_is_not_seen_on():
	state = site(rows={"News": MemberRow(False, OUT)})
	assert push_lists(state, LISTS, known_in_cc=True, pulled_groups={"News", "Events"}) == ["L-news"]
	assert push_lists(site(), LISTS, known_in_cc=True, pulled_groups={"News", "Events"}) == []
