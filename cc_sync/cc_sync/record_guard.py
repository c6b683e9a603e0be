"""What keeps "Sync now" on a record from costing the account its day.

CC allows 10,000 calls a day per API key, shared by every site on that key, and "Sync now" needs only
write permission on one Contact or Lead. So each press is counted per user and record, per user per
hour and per user per day, refused once the day's calls run low, and run only while no other sync of
this site runs (the same lock the scheduled jobs take).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import frappe
from frappe import _

from cc_sync.cc_sync.runner import site_run_lock

# How long a press waits for a running sync of this site before it is refused.
LOCK_WAIT_SECONDS = 10
# (window in seconds, presses allowed in it, what the window is counted over)
PER_RECORD = (60, 1)
PER_USER_HOUR = (3600, 20)
PER_USER_DAY = (86400, 100)
# Calls left today below which a press is refused, so the scheduled sync keeps what it needs.
DAILY_RESERVE = 2000
# "Re-check now" for CC's opt-out filter spends a query and a full opt-out scan: once per site per window.
RECHECK_WINDOW_SECONDS = 600


def check_throttle(doctype: str, name: str, user: str | None = None) -> None:
	"""Count one press; raise `RateLimitExceededError` with the reason when it is one too many."""
	user = user or frappe.session.user
	windows = (
		(f"record:{user}:{doctype}:{name}", *PER_RECORD),
		(f"hour:{user}", *PER_USER_HOUR),
		(f"day:{user}", *PER_USER_DAY),
	)
	for key, seconds, allowed in windows:
		if _count(key, seconds) > allowed:
			if key.startswith("record:"):
				message = _("This record was synced less than a minute ago. Try again in a minute.")
			else:
				message = _(
					"You have used Sync now {0} times in the last {1}; the scheduled sync carries on."
				).format(allowed, _("hour") if seconds == 3600 else _("day"))
			frappe.throw(message, frappe.RateLimitExceededError, title=_("Constant Contact"))


def check_recheck_throttle() -> None:
	"""Count one "Re-check now" press for the site; refuse it when one was made within the window."""
	if _count("optout_recheck", RECHECK_WINDOW_SECONDS) > 1:
		frappe.throw(
			_("The opt-out filter was re-checked less than ten minutes ago. Try again later."),
			frappe.RateLimitExceededError,
			title=_("Constant Contact"),
		)


def check_reserve(used_today: int, limit: int) -> None:
	"""Refuse a press when the day's calls left would not cover the scheduled sync."""
	if limit - used_today < DAILY_RESERVE:
		frappe.throw(
			_(
				"Only {0} of today's {1} Constant Contact API calls are left; they are kept for the "
				"scheduled sync. Sync now works again after midnight UTC."
			).format(max(limit - used_today, 0), limit),
			frappe.RateLimitExceededError,
			title=_("Constant Contact"),
		)


@contextmanager
def run_lock() -> Iterator[None]:
	"""Hold this site's sync run lock, or refuse the press when another run keeps it."""
	with site_run_lock(LOCK_WAIT_SECONDS) as held:
		if not held:
			frappe.throw(
				_("Another sync of this site is running. Try again when it has finished."),
				frappe.RateLimitExceededError,
				title=_("Constant Contact"),
			)
		yield


def _count(key: str, seconds: int) -> int:
	"""Add one to a counter that lives `seconds` from its first press."""
	cache = frappe.cache
	full = cache.make_key(f"cc_sync:sync_now:{key}")
	cache.set(full, 0, ex=seconds, nx=True)
	count = int(cache.incr(full))
	if cache.ttl(full) < 0:
		# The key expired between the two calls and came back without a lifetime.
		cache.expire(full, seconds)
	return count
