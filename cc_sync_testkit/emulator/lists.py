"""Contact lists (`GET/POST /contact_lists`, `GET /contact_lists/{id}`) and custom fields
(`GET /contact_custom_fields`, `GET /contact_custom_fields/{id}`)."""

from __future__ import annotations

from typing import Any

from .wire import ApiError, _bool, _decode_cursor, _invalid, _page


class ListsMixin:
	"""The list and custom field endpoints of `ConstantContactEmulator` (which supplies the state)."""

	def _get_lists(self, params: dict[str, str], _body: Any) -> tuple[int, Any]:
		if params.get("cursor"):
			params = {**_decode_cursor(params["cursor"])[0], "cursor": params["cursor"]}
		membership = params.get("include_membership_count")
		if membership not in (None, "", "all", "active"):
			raise _invalid("include_membership_count does not have a valid value")
		lists = list(self._lists.values())
		if params.get("name"):
			lists = [lst for lst in lists if lst["name"] == params["name"]]
		# The schema allows 1000 though the text says 500: accept the schema's maximum.
		page, links, params = _page("contact_lists", params, lists, 50, 1000)
		out: dict[str, Any] = {"lists": [self.list_resource(lst, membership or None) for lst in page]}
		if _bool(params, "include_count"):
			out["lists_count"] = len(lists)
		if links:
			out["_links"] = links
		return 200, out

	def _get_list(self, params: dict[str, str], _body: Any, list_id: str) -> tuple[int, Any]:
		lst = self._lists.get(list_id)
		if lst is None:
			raise ApiError(404, "contact_lists.api.not_found", f"List {list_id} not found.")
		return 200, self.list_resource(lst, params.get("include_membership_count") or None)

	def _post_list(self, _params: dict[str, str], body: Any) -> tuple[int, Any]:
		if not isinstance(body, dict) or not isinstance(body.get("name"), str) or not body["name"]:
			raise _invalid("name is required")
		if any(lst["name"] == body["name"] for lst in self._lists.values()):
			raise ApiError(409, "contact_lists.api.conflict", "A list with this name already exists.")
		list_id = self.create_list(
			body["name"], description=body.get("description"), favorite=bool(body.get("favorite"))
		)
		return 201, self.list_resource(self._lists[list_id], None)

	def _get_fields(self, params: dict[str, str], _body: Any) -> tuple[int, Any]:
		# CC quirk: custom fields page at most 100 at a time.
		page, links, _ = _page("contact_custom_fields", params, list(self._fields.values()), 50, 100)
		out: dict[str, Any] = {"custom_fields": [dict(f) for f in page]}
		if links:
			out["_links"] = links
		return 200, out

	def _get_field(self, _params: dict[str, str], _body: Any, field_id: str) -> tuple[int, Any]:
		field = self._fields.get(field_id)
		if field is None:
			raise ApiError(404, "contact_custom_fields.api.not_found", f"Custom field {field_id} not found.")
		return 200, dict(field)
