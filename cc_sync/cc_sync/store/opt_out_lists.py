"""The CC lists a group leave concerns: recorded on its opt-out row when it is made (one id a line), so a
remap or unmap of those lists before the leave reaches CC still takes the person off them."""

from __future__ import annotations

from collections.abc import Iterable

import frappe

from cc_sync.cc_sync.constants import LIST_MAPPING, SETTINGS


def join_lists(lists: Iterable[str]) -> str | None:
	"""CC list ids as an opt-out row keeps them: one a line, sorted (None for none)."""
	return "\n".join(sorted(set(lists))) or None


def split_lists(text: str | None) -> tuple[str, ...]:
	return tuple(sorted({part.strip() for part in (text or "").split("\n") if part.strip()}))


def lists_mapped_to(group: str) -> tuple[str, ...]:
	"""The CC lists the settings map to this Email Group now (enabled mappings, any direction)."""
	return split_lists(
		"\n".join(
			frappe.db.sql_list(
				f"""select cc_list from `tab{LIST_MAPPING}` where parent = %s and parenttype = %s
				and email_group = %s and enabled = 1 and coalesce(cc_list, '') != ''""",
				(SETTINGS, SETTINGS, group),
			)
		)
	)
