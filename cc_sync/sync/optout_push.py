"""Site-side opt-outs reach CC: a read-modify-write PUT that sets `permission_to_send=unsubscribed`.

`update_source` is `Contact` only when the person opted out themselves (an unsubscribe link), as CC
asks; a site user's opt-out is sent as `Account`. An address CC does not hold needs nothing: the push
never sends it; unless an import carrying it is still running, in which case the opt-out waits for it. A contact deleted in CC is left deleted: a PUT would revive it, and nothing the site
does re-adds it.

Each opt-out is pushed on its own. One that fails (CC refuses it, answers 5xx, sends the contact in a
shape that cannot be read, ...) is logged with the reason, stays pending and is tried again after a
growing wait, so it never holds up the opt-outs behind it. Only what stops every call (the daily quota,
a lost connection, throttling, or CC failing several opt-outs in a row) stops the stream.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from cc_sync.constant_contact.errors import (
	AuthError,
	NotFound,
	QuotaExceeded,
	Refused,
	ServerError,
	Throttled,
	TransportError,
)
from cc_sync.constant_contact.models import Contact
from cc_sync.sync import consent, optouts
from cc_sync.sync.context import RunContext
from cc_sync.sync.matching import normalise_email
from cc_sync.sync.records import LocalOptOut
from cc_sync.sync.streams import STREAM_OPTOUT_PUSH

# The wait after the first failure, doubled after each further one, and never longer than a day.
RETRY_FIRST = timedelta(minutes=15)
RETRY_MAX = timedelta(hours=24)
# This many server or network failures in a row mean CC is down, not that one record is odd.
OUTAGE_AFTER = 3


def retry_delay(attempts: int) -> timedelta:
	"""How long to leave an opt-out alone after its `attempts`-th failed push."""
	if attempts <= 1:
		return RETRY_FIRST
	return min(RETRY_MAX, RETRY_FIRST * (2 ** min(attempts - 1, 16)))


def run_optout_push(ctx: RunContext) -> None:
	report = ctx.report.stream(STREAM_OPTOUT_PUSH)
	now = ctx.now()
	outage = 0
	for optout in ctx.store.pending_optouts():
		if optout.retry_at is not None and optout.retry_at > now:
			report.warn(
				optout.email,
				f"waiting to retry after {optout.attempts} failed attempt(s), next after "
				f"{optout.retry_at:%Y-%m-%d %H:%M} UTC; last error: {optout.last_error}",
			)
			continue
		report.fetched += 1
		failure = attempt(ctx, optout, now)
		outage = outage + 1 if isinstance(failure, (ServerError, TransportError)) else 0
		if outage >= OUTAGE_AFTER:
			# CC itself is failing, not one record: the rest wait for the next run untouched.
			raise ServerError(
				None,
				None,
				f"CC failed {outage} opt-outs in a row ({failure}); the others wait for the next run",
			)


def attempt(ctx: RunContext, optout: LocalOptOut, now: datetime) -> Exception | None:
	"""Push one opt-out; a failure that concerns only this record defers it and is returned, not raised."""
	try:
		push_one(ctx, optout)
	except (AuthError, QuotaExceeded, Throttled):
		raise
	except Exception as exc:  # one opt-out never holds up the others
		ctx.store.rollback()
		defer(ctx, optout, exc, now)
		return exc
	return None


def defer(ctx: RunContext, optout: LocalOptOut, exc: Exception, now: datetime) -> None:
	"""Log a failed opt-out push and keep it pending until its next turn."""
	report = ctx.report.stream(STREAM_OPTOUT_PUSH)
	attempts = optout.attempts + 1
	retry_at = now + retry_delay(attempts)
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
		if contact is not None and normalise_email(_address(contact)) == optout.email:
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
	elif consent.person_opted_in_after(email_address, optout.at):
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

	A group no CC list is mapped to stays a site matter. A newer opt-in by the person in CC stands (the
	pull rejoins them to the group).
	"""
	report = ctx.report.stream(STREAM_OPTOUT_PUSH)
	now = ctx.now()
	lists = sorted({m.cc_list_id for m in ctx.config.list_mappings if m.enabled and m.group == optout.group})
	contact = _find(ctx, optout, ["list_memberships"]) if lists else None
	on_lists = [i for i in lists if contact is not None and i in (contact.list_memberships or ())]
	email_address = contact.email_address if contact is not None else None
	if on_lists and consent.person_opted_in_after(email_address, optout.at):
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


def _address(contact: Contact) -> str | None:
	email_address = contact.email_address
	return email_address.address if email_address is not None else None
