"""The store contract on the in-memory reference store."""

from __future__ import annotations

from cc_sync_testkit.memory_store import MemoryStore
from tests.store_contract import StoreContract


class MemorySite:
	def __init__(self, store: MemoryStore) -> None:
		self.store = store

	def add_contact(self, email, **fields):
		return self.store.add_contact(email, **fields)

	def add_lead(self, email, unsubscribed=False, **fields):
		key = self.store.add_lead(email, unsubscribed=unsubscribed, **fields)
		self.store.commit()
		return key

	def unsubscribe_locally(self, email, by_person=False):
		self.store.unsubscribe_locally(email, by_person=by_person)
		self.store.commit()

	def member_rows(self, email):
		return {group: unsub for (group, e), unsub in self.store.members.items() if e == email}

	def make_group(self, name):
		pass

	def add_member(self, group, email):
		self.store.join_group(email, group)
		self.store.commit()

	def leave_group(self, group, email):
		self.store.leave_group(email, group)
		self.store.commit()

	def email_unsubscribe(self, email, global_unsubscribe=True):
		self.store.unsubscribe_locally(email, channel="global" if global_unsubscribe else "document")
		self.store.commit()


class TestMemoryStoreContract(StoreContract):
	def make_site(self):
		store = MemoryStore()
		return store, MemorySite(store)
