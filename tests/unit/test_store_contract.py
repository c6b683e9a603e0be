"""The store contract on the in-memory reference store."""

from __future__ import annotations

from cc_sync_testkit.memory import SIGN_UP as SIGN_UP_KEY
from cc_sync_testkit.memory import MemoryStore
from tests.store_contract import CRM_LEAD, LEAD, SIGN_UP, SIGN_UP_GROUP, StoreContract


class MemorySite:
	def __init__(self, store: MemoryStore, target: str = LEAD) -> None:
		self.store = store
		self.target = target
		store.push_doctypes = {target}

	# -- the push target's records ------------------------------------------------------------------
	def add_record(self, email, **fields):
		if self.target == SIGN_UP:
			self.add_member(SIGN_UP_GROUP, email)
			return f"{SIGN_UP_KEY}{SIGN_UP_GROUP}|{email.strip().lower()}"
		key = self.store.add_lead(email, doctype=self.target, **fields)
		self.store.commit()
		return key

	def edit_record(self, key, **fields):
		if self.target == SIGN_UP:
			group, _, email = key[len(SIGN_UP_KEY) :].partition("|")
			self.store.members.at[(group, email)] = self.store._now()  # the row saved again
		else:
			self.store.edit_lead(key, **fields)
		self.store.commit()

	def own_optout(self, email):
		if self.target == SIGN_UP:
			self.leave_group(SIGN_UP_GROUP, email)
		elif self.target == CRM_LEAD:
			# Its unsubscribe link: an Email Unsubscribe for the CRM Lead.
			self.email_unsubscribe(email, global_unsubscribe=False)
		else:
			self.store.unsubscribe_locally(email, channel="lead")
			self.store.commit()

	def edit_lead(self, key, **fields):
		self.store.edit_lead(key, **fields)
		self.store.commit()

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
	def make_site(self, target=LEAD):
		store = MemoryStore()
		return store, MemorySite(store, target)
