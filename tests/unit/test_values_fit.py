"""Values and records the site cannot hold as CC sends them: the engine's side (the Frappe store's is in
tests/integration/test_robust_site.py).

A store may hold a value cut to fit (the engine compares CC's value as the store would hold it, so an
unchanged contact is not written again on every read), and may refuse one record of a page outright (that
record fails with the reason; the rest of the page is applied and nothing is decided again for it)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from cc_sync.sync.records import ContactWrite
from cc_sync.sync.streams import STREAM_CHANGES, STREAM_RECONCILE
from cc_sync_testkit.memory import MemoryStore
from tests.world import make_world

LIMIT = 20


class NarrowStore(MemoryStore):
	"""A store whose first-name column holds 20 characters, and which refuses one address outright."""

	def __init__(self, *args: Any, refuse: str | None = None, **kwargs: Any) -> None:
		super().__init__(*args, **kwargs)
		self.refuse = refuse
		self.failures: dict[int, str] = {}
		self.written: list[str] = []

	def fit_fields(self, values: Mapping[str, Any]) -> dict[str, Any]:
		out = dict(values)
		if isinstance(out.get("first_name"), str):
			out["first_name"] = out["first_name"][:LIMIT]
		return out

	def apply_contacts(
		self, writes: Sequence[ContactWrite], managed_groups: Collection[str] = ()
	) -> list[str | None]:
		kept = [w for w in writes if w.email != self.refuse]
		for w in kept:
			if "first_name" in w.fields:
				w.fields = {**w.fields, "first_name": w.fields["first_name"][:LIMIT]}
		self.written.extend(w.email for w in kept)
		keys = iter(super().apply_contacts(kept, managed_groups))
		self.failures = {i: "Data too long" for i, w in enumerate(writes) if w.email == self.refuse}
		return [None if w.email == self.refuse else next(keys) for w in writes]

	def drain_failures(self) -> dict[int, str]:
		failures, self.failures = self.failures, {}
		return failures


def test_a_value_the_site_holds_cut_is_not_written_again_on_every_read():
	w = make_world(store=NarrowStore())
	w.emu.add_contact("cut@example.com", first_name="A" * 60)
	with w.emu.mocked():
		w.run()
		assert w.store.contact_by_email("cut@example.com").fields["first_name"] == "A" * LIMIT
		w.store.written.clear()
		w.clock.advance(3600)
		report = w.run(STREAM_RECONCILE)
	assert report.streams[STREAM_RECONCILE].updated == 0
	assert w.store.written == []


def test_a_change_beyond_the_cut_is_no_change_and_one_within_it_is():
	w = make_world(store=NarrowStore())
	cc_id = w.emu.add_contact("edit@example.com", first_name="A" * 60)
	with w.emu.mocked():
		w.run()
		w.clock.advance(600)
		w.emu.edit_contact(cc_id, first_name="A" * 59 + "B")
		w.clock.advance(600)
		assert w.run(STREAM_CHANGES).streams[STREAM_CHANGES].updated == 0
		w.clock.advance(600)
		w.emu.edit_contact(cc_id, first_name="B" + "A" * 59)
		w.clock.advance(600)
		assert w.run(STREAM_CHANGES).streams[STREAM_CHANGES].updated == 1
	assert w.store.contact_by_email("edit@example.com").fields["first_name"] == "B" + "A" * (LIMIT - 1)


def test_a_record_the_site_refuses_fails_alone_with_its_reason():
	w = make_world(store=NarrowStore(refuse="refused@example.com"))
	w.emu.add_contact("refused@example.com", first_name="No")
	for i in range(3):
		w.emu.add_contact(f"fine{i}@example.com", first_name="Yes")
	with w.emu.mocked():
		report = w.run(STREAM_CHANGES)
	changes = report.streams[STREAM_CHANGES]
	assert [(n.email, n.reason) for n in changes.errors] == [
		("refused@example.com", "could not be written: Data too long")
	]
	assert w.store.contact_by_email("refused@example.com") is None
	assert all(w.store.contact_by_email(f"fine{i}@example.com") for i in range(3))
