"""The CC list picker of the settings' list mappings: each list by its name, with its member count in
words ("1,015 members"), in name order, lists deleted in CC left out.

Frappe's own link search shows a list's search fields bare ("…, 975"), in no order a person reads.
"""

from __future__ import annotations

from typing import Any

import frappe
from frappe import _

from cc_sync.cc_sync.constants import LIST


def members_phrase(count: int | None) -> str:
	""" "1 member", "1,015 members"; a list CC reported no count for says so."""
	if count is None:
		return _("member count not known yet")
	return (_("{0} member") if count == 1 else _("{0} members")).format(f"{int(count):,}")


@frappe.whitelist()
@frappe.validate_and_sanitize_search_inputs
def cc_lists(
	doctype: str,
	txt: str,
	searchfield: str,
	start: int,
	page_len: int,
	filters: dict[str, Any] | None,
	**kwargs: Any,
) -> list[tuple[str, str, str]]:
	"""Rows (list id, list name, members) of the CC lists the user may read whose name or id holds
	`txt`; Frappe's link field shows the name, then the id and the members below it."""
	rows = frappe.get_list(
		LIST,
		filters={"deleted": 0},
		or_filters={"list_name": ["like", f"%{txt}%"], "name": ["like", f"%{txt}%"]} if txt else None,
		fields=["name", "list_name", "membership_count"],
		order_by="list_name asc, name asc",
		limit_start=start,
		limit_page_length=page_len,
	)
	return [(r.name, r.list_name or r.name, members_phrase(r.membership_count)) for r in rows]
