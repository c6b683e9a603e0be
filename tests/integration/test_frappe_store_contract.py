"""The store contract (tests/store_contract.py) on the Frappe store, in a real site, for each push target
the test site has."""

from __future__ import annotations

from tests.store_contract import CRM_LEAD, LEAD, SIGN_UP, SIGN_UP_GROUP, StoreContract


class TestFrappeStoreContract(StoreContract):
	targets = (LEAD, CRM_LEAD, SIGN_UP)

	def make_site(self, target=LEAD):
		from tests.integration.target_sites import TargetSite, target_store

		return target_store(target), TargetSite(target, SIGN_UP_GROUP)


def test_the_in_memory_targets_state_what_the_adapters_state():
	"""Tier 1's store models each target as its adapter describes it: address field, own opt-out checks,
	Do Not Contact, group."""
	from cc_sync.cc_sync.targets import TARGETS as ADAPTERS
	from cc_sync_testkit.memory import TARGETS as MODELLED

	assert set(MODELLED) == set(ADAPTERS)
	for doctype, modelled in MODELLED.items():
		adapter = ADAPTERS[doctype]
		assert modelled.email_field == adapter.email_field, doctype
		assert modelled.optout_checks == adapter.optout_checks, doctype
		assert modelled.group_field == adapter.group_field, doctype
		assert modelled.do_not_contact == any(f == "status" for f, _, _ in adapter.never_pushed), doctype
