"""Whether CC's `optout_after` can be trusted again, once the opt-out stream concluded it cannot.

A judgement of "not reliable" used to stand for good: the settings page stayed red and every opt-out run
paid for a full scan. So while the stream reads opt-outs by the full scan, the filter is re-checked on
a schedule (`SyncConfig.optout_recheck_every`, or at once when someone asks from the settings page): one
`optout_after` query over `SyncConfig.optout_recheck_window`, held against what the full scan of the
same run found. A good check returned every opt-out the scan found dated in that window (an hour's
margin for clocks that disagree) and nothing that did not opt out after the bound. After
`SyncConfig.optout_recover_after` good checks in a row the filter is trusted again, from then on checked
by every opt-out the app pushes, as before. A check with nothing to find either way proves nothing and
is not counted.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from cc_sync.constant_contact.models import Contact
from cc_sync.constant_contact.values import parse_datetime
from cc_sync.sync.context import RunContext
from cc_sync.sync.matching import contact_address, normalise_email
from cc_sync.sync.streams import STREAM_OPTOUTS

# Clocks that disagree by less than this never make an opt-out near the window's start count against CC.
SKEW_MARGIN = timedelta(hours=1)


def _ts(value: datetime | None) -> str | None:
	return value.isoformat() if value is not None else None


def next_check(ctx: RunContext, state: Mapping[str, Any]) -> datetime | None:
	"""When the filter is next re-checked (None while it is trusted)."""
	if state.get("reliable", True):
		return None
	check = state.get("recheck") or {}
	planned = parse_datetime(check.get("next"))
	if planned is None:
		since = parse_datetime(state.get("since"))
		planned = (since or ctx.now()) + ctx.config.optout_recheck_every
	return planned


def due(ctx: RunContext, state: Mapping[str, Any]) -> bool:
	"""Is a re-check due in this run: asked for from the settings page, or its time has come?"""
	if state.get("reliable", True) or ctx.dry_run:
		return False
	planned = next_check(ctx, state)
	return bool(state.get("recheck_requested")) or (planned is not None and planned <= ctx.now())


def recheck(ctx: RunContext, state: dict[str, Any], scanned: Mapping[str, datetime | None]) -> None:
	"""Hold one `optout_after` query against the opt-outs this run's full scan found (`scanned`: address
	-> opt-out date); count the result in `state`, and trust the filter again after enough good ones."""
	report = ctx.report.stream(STREAM_OPTOUTS)
	now = ctx.now()
	start = now - ctx.config.optout_recheck_window
	calls_before = getattr(ctx.client, "calls", 0)
	expected = {e for e, when in scanned.items() if when is not None and when > start + SKEW_MARGIN}
	returned: set[str] = set()
	strays = 0
	query = {"status": "all", "optout_after": start, "limit": ctx.config.page_limit}
	for page in ctx.client.iter_contact_pages(**query):
		for contact in page.contacts:
			if _dated_after(contact, start):
				returned.add(normalise_email(contact_address(contact)) or "")
			else:
				strays += 1
		if strays:
			break  # the filter is ignored: reading on would read the whole account
	calls = getattr(ctx.client, "calls", 0) - calls_before
	missing = sorted(expected - returned)
	check = dict(state.get("recheck") or {})
	if strays:
		result, good = f"returned {strays} contact(s) that did not opt out after {start:%Y-%m-%d}", False
	elif missing:
		result = f"missed {len(missing)} of the {len(expected)} opt-out(s) the full scan found ({', '.join(missing[:3])})"
		good = False
	elif not expected:
		result, good = "nothing to compare: no opt-out in the window", None
	else:
		result, good = f"returned all {len(expected)} opt-out(s) the full scan found", True
	if good is not None:
		check["good"] = check.get("good", 0) + 1 if good else 0
	check.update(at=_ts(now), result=result, next=_ts(now + ctx.config.optout_recheck_every))
	state["recheck"] = check
	state.pop("recheck_requested", None)
	needed = ctx.config.optout_recover_after
	report.warn(
		None,
		f"re-check of optout_after ({calls} API calls): {result}; {check.get('good', 0)} of {needed} good "
		"checks in a row needed to trust it again",
	)
	if check.get("good", 0) >= needed:
		state.update(reliable=True, trusted_since=_ts(now), reason=None, expected=[], recheck={})
		state["recovered"] = f"after {needed} good re-checks in a row, the last {now:%Y-%m-%d %H:%M} UTC"
		report.warn(
			None,
			f"optout_after works again on this account ({state['recovered']}): opt-outs are read through it "
			"again, and every opt-out the app pushes is checked against it as before",
		)


def _dated_after(contact: Contact, since: datetime) -> bool:
	"""What a working `optout_after` may return: an opt-out dated after the bound, or one CC sent undated."""
	email_address = contact.email_address
	when = email_address.opt_out_date if email_address else None
	return when >= since if when is not None else contact.is_unsubscribed
