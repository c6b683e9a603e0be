"""Newsletter sign-ups pushed to CC: the same scenarios on the in-memory store (tier 1) and on a real site
(tier 2), each given a world whose store pushes Email Group Member rows.

A sign-up goes only to the CC lists mapped for push to its own group; one who left the group is never
pushed; a group no list is pushed from sends nobody; a person in two pushed groups is one import row on
both groups' lists.
"""

from __future__ import annotations

from typing import Any

from cc_sync.sync.config import ListMapping

PUSHED = "Signups Pushed"
PULLED = "Signups Pulled"
UNMAPPED = "Signups Unmapped"
SECOND = "Signups Second"


def map_groups(w: Any) -> dict[str, str]:
	"""One list pushed from PUSHED, one pulled into PULLED, one pushed from SECOND; UNMAPPED has none."""
	lists = {
		PUSHED: w.emu.create_list("Pushed sign-ups"),
		PULLED: w.emu.create_list("Pulled list"),
		SECOND: w.emu.create_list("Second pushed"),
	}
	w.map_lists(
		ListMapping(lists[PUSHED], PUSHED, "push"),
		ListMapping(lists[PULLED], PULLED, "pull"),
		ListMapping(lists[SECOND], SECOND, "both"),
	)
	return lists


def lists_in_cc(w: Any, email: str) -> set[str] | None:
	found = w.emu.find_by_email(email)
	return None if found is None else set(found["list_memberships"])


def check_sign_ups_reach_their_own_groups_lists(w: Any, join: Any, leave: Any, addr: Any) -> None:
	"""`join(group, email)` and `leave(group, email)` are what the site's people do."""
	lists = map_groups(w)
	pushed, pulled, unmapped, both, left = (
		addr(n) for n in ("su-pushed", "su-pulled", "su-none", "su-both", "su-left")
	)
	join(PUSHED, pushed)
	join(PULLED, pulled)
	join(UNMAPPED, unmapped)
	join(PUSHED, both)
	join(SECOND, both)
	join(PUSHED, left)
	leave(PUSHED, left)
	with w.emu.mocked():
		w.run()
	assert lists_in_cc(w, pushed) == {lists[PUSHED]}
	assert lists_in_cc(w, both) == {lists[PUSHED], lists[SECOND]}
	assert lists_in_cc(w, pulled) is None  # a pull-only group pushes nobody
	assert lists_in_cc(w, unmapped) is None
	assert lists_in_cc(w, left) is None  # left before any push: never put on the list
