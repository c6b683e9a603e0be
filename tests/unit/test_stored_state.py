"""The Contact form's CC status comes from what the site stored; it must read like "Sync now"."""

from __future__ import annotations

import pytest

from cc_sync.sync.engine import stored_state


@pytest.mark.parametrize(
	("permission", "state"),
	[
		("explicit", "subscribed"),
		("implicit", "subscribed"),
		("unsubscribed", "unsubscribed"),
		("pending_confirmation", "pending confirmation"),
		("not_set", "not set"),
		("temp_hold", "on hold"),
		("something_new", "unknown"),
		(None, "unknown"),
	],
)
def test_a_matched_record_reads_cc_permission_as_sync_now_does(permission, state):
	assert stored_state("cc-1", permission, False) == state


def test_deleted_in_cc_wins_over_the_last_permission_seen():
	assert stored_state("cc-1", "explicit", True) == "deleted"


def test_a_record_no_sync_has_matched_is_not_in_cc_even_with_a_permission_left_over():
	assert stored_state(None, "explicit", False) == "not in CC"
	assert stored_state("", None, False) == "not in CC"
