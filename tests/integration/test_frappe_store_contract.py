"""The store contract (tests/store_contract.py) on the Frappe store, in a real site."""

from __future__ import annotations

from tests.store_contract import StoreContract


class TestFrappeStoreContract(StoreContract):
	def make_site(self):
		from tests.integration.frappe_site import FrappeSite, make_store

		return make_store(), FrappeSite()
