"""A group leave records the CC lists it takes the person off when it is made. Leaves still waiting to
reach CC when this came in record the lists mapped to their group now (what they would have taken then),
so a remap or unmap from here on no longer drops them."""

import frappe

from cc_sync.cc_sync.constants import OPT_OUT, OptOutStatus
from cc_sync.cc_sync.store.opt_out_lists import join_lists, lists_mapped_to


def execute() -> None:
	if not frappe.db.table_exists(OPT_OUT) or not frappe.db.has_column(OPT_OUT, "cc_lists"):
		return
	rows = frappe.db.sql(
		f"""select name, email_group from `tab{OPT_OUT}` where status = %s
		and coalesce(email_group, '') != '' and coalesce(cc_lists, '') = ''""",
		OptOutStatus.PENDING,
		as_dict=True,
	)
	filled = 0
	for row in rows:
		lists = lists_mapped_to(row.email_group)
		if lists:
			frappe.db.set_value(OPT_OUT, row.name, "cc_lists", join_lists(lists), update_modified=False)
			filled += 1
	if rows:
		print(f"cc_sync: {filled} of {len(rows)} pending group leave(s) now record the CC lists they leave")
