"""The consent ratchet, row by row of the table in cc_sync/sync/consent.py."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from cc_sync.sync.consent import decide
from cc_sync.sync.records import SiteContact

OUT = datetime(2024, 6, 8, 1, 31, 5, tzinfo=timezone.utc)


def site(unsubscribed=False, opted_out_at=None):
	return SiteContact(key="C1", email="a@example.com", unsubscribed=unsubscribed, opted_out_at=opted_out_at)


def test_cc_unsubscribe_reaches_a_subscribed_site_contact_with_cc_date():
	d = decide(site(), "unsubscribed", OUT, None, OUT)
	assert d.site_unsubscribed is True
	assert d.opted_out_at == OUT


def test_cc_unsubscribe_without_opt_out_date_uses_the_email_update_time():
	d = decide(site(), "unsubscribed", None, None, OUT)
	assert d.site_unsubscribed is True and d.opted_out_at == OUT


def test_cc_unsubscribe_creates_unsubscribed_for_an_unknown_contact():
	assert decide(None, "unsubscribed", OUT, None, OUT).site_unsubscribed is True


@pytest.mark.parametrize("permission", ["implicit", "pending_confirmation", "not_set", "temp_hold"])
def test_site_optout_is_never_lifted_by_a_non_explicit_cc_state(permission):
	d = decide(site(True, OUT), permission, None, OUT + timedelta(days=30), None)
	assert d.site_unsubscribed is None
	assert d.push_optout is True


def test_explicit_opt_in_after_the_optout_resubscribes_the_site():
	d = decide(site(True, OUT), "explicit", None, OUT + timedelta(seconds=1), None)
	assert d.site_unsubscribed is False
	assert d.push_optout is False


def test_explicit_opt_in_before_the_optout_does_not_resubscribe_and_cc_is_told():
	d = decide(site(True, OUT), "explicit", None, OUT - timedelta(days=1), None)
	assert d.site_unsubscribed is None
	assert d.push_optout is True


def test_optout_of_unknown_date_is_never_lifted():
	d = decide(site(True, None), "explicit", None, OUT, None)
	assert d.site_unsubscribed is None and d.push_optout is True


def test_subscribed_both_sides_changes_nothing():
	d = decide(site(), "implicit", None, None, None)
	assert (d.site_unsubscribed, d.push_optout, d.unknown_permission) == (None, False, None)


def test_unknown_permission_value_is_reported_and_changes_nothing():
	d = decide(site(True, OUT), "double_opted_maybe", None, None, None)
	assert d.unknown_permission == "double_opted_maybe"
	assert d.site_unsubscribed is None and d.push_optout is False


def test_already_unsubscribed_both_sides_needs_no_write():
	assert decide(site(True, OUT), "unsubscribed", OUT, None, OUT).site_unsubscribed is None


def test_sms_only_contact_has_no_email_consent():
	d = decide(site(True, OUT), None, None, None, None)
	assert (d.site_unsubscribed, d.push_optout) == (None, False)
