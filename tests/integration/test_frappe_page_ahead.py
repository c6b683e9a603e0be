"""Reading the next page while one is decided: a page read ahead answers as a read of its own would, a
page that writes (or writes left uncommitted) makes the next page read again, a failing side connection
stops the reading ahead and not the sync, and a whole-account read applies every page the same."""

from __future__ import annotations

from dataclasses import replace

import pytest

import frappe

from cc_sync.cc_sync.store import page_ahead
from cc_sync.sync.consent import MemberRow
from cc_sync.sync.records import ContactWrite
from cc_sync.sync.streams import STREAM_CHANGES, STREAM_RECONCILE
from tests.integration.frappe_site import FrappeSite, make_store
from tests.integration.test_frappe_page_statements import statements
from tests.integration.test_frappe_scenarios import GROUP, addr, make_world


def _people(prefix: str, count: int) -> list[str]:
	"""Synced people on the group, their consent told by every channel: an unsubscribed member row, an
	opted-out Lead, a global Email Unsubscribe, a Contact unsubscribed in the desk."""
	site = FrappeSite()
	site.make_group(GROUP)
	emails = [addr(f"{prefix}{i}") for i in range(count)]
	store = make_store()
	store.apply_contacts(
		[
			ContactWrite(
				key=None,
				email=e,
				opted_out=False,
				cc_contact_id=f"cc-{e}",
				rows={GROUP: MemberRow(i % 5 == 1)},
			)
			for i, e in enumerate(emails)
		],
		[GROUP],
	)
	store.commit()
	for i in range(0, count, 10):
		site.add_lead(emails[i + 2], first_name="Left", unsubscribed=1)
		site.email_unsubscribe(emails[i + 3])
		site.unsubscribe_in_desk(site.contacts(emails[i + 4])[0].name)
	frappe.db.commit()
	return emails


def _by_address_reads(sent) -> list[str]:
	return [q for q, _ in sent if "`tabContact Email` ce join" in q or " union all " in q]


def test_a_page_read_ahead_answers_as_a_read_of_its_own():
	emails = _people("ahead-same", 20)
	first, second = emails[:10], emails[10:]
	store = make_store()
	store.read_page([], first, ([], second))
	with statements() as sent:
		found, states = store.read_page([], second)
	assert _by_address_reads(sent) == [], "the page was read again on the sync's connection"
	alone, alone_states = make_store().read_page([], second)
	assert found == alone
	assert states == alone_states
	assert states[emails[12]].opted_out and states[emails[13]].opted_out and states[emails[14]].opted_out
	assert states[emails[11]].rows[GROUP].unsubscribed and not states[emails[10]].rows[GROUP].unsubscribed


def test_a_page_that_writes_makes_the_next_page_read_again():
	emails = _people("ahead-written", 10)
	first, second = emails[:5], [*emails[5:], addr("ahead-written-new")]
	store = make_store()
	store.read_page([], first, ([], second))
	# This page writes: a new Contact for an address of the next page.
	store.apply_contacts([ContactWrite(key=None, email=addr("ahead-written-new"), opted_out=False)])
	store.commit()
	with statements() as sent:
		found, _ = store.read_page([], second)
	assert len(_by_address_reads(sent)) == 2
	assert addr("ahead-written-new") in {c.email for c in found}


def test_writes_left_uncommitted_keep_the_next_page_from_being_read_ahead():
	emails = _people("ahead-open", 10)
	first, second = emails[:5], [*emails[5:], addr("ahead-open-new")]
	store = make_store()
	store.apply_contacts([ContactWrite(key=None, email=addr("ahead-open-new"), opted_out=False)])
	# Not committed: a side connection would not see the new Contact.
	store.read_page([], first, ([], second))
	found, _ = store.read_page([], second)
	assert addr("ahead-open-new") in {c.email for c in found}
	store.commit()


def test_a_side_connection_that_fails_stops_the_reading_ahead_not_the_page(monkeypatch):
	emails = _people("ahead-broken", 10)

	def lost(connection):
		raise ConnectionResetError("gone")

	monkeypatch.setattr(page_ahead, "_answer", lost)
	store = make_store()
	store.read_page([], emails[:3], ([], emails[3:]))
	found, _ = store.read_page([], emails[3:])
	assert {c.email for c in found} == set(emails[3:])
	assert store.contact_reads.page_ahead.enabled is False


@pytest.mark.parametrize("stream", [STREAM_CHANGES, STREAM_RECONCILE])
def test_a_whole_account_read_of_many_pages_applies_each_the_same_and_reads_ahead_once_unchanged(
	monkeypatch, stream
):
	taken: list[bool] = []
	take = page_ahead.PageReadAhead.take

	def counted(self, sql, values):
		rows = take(self, sql, values)
		taken.append(rows is not None)
		return rows

	monkeypatch.setattr(page_ahead.PageReadAhead, "take", counted)
	w = make_world()
	w.config = replace(w.config, page_limit=4)
	w.engine.config = w.config
	emails = [addr(f"ahead-run{i}") for i in range(24)]
	ids = [
		w.emu.add_contact(email, first_name=f"Run{i}", list_ids=[w.list_id]) for i, email in enumerate(emails)
	]
	with w.emu.mocked():
		w.run(STREAM_CHANGES)
	# The first sync wrote every page: what it read ahead was thrown away.
	assert not any(taken)
	for email in emails:
		assert w.site.member_rows(email) == {GROUP: False}, email
	w.clock.advance(3600)
	w.emu.unsubscribe(ids[5])
	taken.clear()
	with w.emu.mocked():
		report = w.run(STREAM_RECONCILE)
	# Six pages: the second corrects an opt-out, which throws away the third's reads; once a page has
	# written nothing again, the pages after it (the fifth and sixth) are read while the one before is
	# decided.
	assert taken[-4:] == [True] * 4, taken
	assert report.streams[STREAM_RECONCILE].corrected == 1
	assert w.site.contacts(emails[5])[0].unsubscribed == 1
	assert all(w.site.contacts(e)[0].unsubscribed == 0 for e in emails if e != emails[5])
