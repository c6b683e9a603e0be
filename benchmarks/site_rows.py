"""Taking a benchmark's people off a site: the Contacts of a test domain with their child rows, their
member rows and their opt-out rows, in batches a delete of a million contacts can take.

Like `timing.py` it imports nothing of the app (it is given `frappe`), so `bench_frappe_large`'s worker
can import it before switching its path to an older checkout.
"""

from __future__ import annotations

from typing import Any

BATCH = 20_000


def delete_people(frappe: Any, like: str) -> None:
	"""Delete every Contact with an address matching the SQL pattern `like`, and the rows of those addresses."""
	while True:
		# A Contact by its primary address or any of its addresses (the fills write one or the other).
		names = frappe.db.sql_list(
			"""select name from `tabContact` where email_id like %(like)s
			union select parent from `tabContact Email` where parenttype = 'Contact' and email_id like %(like)s
			limit %(batch)s""",
			{"like": like, "batch": BATCH},
		)
		if not names:
			break
		for table in ("Contact Email", "Dynamic Link"):
			frappe.db.sql(
				f"delete from `tab{table}` where parenttype = 'Contact' and parent in %(n)s",
				{"n": tuple(names)},
			)
		frappe.db.sql("delete from `tabContact` where name in %(n)s", {"n": tuple(names)})
		frappe.db.commit()
	frappe.db.sql("delete from `tabEmail Group Member` where email like %s", like)
	frappe.db.sql("delete from `tabConstant Contact Opt Out` where email like %s", like)
	frappe.db.commit()
