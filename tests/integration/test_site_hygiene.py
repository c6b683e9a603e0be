"""The tier-2 harness itself: each test leaves the site as it found it.

A test that stored an address padded or in upper case, or a row with no address at all, must not
leave it behind for the next test (or the next run) to trip over.
"""

from __future__ import annotations

import frappe

from cc_sync.cc_sync.constants import CONTACT, LEAD
from tests.integration import frappe_site as helpers


def test_cleanup_removes_exactly_what_a_test_made_whatever_its_address():
	kept_lead = helpers.FrappeSite().add_lead("kept@elsewhere.invalid", first_name="Kept")
	try:
		state = helpers.begin_test()
		site = helpers.FrappeSite()
		padded = site.add_lead("  NEW2@TIER2.TEST ", first_name="New2")
		nameless = frappe.get_doc({"doctype": CONTACT, "first_name": "tier2 no address"}).insert(
			ignore_permissions=True
		)
		frappe.db.commit()

		helpers.end_test(state)

		assert not frappe.db.exists(LEAD, padded)
		assert not frappe.db.exists(CONTACT, nameless.name)
		assert frappe.db.exists(LEAD, kept_lead), "a row the test did not make was removed"
	finally:
		frappe.db.delete(LEAD, {"name": kept_lead})
		frappe.db.commit()


def test_the_session_runs_from_the_bench_sites_folder():
	"""Frappe writes its logs to ../logs from the working directory: it must be the bench's sites."""
	from pathlib import Path

	assert (Path.cwd() / frappe.local.site / "site_config.json").is_file()
