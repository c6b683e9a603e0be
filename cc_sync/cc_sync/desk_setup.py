"""Desk pieces that Frappe does not import from an app's files, kept in place on install and migrate:
the workspace's live status block (a Custom HTML Block) and the way in from the Integrations workspace;
and, once, the marketer role's read of the records the workspace counts.
"""

from __future__ import annotations

import json

import frappe

from cc_sync.cc_sync.constants import CONTACT, LEAD

STATUS_BLOCK = "Constant Contact Status"
WORKSPACE = "Constant Contact"
INTEGRATIONS = "Integrations"
WORKSPACE_ROUTE = "/app/constant-contact"
MARKETER_ROLE = "Constant Contact User"
# What a marketer reads besides the app's own DocTypes: the records the workspace's cards count and open
# (contacts in sync, subscribed, unsubscribed, ...; pending and failed pushes), read only.
MARKETER_READS = (CONTACT, LEAD)

# The block asks the server for the health line and shows it with its one fixing action. It runs in
# a shadow root (`root_element`); frappe's globals are available.
STATUS_HTML = """<div class="cc-health">
	<span class="cc-dot"></span>
	<span class="cc-message">…</span>
	<span class="cc-action"></span>
</div>"""

STATUS_STYLE = """.cc-health { display: flex; align-items: center; gap: 12px; padding: 12px 16px;
	border-radius: var(--border-radius-md, 8px); background: var(--bg-color, #f4f5f6);
	border: 1px solid var(--border-color, #e2e6e9); font-size: 14px; }
.cc-health.green { background: var(--bg-green, #e4f5e9); }
.cc-health.orange { background: var(--bg-orange, #fff1e7); }
.cc-health.red { background: var(--bg-red, #fff0f0); }
.cc-dot { width: 10px; height: 10px; border-radius: 50%; flex: none; background: var(--gray-500, #999); }
.cc-health.green .cc-dot { background: var(--green-500, #30a66d); }
.cc-health.orange .cc-dot { background: var(--orange-500, #f7a04b); }
.cc-health.red .cc-dot { background: var(--red-500, #e03636); }
.cc-message { flex: 1; }
.cc-hint { color: var(--text-muted, #666); font-size: 12px; }"""

STATUS_SCRIPT = """const box = root_element.querySelector(".cc-health");
const esc = frappe.utils.escape_html;
function show(h) {
	box.className = "cc-health " + h.level;
	box.querySelector(".cc-message").innerHTML =
		esc(h.message) + (h.detail ? `<div class="cc-hint">${esc(h.detail)}</div>` : "");
	const slot = box.querySelector(".cc-action");
	slot.innerHTML = "";
	if (!h.action) return;
	if (h.can_act || (h.action.route || "").startsWith("/app/constant-contact-sync-log")) {
		const btn = document.createElement("a");
		btn.className = "btn btn-sm " + (h.level === "green" ? "btn-default" : "btn-primary");
		btn.textContent = h.action.label;
		if (h.action.method) {
			// A fix done in place (start the schedule, run what is overdue, try the new secret).
			btn.addEventListener("click", () =>
				frappe.call({ method: h.action.method, freeze: true }).then((r) => {
					if (r.message && r.message.message && r.message.ok === false) {
						frappe.msgprint(r.message.message);
					}
					frappe.call("cc_sync.cc_sync.health.get_health").then((again) => show(again.message));
				})
			);
		} else {
			btn.href = h.action.route;
		}
		slot.appendChild(btn);
	} else {
		slot.innerHTML = `<span class="cc-hint">${esc(__("Ask a System Manager to fix this."))}</span>`;
	}
}
frappe.call("cc_sync.cc_sync.health.get_health").then((r) => show(r.message));"""


def setup() -> None:
	ensure_status_block()
	link_from_integrations()


def ensure_status_block() -> None:
	values = {"html": STATUS_HTML, "style": STATUS_STYLE, "script": STATUS_SCRIPT, "private": 0}
	if frappe.db.exists("Custom HTML Block", STATUS_BLOCK):
		doc = frappe.get_doc("Custom HTML Block", STATUS_BLOCK)
		if all(doc.get(k) == v for k, v in values.items()):
			return
		doc.update(values)
		doc.save(ignore_permissions=True)
		return
	doc = frappe.get_doc({"doctype": "Custom HTML Block", "name": STATUS_BLOCK, **values})
	doc.flags.name_set = True
	doc.insert(ignore_permissions=True, set_name=STATUS_BLOCK)


def link_from_integrations() -> None:
	"""A shortcut to the Constant Contact workspace at the top of Integrations (once)."""
	if not frappe.db.exists("Workspace", INTEGRATIONS) or not frappe.db.exists("Workspace", WORKSPACE):
		return
	doc = frappe.get_doc("Workspace", INTEGRATIONS)
	if any(s.url == WORKSPACE_ROUTE for s in doc.shortcuts):
		return
	doc.append(
		"shortcuts",
		{"type": "URL", "url": WORKSPACE_ROUTE, "label": WORKSPACE, "color": "Blue"},
	)
	content = json.loads(doc.content or "[]")
	content.insert(
		0,
		{"id": "ccsyncshortcut", "type": "shortcut", "data": {"shortcut_name": WORKSPACE, "col": 3}},
	)
	doc.content = json.dumps(content)
	doc.flags.ignore_permissions = True
	doc.save(ignore_permissions=True)


def granted_key(doctype: str) -> str:
	"""The site default that remembers the role's read of a DocType was granted once."""
	return f"cc_sync_marketer_reads_{frappe.scrub(doctype)}"


def grant_marketer_reads() -> None:
	"""Give the Constant Contact User role read on Contact and Lead, once per DocType, where the site has
	them and the role has no rule of its own there yet. Run on install, when ERPNext brings Lead, and once
	by a patch on sites that had the app before. Read only: Frappe's rule would also allow Export (its
	default), which would let a marketer download every person's address. A System Manager may take the
	rule away in Role Permissions Manager and it stays away (the cards then say the role has no access
	rather than show 0): a DocType granted once is remembered and never granted again."""
	from frappe.permissions import add_permission

	if not frappe.db.exists("Role", MARKETER_ROLE):
		frappe.get_doc({"doctype": "Role", "role_name": MARKETER_ROLE, "desk_access": 1}).insert(
			ignore_permissions=True
		)
	for doctype in MARKETER_READS:
		if not frappe.db.exists("DocType", doctype):
			continue
		if frappe.db.get_default(granted_key(doctype)):
			continue
		frappe.db.set_default(granted_key(doctype), "1")
		if frappe.db.exists("Custom DocPerm", {"parent": doctype, "role": MARKETER_ROLE, "permlevel": 0}):
			continue
		name = add_permission(doctype, MARKETER_ROLE, 0, "read")
		if name:
			frappe.db.set_value("Custom DocPerm", name, {"export": 0, "report": 0, "print": 0, "email": 0})
			frappe.clear_cache(doctype=doctype)
