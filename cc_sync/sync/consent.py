"""Consent is a ratchet: an unsubscribe is never overwritten.

How a CC contact's `email_address.permission_to_send` meets what the site holds:

| CC permission_to_send                          | site                 | decision                                        |
|------------------------------------------------|----------------------|-------------------------------------------------|
| unsubscribed                                   | any                  | site unsubscribed, dated by CC's opt_out_date   |
| explicit, opted in after the site's opt-out    | unsubscribed         | site re-subscribed: the person opted in again   |
| explicit (older or undated opt-in), implicit,  | unsubscribed         | site stays unsubscribed; CC is told (opt-out    |
| pending_confirmation, not_set, temp_hold       |                      | push)                                           |
| any of those                                   | subscribed / new     | nothing to change                               |
| a value CC has not documented                  | any                  | nothing to change; reported as a skip           |
| (the contact is deleted in CC)                 | any                  | marked deleted on the site; consent unchanged   |

Nothing the site holds ever re-subscribes anyone: the only way back is CC reporting an explicit opt-in
dated after the opt-out. An opt-out of unknown date is never lifted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cc_sync.sync.records import SiteContact

UNSUBSCRIBED = "unsubscribed"
EXPLICIT = "explicit"
SUBSCRIBED_PERMISSIONS = frozenset({"explicit", "implicit", "pending_confirmation", "not_set", "temp_hold"})
KNOWN_PERMISSIONS = SUBSCRIBED_PERMISSIONS | {UNSUBSCRIBED}


@dataclass(slots=True, frozen=True)
class ConsentDecision:
	# What to write on the site: True unsubscribes, False re-subscribes, None leaves it.
	site_unsubscribed: bool | None = None
	opted_out_at: datetime | None = None
	# The site knows an opt-out that CC does not hold: push it.
	push_optout: bool = False
	# CC sent a permission value this code does not know.
	unknown_permission: str | None = None


def decide(
	site: SiteContact | None,
	permission: str | None,
	opt_out_date: datetime | None,
	opt_in_date: datetime | None,
	email_updated_at: datetime | None,
) -> ConsentDecision:
	"""Merge CC's view of one address with the site's, per the table above."""
	if permission is None:
		# An SMS-only contact or a record without email: no email consent to speak of.
		return ConsentDecision()
	if permission not in KNOWN_PERMISSIONS:
		return ConsentDecision(unknown_permission=permission)
	site_out = bool(site and site.unsubscribed)
	if permission == UNSUBSCRIBED:
		when = opt_out_date or email_updated_at
		if site_out and site is not None and site.opted_out_at is not None:
			return ConsentDecision()
		return ConsentDecision(site_unsubscribed=True, opted_out_at=when)
	if not site_out:
		return ConsentDecision()
	assert site is not None
	if permission == EXPLICIT and _opted_in_after(opt_in_date, site.opted_out_at):
		return ConsentDecision(site_unsubscribed=False)
	return ConsentDecision(push_optout=True)


def _opted_in_after(opt_in_date: datetime | None, opted_out_at: datetime | None) -> bool:
	if opt_in_date is None or opted_out_at is None:
		return False
	return opt_in_date > opted_out_at
