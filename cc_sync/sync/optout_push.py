"""Site-side opt-outs reach CC: a read-modify-write PUT that sets `permission_to_send=unsubscribed`.

`update_source` is `Contact` only when the person opted out themselves (an unsubscribe link), as CC
asks; a site user's opt-out is sent as `Account`. An address CC does not hold needs nothing: the push
never sends it; unless an import carrying it is still running, in which case the opt-out waits for it. A contact deleted in CC is left deleted: a PUT would revive it, and nothing the site
does re-adds it.

Each opt-out is pushed on its own. One that fails (CC refuses it, answers 5xx, sends the contact in a
shape that cannot be read, ...) is logged with the reason, stays pending and is tried again after a
growing wait, so it never holds up the opt-outs behind it: a transient failure (5xx, a lost connection)
first within the run, about a minute later, then a minute after the run, doubling; a refusal after 15
minutes, doubling. Only what stops every call (the daily quota, a lost connection, throttling, or CC
still failing several opt-outs in a row after the waits) stops the stream.

When a pull of the run finds CC holding subscribed again someone whose opt-out the site holds (the
account re-imported or revived them), that opt-out is pushed before the run ends, whatever its turn,
and the log says so.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection
from datetime import datetime, timedelta

from cc_sync.constant_contact.contacts import PUT_TEXT_LIMITS
from cc_sync.constant_contact.errors import (
	AuthError,
	MalformedResponse,
	NotFound,
	QuotaExceeded,
	Refused,
	ServerError,
	Throttled,
	TransportError,
)
from cc_sync.constant_contact.models import Contact
from cc_sync.constant_contact.transport import Retry
from cc_sync.sync import consent, optouts
from cc_sync.sync.context import RunContext
from cc_sync.sync.matching import contact_address, normalise_email
from cc_sync.sync.records import LocalOptOut
from cc_sync.sync.streams import STREAM_OPTOUT_PUSH

# The wait after the first failure, doubled after each further one, and never longer than a day.
RETRY_FIRST = timedelta(minutes=15)
RETRY_MAX = timedelta(hours=24)
# A failure CC may well not repeat (a 5xx, a lost connection, a body cut short) is tried again within the
# run after these waits (about a minute in all, so a site opt-out still reaches CC within a minute or so),
# then after a minute, doubled after each further failure.
IN_RUN_WAITS = (5.0, 15.0, 40.0)
RETRY_TRANSIENT_FIRST = timedelta(minutes=1)
TRANSIENT = (ServerError, TransportError, MalformedResponse)
# This many server or network failures in a row mean CC is down, not that one record is odd.
OUTAGE_AFTER = 3


def retry_delay(attempts: int, *, transient: bool = False) -> timedelta:
	"""How long to leave an opt-out alone after its `attempts`-th failed push."""
	first = RETRY_TRANSIENT_FIRST if transient else RETRY_FIRST
	return min(RETRY_MAX, first * (2 ** min(max(attempts, 1) - 1, 16)))


def run_optout_push(ctx: RunContext, *, only: Collection[str] | None = None) -> None:
	"""Push every site opt-out whose turn it is (`only`: just these addresses' opt-outs, whatever their
	turn). Opt-outs of addresses CC re-added in this run (`RunReport.readded`) are pushed now too.

	A transient failure is tried again within the run, after `IN_RUN_WAITS`, and the rest go on
	meanwhile; only several in a row (CC is down) stop the stream, the opt-outs not yet tried untouched.
	"""
	report = ctx.report.stream(STREAM_OPTOUT_PUSH)
	now = ctx.now()
	readded = ctx.report.readded()
	due: deque[LocalOptOut] = deque()
	for optout in ctx.store.pending_optouts():
		now_too = optout.group is None and optout.email in readded
		if only is not None and not now_too:
			continue
		if optout.retry_at is not None and optout.retry_at > now and not now_too:
			report.warn(
				optout.email,
				f"waiting to retry after {optout.attempts} failed attempt(s), next after "
				f"{optout.retry_at:%Y-%m-%d %H:%M} UTC; last error: {optout.last_error}",
			)
			continue
		if now_too:
			report.warn(
				optout.email,
				f"pushed in the same run that saw CC hold it subscribed again ({readded[optout.email]})",
			)
		due.append(optout)
	failing = _push_due(ctx, due, now)
	waits = iter(IN_RUN_WAITS)
	while failing and (wait := next(waits, None)) is not None:
		# CC may answer the next time: wait (the client paces every call besides), then try those again,
		# and any not yet tried once CC answers again.
		ctx.clock.sleep(wait)
		for optout, exc in failing:
			report.retries.append(Retry(f"opt-out of {optout.email}", _answer(exc), wait))
		still = []
		for optout, _ in failing:
			failure = attempt(ctx, optout, ctx.now(), final=False)
			if _transient(failure):
				still.append((optout, failure))
		if len(still) < len(failing):
			still += _push_due(ctx, due, now)
		failing = still
	for optout, exc in failing:
		defer(ctx, optout, exc, ctx.now())
	if due:
		# CC itself is failing, not one record: the rest wait for the next run untouched.
		raise ServerError(
			None,
			None,
			f"CC failed {OUTAGE_AFTER} opt-outs in a row ({failing[-1][1] if failing else 'no answer'}); "
			"the others wait for the next run",
		)


def _push_due(ctx: RunContext, due: deque[LocalOptOut], now: datetime) -> list[tuple[LocalOptOut, Exception]]:
	"""Push opt-outs off `due` until CC fails `OUTAGE_AFTER` in a row; returns the transient failures
	(kept pending for a retry within the run; every other failure is deferred at once)."""
	report = ctx.report.stream(STREAM_OPTOUT_PUSH)
	failing: list[tuple[LocalOptOut, Exception]] = []
	outage = 0
	while due and outage < OUTAGE_AFTER:
		optout = due.popleft()
		report.fetched += 1
		failure = attempt(ctx, optout, now, final=False)
		if _transient(failure):
			failing.append((optout, failure))
			outage += 1
		else:
			outage = 0
	return failing


def _transient(failure: Exception | None) -> bool:
	return isinstance(failure, TRANSIENT)


def _answer(exc: Exception) -> str:
	return f"{type(exc).__name__}: {exc}"[:200]


def attempt(ctx: RunContext, optout: LocalOptOut, now: datetime, *, final: bool = True) -> Exception | None:
	"""Push one opt-out; a failure that concerns only this record is returned, not raised, and defers the
	opt-out (a transient one only when `final`: otherwise the caller tries it again first)."""
	try:
		push_one(ctx, optout)
	except (AuthError, QuotaExceeded, Throttled):
		raise
	except Exception as exc:  # one opt-out never holds up the others
		ctx.store.rollback()
		if final or not _transient(exc):
			defer(ctx, optout, exc, now)
		return exc
	return None


def defer(ctx: RunContext, optout: LocalOptOut, exc: Exception, now: datetime) -> None:
	"""Log a failed opt-out push and keep it pending until its next turn."""
	report = ctx.report.stream(STREAM_OPTOUT_PUSH)
	attempts = optout.attempts + 1
	retry_at = now + retry_delay(attempts, transient=_transient(exc))
	reason = f"{type(exc).__name__}: {exc}"
	what = "CC refused the opt-out" if isinstance(exc, Refused) else "could not push the opt-out to CC"
	report.fail(
		optout.email,
		f"{what} ({reason}); it stays pending and is tried again after "
		f"{retry_at:%Y-%m-%d %H:%M} UTC (attempt {attempts})",
	)
	if not ctx.dry_run:
		ctx.store.defer_optout(optout.email, attempts, retry_at, reason[:1000], optout.group)
		ctx.store.commit()


def _find(ctx: RunContext, optout: LocalOptOut, include: list[str] | None = None) -> Contact | None:
	"""The CC contact the opt-out is about: by its known CC id while that still holds the address, else
	by the address."""
	if optout.cc_contact_id:
		try:
			contact = ctx.client.get_contact(optout.cc_contact_id, include=include)
		except NotFound:
			contact = None
		# The contact may no longer hold this address (changed in CC, or SMS-only now): ask by address.
		if contact is not None and normalise_email(contact_address(contact)) == optout.email:
			return contact
	extra = {"include": include} if include else {}
	for contact in ctx.client.iter_contacts(email=optout.email, status="all", limit=1, **extra):
		return contact
	return None


def push_one(ctx: RunContext, optout: LocalOptOut) -> None:
	"""Settle one site opt-out with CC: unsubscribe the person there, unless CC needs nothing."""
	if optout.group is not None:
		_push_group_leave(ctx, optout)
		return
	contact = _find(ctx, optout)
	now = ctx.now()
	if contact is None:
		_not_in_cc(ctx, optout, now)
	elif not _settled_in_cc(ctx, optout, contact, now):
		_unsubscribe_in_cc(ctx, optout, contact, now)


def _not_in_cc(ctx: RunContext, optout: LocalOptOut, now: datetime) -> None:
	"""CC holds nobody at the address: nothing to unsubscribe, unless an import carrying it still runs."""
	report = ctx.report.stream(STREAM_OPTOUT_PUSH)
	if _in_open_import(ctx, optout.email):
		# The import would create the contact subscribed after this opt-out: keep it for then.
		report.skip(
			optout.email,
			"not in CC yet, but an import carrying it is still running: pushed once CC holds it",
		)
		return
	report.skip(optout.email, "not in CC: nothing to unsubscribe there")
	_resolve(ctx, optout, None, now)


def _settled_in_cc(ctx: RunContext, optout: LocalOptOut, contact: Contact, now: datetime) -> bool:
	"""When CC needs no opt-out for this contact (deleted there, already unsubscribed, or opted in again
	by the person since), settle the opt-out and return True."""
	report = ctx.report.stream(STREAM_OPTOUT_PUSH)
	email_address = contact.email_address
	permission = email_address.permission_to_send if email_address else None
	if contact.deleted_at is not None and permission != consent.UNSUBSCRIBED:
		report.skip(optout.email, "deleted in CC: left deleted (unsubscribing would revive it); never pushed")
		_resolve(ctx, optout, None, now, apply=contact)
	elif permission == consent.UNSUBSCRIBED:
		report.unchanged += 1
		_resolve(ctx, optout, contact.contact_id, now)
	elif consent.person_opted_in_after(email_address, optout.at, ctx.site_offset()):
		# The person opted in again in CC after opting out here: CC's newer explicit consent stands,
		# and the pull applies it to the site.
		report.skip(optout.email, "CC holds a newer explicit opt-in by the person")
		_resolve(ctx, optout, contact.contact_id, now, apply=contact)
	else:
		return False
	return True


def _unsubscribe_in_cc(ctx: RunContext, optout: LocalOptOut, contact: Contact, now: datetime) -> None:
	"""The PUT that opts the person out in CC, as the person (an unsubscribe link) or as the account."""
	report = ctx.report.stream(STREAM_OPTOUT_PUSH)
	if ctx.dry_run:
		report.plan.append({"action": "unsubscribe in CC", "email": optout.email})
		return
	over = [n for n, limit in PUT_TEXT_LIMITS.items() if len(getattr(contact, n, None) or "") > limit]
	if over:
		report.warn(
			optout.email,
			f"CC holds {', '.join(over)} longer than CC takes back on write: sent cut to fit with the "
			"opt-out, which must reach CC",
		)
	unsubscribed = ctx.client.unsubscribe_contact(
		contact.contact_id,
		reason=optout.reason,
		update_source="Contact" if optout.by_person else "Account",
	)
	report.unsubscribed += 1
	# The next opt-out pull must return this opt-out: the stream's self-check.
	optouts.expect(ctx, unsubscribed)
	ctx.store.resolve_optout(optout.email, contact.contact_id, now)
	ctx.store.commit()


def _resolve(
	ctx: RunContext,
	optout: LocalOptOut,
	cc_contact_id: str | None,
	now: datetime,
	*,
	apply: Contact | None = None,
) -> None:
	"""Mark the opt-out settled (never on a dry run), after applying CC's record of the person if given."""
	if ctx.dry_run:
		return
	if apply is not None:
		ctx.applier(ctx.report.stream(STREAM_OPTOUT_PUSH)).apply([apply])
	ctx.store.resolve_optout(optout.email, cc_contact_id, now)
	ctx.store.commit()


