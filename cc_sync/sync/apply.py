"""Applying a page of CC contacts to the site: one batched lookup, decisions per contact, one batched write.

Every pull stream (changes, opt-outs, deletes, reconcile, "Sync now") goes through here, so consent,
matching and field ownership are decided in one place. A contact whose CC state the site already holds
costs no write, which is what makes re-runs cheap and idempotent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from cc_sync.constant_contact.models import Contact, EmailAddress
from cc_sync.sync import consent, watermarks
from cc_sync.sync.config import SyncConfig
from cc_sync.sync.contact_change import Change, consent_write, find_change
from cc_sync.sync.fieldmap import cc_values
from cc_sync.sync.matching import ContactIndex, contact_address, normalise_email, page_keys
from cc_sync.sync.records import ContactWrite, SiteContact
from cc_sync.sync.report import StreamReport
from cc_sync.sync.store import SyncStore

DELETED_IN_CC = "deleted in CC: never pushed again (an import would revive the contact)"
# How many times one page's refused writes are decided again before they wait for the next run.
REDECIDE_ROUNDS = 3


class PageApplier:
	def __init__(
		self,
		store: SyncStore,
		config: SyncConfig,
		report: StreamReport,
		*,
		cf_names: Mapping[str, str] | None = None,
		dry_run: bool = False,
		now: Callable[[], datetime],
		site_offset: Callable[[], timedelta] | None = None,
	) -> None:
		self.store = store
		self.config = config
		self.report = report
		self.cf_names = cf_names or {}
		self.dry_run = dry_run
		self.now = now
		# CC's clock minus the site's: site-dated opt-outs and leaves meet CC's opt-in dates on CC's clock.
		self.site_offset = site_offset or timedelta
		self.group_by_list = config.group_by_list
		self.managed_groups = config.managed_groups
		# Contacts share few distinct list combinations: map each combination once.
		self._groups_cache: dict[tuple[str, ...], frozenset[str]] = {}
		self._moved_from: set[str] = set()
		# CC's clock minus the site's, measured once a page (see `_decide_page`).
		self._offset = timedelta(0)
		# The page read as the one after the last, with its keys: not worked out a second time.
		self._keys_ahead: tuple[Sequence[Contact], tuple[list[str], list[str]]] | None = None

	def apply(
		self, contacts: Sequence[Contact], upcoming: Sequence[Contact] | None = None
	) -> list[ContactWrite]:
		"""Apply one page; returns the writes (planned only, on a dry run). `upcoming` is the page that
		follows, which the store may start reading while this one is decided.

		A write the store refuses because the site changed under it (an opt-out or a group leave committed
		while the page was being applied) is decided again from what the site holds now.
		"""
		self.report.fetched += len(contacts)
		pending = list(contacts)
		ahead = self._keys_ahead
		keys = ahead[1] if ahead is not None and ahead[0] is contacts else None
		applied: list[ContactWrite] = []
		for attempt in range(REDECIDE_ROUNDS):
			first = attempt == 0
			writes, sources = self._decide_page(
				pending, count=first, upcoming=upcoming if first else None, keys=keys if first else None
			)
			if not writes:
				break
			if self.dry_run:
				self.report.plan.extend(w.plan_line() for w in writes)
				return writes
			keys = self.store.apply_contacts(writes, self.managed_groups)
			# Values the store had to convert, cut or leave out to fit the site's columns.
			for email, reason in self.store.drain_notes():
				self.report.warn(email, reason)
			# Writes the site could not take: failed alone, the rest of the page applied.
			failures = self.store.drain_failures()
			for i, reason in failures.items():
				self.report.fail(writes[i].email, f"could not be written: {reason}")
			refused = [i for i, key in enumerate(keys) if key is None and i not in failures]
			applied.extend(w for i, w in enumerate(writes) if keys[i] is not None)
			if any(w.push_again for i, w in enumerate(writes) if keys[i] is not None):
				# Records skipped while the person was opted out are candidates again: the push
				# looks at every record once more (records already sent are not sent twice).
				watermarks.rewind_push(self.store)
			if not refused:
				break
			pending = [sources[i] for i in refused]
		else:
			for contact in pending:
				self.report.fail(
					normalise_email(contact_address(contact)),
					"the site kept changing while it was applied: next run",
				)
		return applied

	def _decide_page(
		self,
		contacts: Sequence[Contact],
		*,
		count: bool,
		upcoming: Sequence[Contact] | None = None,
		keys: tuple[list[str], list[str]] | None = None,
	) -> tuple[list[ContactWrite], list[Contact]]:
		cc_ids, emails = keys or page_keys(contacts)
		if upcoming:
			next_keys = page_keys(upcoming)
			self._keys_ahead = (upcoming, next_keys)
			found, states = self.store.read_page(cc_ids, emails, next_keys)
		else:
			found, states = self.store.read_page(cc_ids, emails)
		index = ContactIndex(found)
		# Addresses CC moved a contact away from, unless someone on this page now holds them (their
		# consent came with the page's: read_page reads it for every contact found).
		self._moved_from = {
			site.email
			for c in contacts
			if (site := index.by_cc_id.get(c.contact_id or "")) is not None
			and site.email
			and site.email != normalise_email(contact_address(c))
		} - set(emails)
		writes: list[ContactWrite] = []
		sources: list[Contact] = []
		now = self.now()
		# The clocks' difference moves by no more than their drift within a page: measured once for it.
		self._offset = self.site_offset()
		# A second decision of the same contacts is not counted again.
		report = self.report if count else StreamReport(self.report.stream)
		for contact in contacts:
			try:
				write = self._decide(contact, index, states, now, report)
			except Exception as exc:  # one bad record never loses the rest of the page
				self.report.fail(normalise_email(contact_address(contact)), f"could not apply: {exc}")
				continue
			if write is not None:
				writes.append(write)
				sources.append(contact)
		return writes, sources

	def _decide(
		self,
		contact: Contact,
		index: ContactIndex,
		states: Mapping[str, consent.AddressConsent],
		now: datetime,
		report: StreamReport,
	) -> ContactWrite | None:
		"""The one write a CC contact asks of the site, if any: match it, decide consent, then either
		create the site contact or change only what differs."""
		email = normalise_email(contact_address(contact))
		if not email:
			report.skip(None, f"CC contact {contact.contact_id} has no email address (SMS-only)")
			return None
		site = self._match(contact, email, index, report)
		state = states.get(email) or consent.AddressConsent(email=email)
		decision, rows, permission = self._consent(contact, state, now, report, email)
		deleted = contact.is_deleted
		incoming = cc_values(contact, self.config.field_map, self.cf_names)
		if site is None:
			write = consent_write(None, email, decision, rows, state, now)
			return self._create(contact, write, decision, deleted, incoming, index, report)
		former = site.email if site.email and site.email != email else None
		# Compared as the site would store CC's values: a value cut to fit is not a change on every run.
		fitted = self.store.fit_fields(incoming)
		change = find_change(
			site, contact, decision, permission, deleted, incoming, fitted, self.config.field_map
		)
		if change is None and not rows and former is None:
			report.unchanged += 1
			return None
		write = consent_write(site.key, email, decision, rows, state, now)
		if former is not None:
			write.former_email = former
			if former in self._moved_from:
				write.former_rows = consent.former_address_rows(states[former], self.managed_groups)
		return self._update(
			site, contact, write, change or Change(), decision, permission, deleted, now, report
		)

	def _match(
		self, contact: Contact, email: str, index: ContactIndex, report: StreamReport
	) -> SiteContact | None:
		"""The site contact this CC contact is, by CC id then address; several sharing it are reported."""
		match = index.match(contact.contact_id, email)
		site = match.contact
		if match.duplicates:
			report.warn(
				email,
				f"{len(match.duplicates) + 1} site contacts share this email; applied to "
				f"{site.key if site else 'none'}, also {', '.join(match.duplicates)}",
				site.key if site else None,
			)
		return site

	def _consent(
		self,
		contact: Contact,
		state: consent.AddressConsent,
		now: datetime,
		report: StreamReport,
		email: str,
	) -> tuple[consent.ConsentDecision, dict[str, consent.MemberRow | None], str | None]:
		"""What the consent module decides for the address and for each mapped group, and CC's permission."""
		email_address = contact.email_address or EmailAddress()
		permission = email_address.permission_to_send
		decision = consent.decide(
			state,
			permission,
			email_address.opt_out_date,
			email_address.opt_in_date,
			email_address.updated_at,
			email_address.opt_in_source,
			site_offset=self._offset,
		)
		if decision.unknown_permission:
			report.warn(email, f"unknown permission_to_send {permission!r}: consent left as it was")
		rows = consent.decide_rows(
			state,
			decision,
			self._groups(contact),
			self.managed_groups,
			permission=permission,
			opt_in_source=email_address.opt_in_source,
			opt_in_date=email_address.opt_in_date,
			deleted=contact.is_deleted,
			left=self._left_groups(contact, state),
			now=now,
			site_offset=self._offset,
		)
		return decision, rows, permission

	def _left_groups(self, contact: Contact, state: consent.AddressConsent) -> dict[str, Any]:
		"""Pull-mapped groups fed by a CC list this contact is on but left through a group leave (the
		leave's date, the latest when several lists feed one group)."""
		if not state.left_lists or not contact.list_memberships:
			return {}
		left: dict[str, Any] = {}
		for list_id in contact.list_memberships:
			group = self.group_by_list.get(list_id)
			if group is None or list_id not in state.left_lists:
				continue
			at = state.left_lists[list_id]
			held = left.get(group, at)
			left[group] = None if held is None or at is None else max(held, at)
		return left

	def _update(
		self,
		site: SiteContact,
		contact: Contact,
		write: ContactWrite,
		change: Change,
		decision: consent.ConsentDecision,
		permission: str | None,
		deleted: bool,
		now: datetime,
		report: StreamReport,
	) -> ContactWrite:
		"""Only what differs from the site contact (`change`, and the write's member rows) goes into the
		write."""
		if change.link:
			write.cc_contact_id = contact.contact_id
		if change.fields:
			write.fields = change.fields
		if change.opt_out:
			write.opted_out_at = write.opted_out_at or now
			if decision.changed:
				report.unsubscribed += 1
		elif change.lifted:
			report.resubscribed += 1
			write.push_again = True
		if change.push_optout:
			write.request_cc_optout = True
			if site.cc_deleted and not deleted:
				self._readded(write.email, "revived in CC")
			elif site.cc_permission == consent.UNSUBSCRIBED and permission != consent.UNSUBSCRIBED:
				self._readded(write.email, "re-subscribed in CC by the account or an import")
		if change.permission:
			write.cc_permission = permission
		if change.deleted:
			write.cc_deleted = deleted
			if deleted:
				report.deleted += 1
				write.push_stop = DELETED_IN_CC
		write.cc_updated_at = contact.updated_at
		write.cc_email_updated_at = contact.email_address.updated_at if contact.email_address else None
		report.updated += 1
		return write

	def _create(
		self,
		contact: Contact,
		write: ContactWrite,
		decision: consent.ConsentDecision,
		deleted: bool,
		incoming: dict[str, Any],
		index: ContactIndex,
		report: StreamReport,
	) -> ContactWrite | None:
		# A CC opt-out or delete always reaches the site, even for someone it does not hold yet: the
		# push must know never to send that address (an import would re-add a deleted contact).
		if not decision.opted_out and not deleted and not self.config.create_unknown_contacts:
			report.skip(write.email, "not on the site, and creating contacts from CC is off")
			return None
		email_address = contact.email_address or EmailAddress()
		write.cc_contact_id = contact.contact_id
		write.fields = incoming
		if decision.opted_out:
			write.opted_out_at = write.opted_out_at or write.synced_at
		write.cc_permission = email_address.permission_to_send
		write.cc_updated_at = contact.updated_at
		write.cc_email_updated_at = email_address.updated_at
		write.cc_deleted = deleted
		if deleted:
			write.push_stop = DELETED_IN_CC
		write.request_cc_optout = decision.push_optout
		if decision.push_optout and not deleted:
			self._readded(write.email, "added in CC by an import or a form")
		report.created += 1
		if decision.opted_out and decision.changed:
			report.unsubscribed += 1
		if deleted:
			report.deleted += 1
		# A second copy of this contact later in the same page must update, not create again.
		index.add(
			SiteContact(
				key=f"(new:{write.email})",
				email=write.email,
				cc_contact_id=contact.contact_id,
				unsubscribed=decision.opted_out,
				opted_out_at=write.opted_out_at,
				cc_permission=write.cc_permission,
				cc_deleted=deleted,
				fields=dict(incoming),
			)
		)
		return write

	def _readded(self, email: str, how: str) -> None:
		"""CC holds, subscribed, someone whose opt-out the site holds (an owner's re-import or revival): the
		run pushes the opt-out before it ends (`optout_push`), and the log says so."""
		if self.dry_run or email in self.report.readded:
			return
		self.report.readded[email] = how
		self.report.warn(
			email,
			f"CC holds this address subscribed again ({how}) while the site holds their opt-out: the opt-out "
			"is pushed to CC in this run",
		)

	def _groups(self, contact: Contact) -> frozenset[str] | None:
		"""Mapped Email Groups CC says this contact is in; None when memberships were not fetched."""
		if not self.group_by_list:
			return None
		if contact.is_deleted:
			# CC takes a deleted contact off every list, whether or not memberships were fetched.
			return frozenset()
		memberships = contact.list_memberships
		if memberships is None:
			return None
		key = tuple(memberships)
		groups = self._groups_cache.get(key)
		if groups is None:
			groups = frozenset(self.group_by_list[i] for i in memberships if i in self.group_by_list)
			self._groups_cache[key] = groups
		return groups
