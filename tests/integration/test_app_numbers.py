"""The numbers about the site's contacts are defined once and add up: in sync is subscribed plus
unsubscribed, a contact deleted in CC counts only as deleted, and the cards, the settings page and
`bench cc-sync status` say the same."""

from __future__ import annotations

import re

import pytest

import frappe

from cc_sync.cc_sync import dashboard
from cc_sync.cc_sync.constants import (
	CONTACT,
	CONTACT_CC_DELETED,
	CONTACT_CC_ID,
	FLAG_FROM_SYNC,
	OPT_OUT,
	SETTINGS,
)
from cc_sync.commands import status_lines

DOMAIN = "numbers.tier2.test"


def _contact(local: str, *, cc_id: str | None, unsubscribed: int = 0, deleted: int = 0) -> str:
	doc = frappe.get_doc(
		{
			"doctype": CONTACT,
			"first_name": local,
			"email_ids": [{"email_id": f"{local}@{DOMAIN}", "is_primary": 1}],
			"unsubscribed": unsubscribed,
			CONTACT_CC_ID: cc_id,
			CONTACT_CC_DELETED: deleted,
		}
	)
	doc.flags[FLAG_FROM_SYNC] = True
	doc.insert(ignore_permissions=True)
	return doc.name


@pytest.fixture
def people():
	def clean():
		for name in frappe.get_all("Contact Email", {"email_id": ("like", f"%@{DOMAIN}")}, pluck="parent"):
			frappe.delete_doc(CONTACT, name, force=True, ignore_permissions=True)
		frappe.db.delete(OPT_OUT, {"email": ("like", f"%@{DOMAIN}")})
		frappe.db.commit()

	clean()
	before = dashboard.contact_numbers()
	_contact("sub1", cc_id="n-1")
	_contact("sub2", cc_id="n-2")
	_contact("unsub", cc_id="n-3", unsubscribed=1)
	# Unsubscribed, then deleted in CC: counted as deleted only, never also as unsubscribed.
	_contact("gone", cc_id="n-4", unsubscribed=1, deleted=1)
	_contact("local", cc_id=None)
	frappe.db.commit()
	yield before
	clean()


def test_the_contact_numbers_add_up_and_a_deleted_contact_counts_once(people):
	now = dashboard.contact_numbers()
	added = {k: now[k] - people[k] for k in now}
	assert added == {"in_sync": 3, "subscribed": 2, "unsubscribed": 1, "deleted_in_cc": 1, "not_in_cc": 1}
	assert now["in_sync"] == now["subscribed"] + now["unsubscribed"]


def test_the_cards_the_settings_page_and_the_command_line_read_the_same_numbers(people):
	now = dashboard.contact_numbers()
	cards = {
		"in_sync": dashboard.contacts_in_sync,
		"subscribed": dashboard.subscribed,
		"unsubscribed": dashboard.unsubscribed,
		"deleted_in_cc": dashboard.deleted_in_cc,
		"not_in_cc": dashboard.not_in_cc,
	}
	assert {k: card()["value"] for k, card in cards.items()} == now
	line = dashboard.contact_numbers_line(now)
	assert line.startswith(f"{now['in_sync']:,} contacts in sync ({now['subscribed']:,} subscribed")
	settings = frappe.get_doc(SETTINGS)
	settings.run_method("onload")
	assert settings.get_onload().cc_numbers == line
	assert f"Contacts:      {line}" in status_lines(frappe.local.site)
	# CC's own count of deleted contacts is the deletes stream's bookkeeping, not shown as a number.
	assert frappe.get_meta(SETTINGS).get_field("deleted_count").hidden


def test_the_command_lines_status_table_is_aligned():
	lines = status_lines(frappe.local.site)
	header = next(i for i, line in enumerate(lines) if line.startswith("stream "))
	table = lines[header : header + 7]
	starts = [m.start() for m in re.finditer(r"(?<=  )\S", table[0])]
	assert len(starts) == 5
	for row in table[1:]:
		for start in starts:
			# Every column begins where its heading does, after the padding of the one before.
			if len(row) > start:
				assert row[start - 2 : start] == "  " and row[start] != " ", row