def _in_open_import(ctx: RunContext, email: str) -> bool:
	return any(normalise_email(e) == email for record in ctx.store.open_activities() for e in record.emails)


def _push_group_leave(ctx: RunContext, optout: LocalOptOut) -> None:
	"""The person left one Email Group: they leave the CC lists mapped to it, and stay subscribed.

	The lists are those mapped to the group when the person left it, as the leave recorded them: a list
	remapped or unmapped since (or while the sync was off) is left all the same. A leave that recorded
	none (made before leaves recorded their lists) takes the lists mapped to the group now. A group no
	CC list is mapped to stays a site matter. A newer opt-in by the person in CC stands (the pull
	rejoins them to the group).
	"""
	report = ctx.report.stream(STREAM_OPTOUT_PUSH)
	now = ctx.now()
	lists = sorted(
		set(optout.lists)
		or {m.cc_list_id for m in ctx.config.list_mappings if m.enabled and m.group == optout.group}
	)
	contact = _find(ctx, optout, ["list_memberships"]) if lists else None
	on_lists = [i for i in lists if contact is not None and i in (contact.list_memberships or ())]
	email_address = contact.email_address if contact is not None else None
	if on_lists and consent.person_opted_in_after(email_address, optout.at, ctx.site_offset()):
		report.skip(optout.email, f"CC holds a newer explicit opt-in by the person: {optout.group} stands")
		on_lists = []
	if ctx.dry_run:
		if on_lists:
			report.plan.append({"action": "remove from CC lists", "email": optout.email, "lists": on_lists})
		return
	if on_lists and contact is not None and contact.deleted_at is None:
		ctx.client.remove_list_memberships([contact.contact_id], on_lists)
		report.updated += 1
	ctx.store.resolve_optout(optout.email, contact.contact_id if contact else None, now, group=optout.group)
	ctx.store.commit()
