"""Site-side opt-outs reach CC: a read-modify-write PUT that sets `permission_to_send=unsubscribed`.

`update_source` is `Contact` only when the person opted out themselves (an unsubscribe link), as CC
asks; a site user's opt-out is sent as `Account`. An address CC does not hold needs nothing: the push
never sends it. A contact deleted in CC is left deleted: a PUT would revive it, and nothing the site
does re-adds it. A record CC refuses is reported and stays pending; the others go on.
"""

from __future__ import annotations

from cc_sync.constant_contact.errors import (
	AuthError,
	ConstantContactError,
	NotFound,
	QuotaExceeded,
	Throttled,
)
from cc_sync.sync import consent
from cc_sync.sync.context import RunContext
from cc_sync.sync.records import STREAM_OPTOUT_PUSH, LocalOptOut


def run_optout_push(ctx: RunContext) -> None:
	report = ctx.report.stream(STREAM_OPTOUT_PUSH)
	for optout in ctx.store.pending_optouts():
		report.fetched += 1
		try:
			push_one(ctx, optout)
		except (AuthError, QuotaExceeded, Throttled):
			raise
		except ConstantContactError as exc:
			if exc.status is None or not 400 <= exc.status < 500:
				raise
			ctx.store.rollback()
			report.fail(optout.email, f"CC refused the opt-out: {exc}; it stays pending")


def _find(ctx: RunContext, optout: LocalOptOut):
	if optout.cc_contact_id:
		try:
			return ctx.client.get_contact(optout.cc_contact_id)
		except NotFound:
			pass
	for contact in ctx.client.iter_contacts(email=optout.email, status="all", limit=1):
		return contact
	return None


def push_one(ctx: RunContext, optout: LocalOptOut) -> None:
	report = ctx.report.stream(STREAM_OPTOUT_PUSH)
	contact = _find(ctx, optout)
	now = ctx.now()
	if contact is None:
		report.skip(optout.email, "not in CC: nothing to unsubscribe there")
		if not ctx.dry_run:
			ctx.store.resolve_optout(optout.email, None, now)
			ctx.store.commit()
		return
	email_address = contact.email_address
	permission = email_address.permission_to_send if email_address else None
	if contact.deleted_at is not None and permission != consent.UNSUBSCRIBED:
		report.skip(optout.email, "deleted in CC: left deleted (unsubscribing would revive it); never pushed")
		if not ctx.dry_run:
			ctx.applier(report).apply([contact])
			ctx.store.resolve_optout(optout.email, None, now)
			ctx.store.commit()
		return
	if permission == consent.UNSUBSCRIBED:
		report.unchanged += 1
		if not ctx.dry_run:
			ctx.store.resolve_optout(optout.email, contact.contact_id, now)
			ctx.store.commit()
		return
	opt_in = email_address.opt_in_date if email_address else None
	if permission == consent.EXPLICIT and opt_in is not None and opt_in > optout.at:
		# The person opted in again in CC after opting out here: CC's newer explicit consent stands,
		# and the pull applies it to the site.
		report.skip(optout.email, "CC holds a newer explicit opt-in by the person")
		if not ctx.dry_run:
			ctx.applier(ctx.report.stream(STREAM_OPTOUT_PUSH)).apply([contact])
			ctx.store.resolve_optout(optout.email, contact.contact_id, now)
			ctx.store.commit()
		return
	if ctx.dry_run:
		report.plan.append({"action": "unsubscribe in CC", "email": optout.email})
		return
	ctx.client.unsubscribe_contact(
		contact.contact_id,
		reason=optout.reason,
		update_source="Contact" if optout.by_person else "Account",
	)
	report.unsubscribed += 1
	ctx.store.resolve_optout(optout.email, contact.contact_id, now)
	ctx.store.commit()
