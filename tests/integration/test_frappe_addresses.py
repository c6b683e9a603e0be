"""Addresses are people, byte for byte (after lower-casing): MariaDB's collation calls `rené@x` and
`rene@x` (and `straße@x` and `strasse@x`, full-width and plain letters) equal; on the site they stay two
people in every read and write of the sync, the opt-outs and the forms."""

from __future__ import annotations

import pytest

import frappe

from cc_sync.cc_sync import indexes
from cc_sync.cc_sync.constants import (
	CONTACT,
	CONTACT_CC_ID,
	EMAIL_GROUP_MEMBER,
	LEAD,
	LEAD_PUSH_STATUS,
	OPT_OUT,
)
from cc_sync.cc_sync.record_status import record_status
from cc_sync.cc_sync.store import contact_reads
from cc_sync.sync.streams import STREAM_CHANGES, STREAM_OPTOUT_PUSH, STREAM_OPTOUTS
from tests.integration.test_frappe_scenarios import GROUP, addr, make_world, one_contact

# Pairs the column's collation (utf8mb4_unicode_ci) calls equal: an accent, ß, full-width letters.
PAIRS = [("rené", "rene"), ("straße", "strasse"), ("ｒｏｓａ", "rosa")]


def _pair(i: int) -> tuple[str, str]:
	first, second = PAIRS[i]
	return addr(f"{first}{i}"), addr(f"{second}{i}")


def _lead(email: str) -> str:
	"""A Lead of the address (Frappe's form check takes only ASCII addresses; CC and imports do not)."""
	doc = frappe.get_doc({"doctype": LEAD, "lead_name": f"tier2 {email}", "email_id": addr("placeholder")})
	doc.insert(ignore_permissions=True)
	frappe.db.set_value(LEAD, doc.name, "email_id", email, update_modified=False)
	frappe.db.commit()
	return doc.name


def _member(group: str, email: str) -> None:
	"""A member row as an import writes it (Frappe's form check takes only ASCII addresses)."""
	frappe.db.sql(
		f"""insert into `tab{EMAIL_GROUP_MEMBER}` (name, creation, modified, owner, modified_by, email_group,
		email) values (%s, now(), now(), 'Administrator', 'Administrator', %s, %s)""",
		(frappe.generate_hash(length=12), group, email),
	)


def test_the_database_calls_these_pairs_equal():
	"""What the tests below stand on: the address columns compare these pairs as one."""
	for i in range(len(PAIRS)):
		one, other = _pair(i)
		assert frappe.db.sql("select %s = %s collate utf8mb4_unicode_ci", (one, other))[0][0] == 1


@pytest.mark.parametrize("i", range(len(PAIRS)))
def test_one_persons_cc_optout_unsubscribes_nobody_else(i):
	"""Two people in CC and on the site (Contact, Lead); one unsubscribes in CC. After a run the other is
	subscribed everywhere: Contact, Lead (still pushable), and in CC (no opt-out pushed for him)."""
	w = make_world()
	leaving, staying = _pair(i)
	ids = {e: w.emu.add_contact(e, first_name="Same") for e in (leaving, staying)}
	leads = {e: _lead(e) for e in (leaving, staying)}
	with w.emu.mocked():
		w.run()
		w.clock.advance(600)
		w.emu.unsubscribe(ids[leaving])
		w.clock.advance(600)
		w.run()
		w.clock.advance(600)
		w.run(STREAM_OPTOUT_PUSH)
	assert one_contact(w, leaving).unsubscribed == 1
	assert w.site.lead(leads[leaving]).unsubscribed == 1
	assert one_contact(w, staying).unsubscribed == 0
	lead = w.site.lead(leads[staying])
	assert lead.unsubscribed == 0
	assert lead.get(LEAD_PUSH_STATUS) != "Skipped"
	assert w.emu.get(ids[staying])["email_address"]["permission_to_send"] != "unsubscribed"


@pytest.mark.parametrize("i", range(len(PAIRS)))
def test_two_such_addresses_on_one_mapped_list_both_reach_the_site(i):
	"""The member index took the second for a duplicate of the first (1062) and failed every run."""
	w = make_world()
	one, other = _pair(i)
	for email in (one, other):
		w.emu.add_contact(email, first_name="Listed", list_ids=[w.list_id])
	with w.emu.mocked():
		report = w.run()
	assert report.streams[STREAM_CHANGES].created == 2
	for email in (one, other):
		assert one_contact(w, email).cc_contact_id
		assert w.site.member_rows(email) == {GROUP: False}


def test_a_site_optout_of_one_leaves_the_other_alone():
	"""An unsubscribe on the site (the Contact form, an unsubscribe link) of one of them: the other's
	Contact, Lead and member row stay subscribed."""
	w = make_world()
	one, other = _pair(0)
	for email in (one, other):
		w.emu.add_contact(email, first_name="Pair")
	with w.emu.mocked():
		w.run()
	kept = one_contact(w, other).name
	lead = _lead(other)
	_member("Tier2 Pair B", other)
	w.site.unsubscribe_locally(one)
	assert frappe.db.get_value(CONTACT, kept, "unsubscribed") == 0
	assert w.site.lead(lead).unsubscribed == 0
	assert w.site.member_rows(other) == {"Tier2 Pair B": False}
	assert frappe.get_all(OPT_OUT, {"email": ("in", [one, other])}, pluck="email") == [one]


