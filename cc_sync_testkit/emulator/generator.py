"""Seeded synthetic accounts, large enough for benchmarks (100,000 contacts in a few seconds).

Records are written straight into the store (no per-contact event calls or copies), with a realistic
mix: most contacts implicit or explicit, a share unsubscribed (only their email timestamps moved, as
in CC), a share deleted (no lists, `deleted_at` a date), and list memberships and custom field values.
"""

from __future__ import annotations

import random
import time
from typing import TYPE_CHECKING, Any

from .values import TS_FORMAT

if TYPE_CHECKING:
	from .state import AccountState

FIRST = (
	"Ada",
	"Ben",
	"Cleo",
	"Dan",
	"Eva",
	"Finn",
	"Gus",
	"Hana",
	"Ivo",
	"Jade",
	"Kai",
	"Lena",
	"Milo",
	"Nia",
)
LAST = ("Lang", "Moss", "Ng", "Otto", "Park", "Quinn", "Rossi", "Silva", "Tan", "Ueda", "Voss", "Wu", "Young")
TWO_YEARS = 730 * 86400


def generate_account(
	emu: AccountState,
	contacts: int = 1000,
	lists: int = 5,
	custom_fields: int = 2,
	optout_ratio: float = 0.05,
	delete_ratio: float = 0.02,
	seed: int = 0,
	*,
	domain: str = "example.com",
) -> dict[str, Any]:
	"""Fill `emu` with a deterministic account; returns the new list ids, field ids and contact ids."""
	rng = random.Random(seed)
	with emu._lock:
		start = len(emu)
		list_ids = [emu.create_list(f"Generated list {len(emu._lists) + 1}") for _ in range(lists)]
		field_ids = [
			emu.create_custom_field(f"Generated field {len(emu._fields) + 1}") for _ in range(custom_fields)
		]
		list_recs = [emu._lists[lid] for lid in list_ids]
		now_s = int(emu.clock.now().timestamp())
		base_s = now_s - TWO_YEARS
		contact_ids = []
		rand = rng.random
		n_lists = len(list_recs)
		for i in range(start, start + contacts):
			first, last = FIRST[int(rand() * len(FIRST))], LAST[int(rand() * len(LAST))]
			email = f"{first}.{last}{i}@{domain}"
			if i % 50:
				email = email.lower()  # every 50th keeps its capitals, for case-insensitive matching
			created_s = base_s + int(rand() * TWO_YEARS)
			updated_s = created_s + int(rand() * (now_s - created_s))
			created = time.strftime(TS_FORMAT, time.gmtime(created_s))
			roll = rand()
			permission = "implicit" if roll < 0.6 else "explicit" if roll < 0.95 else "not_set"
			rec = emu._insert(
				email,
				permission=permission,
				created_at=created,
				updated_at=time.strftime(TS_FORMAT, time.gmtime(updated_s)),
				create_source="Account" if permission == "implicit" else "Contact",
				opt_in_source="Account" if permission == "implicit" else "Contact",
				# From the account's own id sequence: a contact created later never gets the same id.
				contact_id=emu.new_id(),
			)
			rec["first_name"], rec["last_name"] = first, last
			for fid in field_ids:
				if rand() < 0.5:
					rec["custom_fields"][fid] = f"v{int(rand() * 1000)}"
			if rand() < optout_ratio:
				# Only the email timestamps move on an opt-out, never the top-level updated_at.
				out_s = updated_s + int(rand() * (now_s - updated_s))
				out = time.strftime(TS_FORMAT, time.gmtime(out_s))
				rec.update(
					permission="unsubscribed",
					opt_out_date=out,
					opt_out_source="Contact" if rand() < 0.9 else "Account",
					email_updated_at=out,
				)
			if rand() < delete_ratio:
				del_s = updated_s + int(rand() * (now_s - updated_s))
				rec["deleted_at"] = time.strftime("%Y-%m-%d", time.gmtime(del_s))
			elif n_lists:
				first_list = int(rand() * n_lists)
				picks = {first_list, int(rand() * n_lists)} if rand() < 0.5 else {first_list}
				for index in sorted(picks):
					lst = list_recs[index]
					rec["lists"][lst["list_id"]] = None
					lst["members"].add(rec["contact_id"])
			contact_ids.append(rec["contact_id"])
		emu.version += 1
	return {"list_ids": list_ids, "custom_field_ids": field_ids, "contact_ids": contact_ids}
