"""CC's bulk activities (imports) the push submitted, kept until CC says they are done."""

from __future__ import annotations

import json

import frappe

from cc_sync.cc_sync.constants import (
	IMPORT,
)
from cc_sync.cc_sync.sitetime import from_site, to_site
from cc_sync.cc_sync.store.sql import WriteCount, json_value
from cc_sync.sync.records import (
	ActivityRecord,
)


class Activities:
	"""The activities part of `FrappeStore`: one Constant Contact Import row per submitted chunk."""

	def __init__(self, count: WriteCount) -> None:
		self.count = count

	def open_activities(self) -> list[ActivityRecord]:
		rows = frappe.db.sql(
			f"""select chunk_id, kind, state, submitted_at, activity_id, `keys`, emails, list_ids,
			finished, result from `tab{IMPORT}` where finished = 0 order by submitted_at, chunk_id""",
			as_dict=True,
		)
		return [
			ActivityRecord(
				chunk_id=r.chunk_id,
				kind=r.kind or "import",
				state=r.state or "",
				submitted_at=from_site(r.submitted_at),
				keys=json_value(r["keys"], []),
				emails=json_value(r.emails, []),
				activity_id=r.activity_id or None,
				list_ids=json_value(r.list_ids, []),
				finished=bool(r.finished),
				result=json_value(r.result, {}),
			)
			for r in rows
		]

	def save_activity(self, record: ActivityRecord) -> None:
		values = {
			"kind": record.kind,
			"state": record.state,
			"submitted_at": to_site(record.submitted_at),
			"activity_id": record.activity_id,
			"keys": json.dumps(record.keys),
			"emails": json.dumps(record.emails),
			"list_ids": json.dumps(record.list_ids),
			"finished": 1 if record.finished else 0,
			"result": json.dumps(record.result, indent=1, default=str),
		}
		if frappe.db.exists(IMPORT, record.chunk_id):
			frappe.db.set_value(IMPORT, record.chunk_id, values)
		else:
			doc = frappe.get_doc({"doctype": IMPORT, "chunk_id": record.chunk_id, **values})
			doc.flags.from_cc_sync = True
			doc.insert(ignore_permissions=True)
		self.count.add()