def test_deferring_and_resolving_one_opt_out_leaves_the_others_row():
	w = make_world()
	one, other = _pair(1)
	for email in (other, one):
		w.emu.add_contact(email, first_name="Both")
	with w.emu.mocked():
		w.run()
	for email in (other, one):
		w.site.unsubscribe_locally(email)
	w.store.defer_optout(one, 1, w.clock.now(), "tried")
	w.store.commit()
	rows = frappe.get_all(OPT_OUT, {"email": ("in", [one, other])}, ["email", "attempts", "status"])
	assert sorted((r.email, r.attempts, r.status) for r in rows) == sorted(
		[(one, 1, "Pending"), (other, 0, "Pending")]
	)
	w.store.resolve_optout(one, None, w.clock.now())
	w.store.commit()
	rows = frappe.get_all(OPT_OUT, {"email": ("in", [one, other])}, ["email", "status"])
	assert sorted((r.email, r.status) for r in rows) == sorted([(one, "Done"), (other, "Pending")])


def test_a_lift_of_one_does_not_lift_the_other():
	w = make_world()
	one, other = _pair(1)
	for email in (one, other):
		w.emu.add_contact(email, first_name="Lift")
	with w.emu.mocked():
		w.run()
		w.site.unsubscribe_locally(one)
		w.site.unsubscribe_locally(other)
		w.clock.advance(600)
		w.run(STREAM_OPTOUT_PUSH)
		w.clock.advance(3600)
		w.emu.opt_in(w.emu.find_by_email(one)["contact_id"])
		w.clock.advance(600)
		w.run(STREAM_CHANGES, STREAM_OPTOUTS)
	assert one_contact(w, one).unsubscribed == 0
	assert one_contact(w, other).unsubscribed == 1


def test_the_lead_form_the_optout_and_the_sync_pick_the_same_contact():
	"""Two Contacts hold one address, the newer one linked to CC: every reader takes that one. And the
	Lead of `rene@` never shows the Contact of `rené@`."""
	w = make_world()
	email = addr("held-twice")
	older = w.site.add_contact(email, first_name="Older")
	newer = w.site.add_contact(email, first_name="Newer")
	frappe.db.set_value(CONTACT, newer, CONTACT_CC_ID, "11111111-2222-3333-4444-555555555555")
	frappe.db.commit()
	lead = w.site.add_lead(email, first_name="Held")
	# ERPNext's Lead makes a Contact of its own: a third holder, newest and not linked to CC.
	made = frappe.db.get_value(
		"Dynamic Link", {"parenttype": CONTACT, "link_doctype": LEAD, "link_name": lead}, "parent"
	)
	assert w.store.contact_reads.holder(email) == newer
	assert record_status(LEAD, lead)["contact"] == newer
	assert contact_reads.contacts_by_address([email]) == {email: [newer, older, made]}
	assert contact_reads.contact_for(email) == newer
	one, other = _pair(2)
	for email in (one, other):
		w.emu.add_contact(email, first_name="Wide")
	with w.emu.mocked():
		w.run()
	mine, theirs = one_contact(w, one).name, one_contact(w, other).name
	assert record_status(LEAD, _lead(other))["contact"] == theirs
	assert contact_reads.contact_for(one) == mine


def test_an_address_change_in_cc_leaves_no_old_row_subscribed():
	"""Same CC contact, new address: site newsletters go to the new address only."""
	w = make_world()
	old, new = addr("moved-old"), addr("moved-new")
	cc_id = w.emu.add_contact(old, first_name="Moved", list_ids=[w.list_id])
	with w.emu.mocked():
		w.run()
		assert w.site.member_rows(old) == {GROUP: False}
		w.clock.advance(600)
		w.emu.edit_contact(cc_id, email=new)
		w.clock.advance(600)
		w.run()
	assert w.site.member_rows(new) == {GROUP: False}
	assert w.site.member_rows(old).get(GROUP) in (None, True)
	assert one_contact(w, new).cc_contact_id == cc_id


def test_the_member_index_tells_the_pairs_apart_and_still_refuses_one_address_twice():
	w = make_world()
	group = "Tier2 Index Pairs"
	w.site.make_group(group)
	for i in range(len(PAIRS)):
		for email in _pair(i):
			_member(group, email)
	frappe.db.commit()
	assert frappe.db.count(EMAIL_GROUP_MEMBER, {"email_group": group}) == 2 * len(PAIRS)
	for twice in (_pair(0)[0].upper(), _pair(0)[1].upper()):  # RENÉ0@ is rené0@, RENE0@ is rene0@
		with pytest.raises(Exception) as refused:
			_member(group, twice)
		assert frappe.db.is_duplicate_entry(refused.value)
		frappe.db.rollback()
	assert indexes._indexes(EMAIL_GROUP_MEMBER)[indexes.MEMBER_INDEX] == (indexes.MEMBER_COLUMNS, True)
	frappe.db.sql(f"delete from `tab{EMAIL_GROUP_MEMBER}` where email_group = %s", group)
	frappe.db.commit()
