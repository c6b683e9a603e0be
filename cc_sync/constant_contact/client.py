"""The Constant Contact V3 API client: the endpoints cc_sync uses, and nothing else.

- `transport`: every call's pacing (4/s), daily count (10,000), token refresh, retries and typed errors;
- `contacts`: contacts page by page, one contact, an opt-out, lists and custom fields;
- `bulk`: imports, list removals, exports and the activities that follow them;
- `reports`: email campaigns and their tracking reports (scope `campaign_data`).

Deliberately absent: `POST /contacts/sign_up_form`. It marks an existing contact as having given
explicit permission, even one that unsubscribed, and revives deleted contacts; a sync must never
re-subscribe anyone. New leads go through `contacts_json_import`, which leaves unsubscribed
contacts unsubscribed.
"""

from __future__ import annotations

from cc_sync.constant_contact.bulk import BulkActivitiesAPI
from cc_sync.constant_contact.contacts import ContactsAPI, format_cc_datetime
from cc_sync.constant_contact.reports import ReportsAPI
from cc_sync.constant_contact.transport import DEFAULT_BASE_URL

__all__ = ["DEFAULT_BASE_URL", "ConstantContactClient", "format_cc_datetime"]


class ConstantContactClient(ContactsAPI, BulkActivitiesAPI, ReportsAPI):
	"""A CC V3 client for one connected account. Not tied to any web framework."""
