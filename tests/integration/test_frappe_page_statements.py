"""What a page, and a run with nothing to do, costs the site in SQL: a few statements per page whatever
its size, and no statement of a quiet run reading more than an index range."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import frappe

from cc_sync.cc_sync.constants import EMAIL_GROUP_MEMBER, LEAD, LEAD_PUSH_ERROR, LEAD_PUSH_STATUS
from cc_sync.sync.apply import DELETED_IN_CC
from cc_sync.sync.consent import MemberRow
from cc_sync.sync.records import ContactWrite, PushStatus
from cc_sync.sync.streams import STREAM_CHANGES, STREAM_DELETES, STREAM_OPTOUTS
from tests.integration.frappe_site import FrappeSite, make_store
from tests.integration.test_frappe_scenarios import GROUP, addr, make_world, utc

PEOPLE = 30


@contextmanager
def statements() -> Iterator[list[tuple[str, Any]]]:
	"""Every statement the site runs inside the block, with its values."""
	sent: list[tuple[str, Any]] = []
	run = frappe.db.sql

	def recording(query, values=(), *args, **kwargs):
		sent.append((" ".join(str(query).split()), values))
		return run(query, values, *args, **kwargs)

	frappe.db.sql = recording
	try:
		yield sent
	finally:
		frappe.db.sql = run


def _select(query: str) -> str | None:
	"""The SELECT a statement runs (without a `set statement ... for` before it), or None."""
	query = re.sub(r"^set statement .*? for ", "", query, flags=re.IGNORECASE)
	return query if query.lower().startswith("select") else None


def _updates_of(sent: list[tuple[str, Any]], table: str) -> list[str]:
	return [q for q, _ in sent if re.match(rf"update `tab{table}`", q, re.IGNORECASE)]


def test_a_page_of_deletes_marks_every_lead_skipped_in_a_statement_or_two():
	w = make_world(utc(2025, 3, 1, 9))
	site = w.site
	leads = {}
	ids = []
	for i in range(PEOPLE):
		email = addr(f"gone{i}")
		leads[email] = site.add_lead(email, first_name=f"Gone{i}")
		ids.append(w.emu.add_contact(email, first_name=f"Gone{i}", list_ids=[w.list_id]))
	with w.emu.mocked():
		w.run(STREAM_OPTOUTS, STREAM_CHANGES, STREAM_DELETES)
	w.clock.advance(3600)
	for cc_id in ids:
		w.emu.delete_contact(cc_id)
	w.clock.advance(3600)
	with w.emu.mocked(), statements() as sent:
		w.run(STREAM_DELETES)
	for email, key in leads.items():
		lead = frappe.db.get_value(LEAD, key, [LEAD_PUSH_STATUS, LEAD_PUSH_ERROR], as_dict=True)
		assert (lead[LEAD_PUSH_STATUS], lead[LEAD_PUSH_ERROR]) == (PushStatus.SKIPPED, DELETED_IN_CC), email
	pushes = [q for q in _updates_of(sent, LEAD) if LEAD_PUSH_STATUS in q]
	assert 1 <= len(pushes) <= 2, pushes


def test_member_rows_changing_state_in_one_page_take_one_update():
	store = make_store()
	site = FrappeSite()
	site.make_group(GROUP)
	emails = [addr(f"member{i}") for i in range(PEOPLE)]
	for email in emails:
		site.add_member(GROUP, email)
	keys = store.apply_contacts(
		[ContactWrite(key=None, email=e, opted_out=False, cc_contact_id=f"cc-{e}") for e in emails]
	)
	store.commit()
	at = utc(2025, 3, 2, 8)
	states = store.consent_state(emails)
	writes = [
		ContactWrite(
			key=key,
			email=email,
			opted_out=False,
			rows={GROUP: MemberRow(True, at)},
			premise_rows={GROUP: states[email].rows[GROUP]},
		)
		for key, email in zip(keys, emails, strict=True)
	]
	with statements() as sent:
		applied = store.apply_contacts(writes, [GROUP])
	store.commit()
	assert None not in applied
	assert all(site.member_rows(email) == {GROUP: True} for email in emails)
	assert len(_updates_of(sent, EMAIL_GROUP_MEMBER)) == 1, _updates_of(sent, EMAIL_GROUP_MEMBER)


def test_no_statement_of_a_quiet_run_reads_more_than_an_index_range():
	w = make_world(utc(2025, 3, 1, 9))
	for i in range(40):
		cc_id = w.emu.add_contact(addr(f"quiet{i}"), first_name=f"Quiet{i}", list_ids=[w.list_id])
		if i % 4 == 0:
			w.emu.delete_contact(cc_id)
	with w.emu.mocked():
		w.run()
	w.clock.advance(3600)
	with w.emu.mocked(), statements() as sent:
		w.run()
	scans = []
	for sent_query, values in sent:
		query = _select(sent_query)
		if query is None or "information_schema" in query:
			continue
		plan = frappe.db.sql(f"explain {query}", values, as_dict=True)
		for row in plan:
			table = row.get("table") or ""
			# A whole table or a whole index read that no index could narrow, of a table that grows with
			# the contacts. (On tables this small the optimizer may scan where an index would serve; at
			# scale it takes the index, so only a scan without a usable index is a scan at any size.)
			scan = row.get("type") in ("ALL", "index") and not row.get("possible_keys")
			if scan and _grows_with_contacts(table):
				scans.append((table, row.get("type"), query))
	assert not scans, "\n".join(map(str, scans))


def _grows_with_contacts(table: str) -> bool:
	return table in {
		"tabContact",
		"tabContact Email",
		"tabDynamic Link",
		f"tab{EMAIL_GROUP_MEMBER}",
		f"tab{LEAD}",
		"tabEmail Unsubscribe",
		"tabConstant Contact Opt Out",
	}


def _page_reads(people: int) -> list[str]:
	"""The statements reading a page of `people` synced contacts, each on a mapped group, one opted out
	on a Lead (which made a Contact of its own, as ERPNext's does)."""
	site = FrappeSite()
	site.make_group(GROUP)
	emails = [addr(f"page{people}-{i}") for i in range(people)]
	store = make_store()
	keys = store.apply_contacts(
		[ContactWrite(key=None, email=e, opted_out=False, cc_contact_id=f"cc-{e}") for e in emails]
	)
	for email in emails:
		site.add_member(GROUP, email)
	site.add_lead(emails[0], first_name="Left", unsubscribed=1)
	store.commit()
	with statements() as sent:
		found, states = store.read_page([f"cc-{e}" for e in emails], emails)
	assert set(keys) <= {c.key for c in found}
	assert states[emails[0]].opted_out and not states[emails[1]].opted_out
	assert all(states[e].rows.keys() == {GROUP} for e in emails)
	tables = [
		q
		for q, _ in sent
		if re.search(r"`tab(Contact|Lead|Email Unsubscribe|Email Group Member|Constant)", q)
	]
	return tables


def test_a_pages_site_read_is_three_statements_whatever_its_size():
	"""Its Contacts by address (with their consent columns), by CC id, and every other consent channel
	in one: 10 people or 40, a page reads the same few statements."""
	small = _page_reads(10)
	large = _page_reads(40)
	assert len(small) == len(large) == 3, large


def test_a_pages_member_rows_are_read_through_the_address_index_however_small_the_table():
	"""MariaDB judged the member table by statistics taken when a first sync began and read it whole for
	every page (10.6 million rows for 98,000 contacts): the page's reads and writes of member rows go
	through the address index whatever the statistics say."""
	site = FrappeSite()
	site.make_group(GROUP)
	emails = [addr(f"indexed{i}") for i in range(40)]
	store = make_store()
	frappe.db.sql(f"analyze table `tab{EMAIL_GROUP_MEMBER}`")
	with statements() as sent:
		store.read_page([], emails)
		keys = store.apply_contacts(
			[
				ContactWrite(
					key=None,
					email=e,
					opted_out=False,
					cc_contact_id=f"cc-{e}",
					rows={GROUP: MemberRow(False)},
				)
				for e in emails
			],
			[GROUP],
		)
	store.commit()
	assert None not in keys
	assert all(site.member_rows(e) == {GROUP: False} for e in emails)
	plans = []
	for sent_query, values in sent:
		query = _select(sent_query)
		if query and f"`tab{EMAIL_GROUP_MEMBER}`" in query:
			for row in frappe.db.sql(f"explain {query}", values, as_dict=True):
				if row.get("table") == f"tab{EMAIL_GROUP_MEMBER}":
					plans.append((row.get("type"), row.get("key"), query[:80]))
	assert len(plans) >= 2, plans
	assert all(
		kind in ("range", "ref", "eq_ref") and key == "cc_sync_email_email_group" for kind, key, _ in plans
	), plans


def test_a_pages_answers_longer_than_the_server_joins_are_read_row_by_row(monkeypatch):
	"""A page's Contacts and its other consent channels come joined in one answer each; one the server cuts
	short (past group_concat_max_len) is read again row by row, with the same contacts and consent."""
	from cc_sync.cc_sync.store import sql

	site = FrappeSite()
	site.make_group(GROUP)
	emails = [addr(f"joined{i}") for i in range(12)]
	store = make_store()
	store.apply_contacts(
		[ContactWrite(key=None, email=e, opted_out=False, cc_contact_id=f"cc-{e}") for e in emails]
	)
	for email in emails:
		site.add_member(GROUP, email)
	site.add_lead(emails[0], first_name="Left", unsubscribed=1)
	store.commit()
	whole = store.read_page([], emails)
	monkeypatch.setattr(sql, "JOINED_MAX", 300)
	with statements() as sent:
		cut = store.read_page([], emails)
	assert cut == whole
	found, states = cut
	assert {c.email for c in found} == set(emails)
	assert states[emails[0]].opted_out and not states[emails[1]].opted_out
	assert all(states[e].rows.keys() == {GROUP} for e in emails)
	assert sum(q.startswith("set statement group_concat_max_len = 300") for q, _ in sent) == 2
	again = [q for q, _ in sent if q.startswith("select")]
	assert any("`tabContact Email` ce join" in q for q in again), "Contacts not read again row by row"
	assert any(" union all " in q for q in again), "consent not read again row by row"


def test_a_page_whose_site_fields_are_not_all_text_reads_its_contacts_row_by_row():
	"""JSON would hand a date or a number back in another type: with such a site field mapped, the page's
	Contacts come a row each, and their values as the database holds them."""
	site = FrappeSite()
	site.make_group(GROUP)
	emails = [addr(f"typed{i}") for i in range(3)]
	make_store().apply_contacts(
		[ContactWrite(key=None, email=e, opted_out=False, cc_contact_id=f"cc-{e}") for e in emails]
	)
	frappe.db.commit()
	store = make_store(site_fields=["first_name", "is_primary_contact"])
	with statements() as sent:
		found, _ = store.read_page([], emails)
	assert {c.email for c in found} == set(emails)
	assert all(
		c.fields["is_primary_contact"] == 0 and type(c.fields["is_primary_contact"]) is int for c in found
	)
	assert not any(q.startswith("set statement") and "`tabContact Email`" in q for q, _ in sent)
