"""Newsletter sign-ups (Email Group Member rows) as a push target, on the in-memory store."""

from __future__ import annotations

from tests.sign_up_scenarios import check_sign_ups_reach_their_own_groups_lists
from tests.world import make_world


def addr(local: str) -> str:
	return f"{local}@example.com"


def test_sign_ups_reach_the_lists_of_their_own_group_only():
	w = make_world()
	w.store.push_sign_ups = True
	check_sign_ups_reach_their_own_groups_lists(
		w,
		join=lambda group, email: w.store.join_group(email, group),
		leave=lambda group, email: w.store.leave_group(email, group),
		addr=addr,
	)


def test_without_the_target_no_sign_up_is_pushed():
	w = make_world()
	w.store.join_group(addr("quiet"), "Newsletter")
	with w.emu.mocked():
		w.run()
	assert w.emu.find_by_email(addr("quiet")) is None
