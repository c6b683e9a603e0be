"""Seeing CC hold what an import sent: the only ground on which a lead is marked Pushed.

An import's answer says how many rows it took, and its `activity_errors` may or may not name addresses
(CC support says the API does not list per-contact errors). Neither proves that CC holds a given contact,
so after an import finishes the contacts are read back:

- the contacts CC created while the import ran (`created_after`/`created_before` around the activity's
  `started_at`..`completed_at`, on CC's own clock), then those it updated in the same window. A window
  per import holds that import's contacts, not every contact created since, so the cost per import is
  its rows / 500 pages, and a push's read-backs grow with its leads, not their square;
- a contact CC already held that the import left unchanged moves no timestamp, so it is in neither
  window: the site knows CC holds it (linked by an earlier read, and not deleted; an import revives a
  deleted contact, which moves `updated_at`). Those count as held;
- whatever is still unseen is looked up by email, at most `LOOKUPS_PER_IMPORT` per import.

What was read is applied through the pull path, so the site links the CC ids and list memberships at once.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from cc_sync.sync.context import RunContext
from cc_sync.sync.matching import normalise_email

# CC stamps whole seconds; its date filters are (probably) exclusive.
WINDOW_MARGIN = timedelta(seconds=1)
LOOKUPS_PER_IMPORT = 25


def window(activity: Any, fallback_start: datetime) -> tuple[datetime, datetime | None]:
	"""The span (CC's clock) in which an import wrote its contacts; open-ended when CC did not say."""
	start = activity.started_at or activity.created_at
	end = activity.completed_at or activity.updated_at
	if start is None:
		return fallback_start, None
	return start - WINDOW_MARGIN, (end + WINDOW_MARGIN) if end is not None else None


def held_by_cc(
	ctx: RunContext,
	report: Any,
	emails: Collection[str],
	start: datetime,
	end: datetime | None,
	*,
	trust_linked: bool = True,
	lookups: int = LOOKUPS_PER_IMPORT,
) -> tuple[dict[str, str], set[str]]:
	"""Which of `emails` CC is seen holding (email → CC id), and which of those were not read (held by
	what the site already knew); every contact read is applied to the site."""
	wanted = set(emails)
	found: dict[str, str] = {}
	applier = ctx.applier(report)
	for field in ("created", "updated"):
		if len(found) == len(wanted):
			break
		query: dict[str, Any] = {f"{field}_after": start}
		if end is not None:
			query[f"{field}_before"] = end
		for page in ctx.client.iter_contact_pages(
			status="all", include=list(ctx.config.include), limit=ctx.config.page_limit, **query
		):
			mine = [c for c in page.contacts if _held(c, wanted) and normalise_email(c.email) not in found]
			for contact in mine:
				found[normalise_email(contact.email)] = contact.contact_id
			if mine:
				applier.apply(mine)
	unread: set[str] = set()
	unseen = wanted - set(found)
	if unseen and trust_linked:
		for contact in ctx.store.find_contacts((), unseen):
			if contact.cc_contact_id and not contact.cc_deleted and contact.email in unseen:
				found[contact.email] = contact.cc_contact_id
				unread.add(contact.email)
		unseen -= unread
	for email in sorted(unseen)[: max(0, lookups)]:
		for contact in ctx.client.iter_contacts(email=email, status="all", include=list(ctx.config.include)):
			if _held(contact, {email}):
				found[email] = contact.contact_id
				applier.apply([contact])
			break
	return found, unread


def _held(contact: Any, wanted: set[str]) -> bool:
	return (
		normalise_email(contact.email) in wanted and contact.contact_id is not None and not contact.is_deleted
	)
