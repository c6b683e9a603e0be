"""The Constant Contact block on the Contact and Lead forms, and "X of N" while a sync reads."""

from __future__ import annotations

from dataclasses import replace

import pytest

import frappe

from cc_sync.cc_sync import progress, runner
from cc_sync.cc_sync.constants import (
	CONTACT,
	LEAD,
	LIST,
	LIST_MAPPING,
	OPT_OUT,
	PROGRESS_EVENT,
	SETTINGS,
	TRIGGER_SHELL,
)
from cc_sync.cc_sync.record_status import record_status
from cc_sync.constant_contact.ratelimit import DailyBudget
from tests.integration.app_helpers import drop_user, make_user, settings_restored
from tests.integration.test_frappe_scenarios import addr, make_world

GROUP = "tier2 status group"


@pytest.fixture
def mapped():
	"""An Email Group mapped to the CC list "Tier2 Newsletter"; the test's records removed afterwards
	(saving a Contact can commit, so a rollback alone would leave them behind)."""
	clean()
	with settings_restored():
		if not frappe.db.exists("Email Group", GROUP):
			frappe.get_doc({"doctype": "Email Group", "title": GROUP}).insert(ignore_permissions=True)
		frappe.get_doc(
			{"doctype": LIST, "list_id": "tier2-status-list", "list_name": "Tier2 Newsletter"}
		).insert(ignore_permissions=True)
		frappe.get_doc(
			{
				"doctype": LIST_MAPPING,
				"parent": SETTINGS,
				"parenttype": SETTINGS,
				"parentfield": "list_mappings",
				"cc_list": "tier2-status-list",
				"email_group": GROUP,
				"direction": "both",
				"enabled": 1,
			}
		).db_insert()
		try:
			yield
		finally:
			frappe.db.rollback()
			clean()


def clean() -> None:
	for name in frappe.get_all(
		"Contact Email", filters={"email_id": ("like", "st-%@tier2.test")}, pluck="parent"
	):
		frappe.delete_doc(CONTACT, name, force=True, ignore_permissions=True)
	if frappe.db.exists("DocType", LEAD):
		for name in frappe.get_all(LEAD, filters={"email_id": ("like", "st-%@tier2.test")}, pluck="name"):
			frappe.delete_doc(LEAD, name, force=True, ignore_permissions=True)
	frappe.db.delete(OPT_OUT, {"email": ("like", "st-%@tier2.test")})
	frappe.db.delete("Email Group Member", {"email_group": GROUP})
	frappe.db.delete(LIST_MAPPING, {"cc_list": "tier2-status-list"})
	frappe.db.delete(LIST, {"name": "tier2-status-list"})
	frappe.db.commit()


def contact(email: str, **values) -> str:
	doc = frappe.get_doc(
		{
			"doctype": CONTACT,
			"first_name": email.split("@")[0],
			"email_ids": [{"email_id": email, "is_primary": 1}],
		}
	).insert(ignore_permissions=True)
	if values:
		frappe.db.set_value(CONTACT, doc.name, values, update_modified=False)
	return doc.name


def member(email: str, unsubscribed: int = 0) -> None:
	frappe.get_doc(
		{"doctype": "Email Group Member", "email_group": GROUP, "email": email, "unsubscribed": unsubscribed}
	).insert(ignore_permissions=True)


def test_a_subscribed_contact_shows_cc_permission_its_lists_and_the_time_of_its_last_sync(mapped):
	name = contact(
		"st-sub@tier2.test",
		cc_contact_id="cc-st-sub",
		cc_permission="implicit",
		cc_last_synced="2026-11-27 10:15:30",
	)
	member("st-sub@tier2.test")
	view = record_status(CONTACT, name)
	assert view["state"] == "subscribed" and view["permission_to_send"] == "implicit"
	assert [(lst["list_name"], lst["unsubscribed"]) for lst in view["lists"]] == [("Tier2 Newsletter", False)]
	assert view["last_synced"] == "2026-11-27 10:15:30"
	assert not view["unsubscribed"] and view["opted_out_at"] is None


def test_an_opt_out_from_cc_shows_its_date_and_that_cc_was_the_source(mapped):
	name = contact(
		"st-out@tier2.test",
		unsubscribed=1,
		cc_contact_id="cc-st-out",
		cc_permission="unsubscribed",
		cc_opted_out_at="2026-11-20 08:00:05",
		cc_optout_cc_clock=1,
	)
	member("st-out@tier2.test", unsubscribed=1)
	view = record_status(CONTACT, name)
	assert view["state"] == "unsubscribed" and view["optout_source"] == "cc"
	assert view["opted_out_at"] == "2026-11-20 08:00:05"
	assert view["lists"][0]["unsubscribed"] is True


def test_an_opt_out_made_on_the_site_says_whether_it_has_reached_cc(mapped):
	name = contact("st-site@tier2.test", unsubscribed=1, cc_contact_id="cc-st-site", cc_permission="explicit")
	optout = frappe.get_doc(
		{
			"doctype": OPT_OUT,
			"email": "st-site@tier2.test",
			"status": "Pending",
			"opted_out_at": "2026-11-27 09:30:15",
			"reason": "Unsubscribed on Contact",
		}
	).insert(ignore_permissions=True)
	view = record_status(CONTACT, name)
	assert (view["optout_source"], view["opted_out_at"]) == ("site_pending", "2026-11-27 09:30:15")
	frappe.db.set_value(OPT_OUT, optout.name, {"status": "Done", "cc_contact_id": "cc-st-site"})
	assert record_status(CONTACT, name)["optout_source"] == "site_sent"
	frappe.db.set_value(OPT_OUT, optout.name, "cc_contact_id", None)
	assert record_status(CONTACT, name)["optout_source"] == "site_not_in_cc"


@pytest.mark.parametrize(
	("values", "state"),
	[
		({}, "not in CC"),
		({"cc_contact_id": "cc-st-p", "cc_permission": "pending_confirmation"}, "pending confirmation"),
		({"cc_contact_id": "cc-st-d", "cc_permission": "explicit", "cc_deleted": 1}, "deleted"),
		({"cc_contact_id": "cc-st-h", "cc_permission": "temp_hold"}, "on hold"),
	],
)
def test_each_stored_cc_state_reads_as_the_form_names_it(mapped, values, state):
	name = contact(f"st-{len(values)}-{state.replace(' ', '')}@tier2.test", **values)
	assert record_status(CONTACT, name)["state"] == state


def test_a_lead_shows_the_cc_status_of_the_contact_holding_its_email_and_its_push_status(mapped):
	if not frappe.db.exists("DocType", LEAD):
		pytest.skip("no Lead DocType on this site")
	cname = contact("st-lead@tier2.test", cc_contact_id="cc-st-lead", cc_permission="explicit")
	lead = frappe.get_doc({"doctype": LEAD, "lead_name": "St Lead", "email_id": "st-lead@tier2.test"}).insert(
		ignore_permissions=True
	)
	frappe.db.set_value(LEAD, lead.name, "cc_push_status", "Pushed", update_modified=False)
	view = record_status(LEAD, lead.name)
	assert view["state"] == "subscribed" and view["contact"] == cname and view["push_status"] == "Pushed"
	assert view["contact_name"] == "st-lead", "the Contact is named as a person reads it"


@pytest.mark.parametrize("doctype", [CONTACT, LEAD])
def test_the_contact_and_lead_forms_load_the_constant_contact_block_and_sync_now(doctype):
	"""The form script (hooks.py doctype_js) reaches the browser with the form: Frappe adds it to a
	standard DocType only, so the Lead tier 2 uses must be ERPNext's or the testkit's standard stand-in."""
	from frappe.desk.form.meta import get_meta

	assert not frappe.db.get_value("DocType", doctype, "custom"), f"{doctype} is a custom DocType"
	script = get_meta(doctype, cached=False).get("__js") or ""
	assert "cc_sync.show_record_status(frm)" in script
	assert "cc_sync.add_record_sync_button(frm)" in script
	assert frappe.get_meta(doctype).has_field("cc_status_html")


@pytest.mark.parametrize("doctype", [CONTACT, LEAD])
def test_the_constant_contact_section_holds_only_the_apps_fields(doctype):
	"""No field of the host's (ERPNext's Blog Subscriber follows Unsubscribed on Lead) lands in it."""
	fields = frappe.get_meta(doctype).fields
	start = [df.fieldname for df in fields].index("cc_sync_section")
	inside = []
	for df in fields[start + 1 :]:
		if df.fieldtype in ("Section Break", "Tab Break"):
			break
		inside.append(df)
	assert inside and all(df.get("is_custom_field") for df in inside), [df.fieldname for df in inside]


def test_the_status_is_refused_to_a_user_who_cannot_read_the_contact(mapped):
	name = contact("st-private@tier2.test", cc_contact_id="cc-st-private", cc_permission="explicit")
	user = make_user("tier2-noread@tier2.test", ())
	try:
		frappe.set_user(user)
		with pytest.raises(frappe.PermissionError):
			record_status(CONTACT, name)
	finally:
		frappe.set_user("Administrator")
		drop_user(user)


def test_a_sync_reports_x_of_n_contacts_read_as_cc_counts_them(monkeypatch):
	from cc_sync.cc_sync.settings import update_settings

	w = make_world()
	w.engine.config = replace(w.engine.config, page_limit=3)
	run = frappe.generate_hash(length=6)
	for i in range(7):
		w.emu.add_contact(addr(f"xofn-{run}-{i}"), list_ids=[w.list_id])

	def build(settings, on_progress=None):
		wiring = runner.Wiring(
			engine=w.engine, client=runner.WatchedClient(w.client, on_progress), budget=DailyBudget()
		)
		w.engine.client = wiring.client
		return wiring

	sent = []
	monkeypatch.setattr(runner, "build", build)
	monkeypatch.setattr(progress, "PROGRESS_EVERY_SECONDS", 0)
	monkeypatch.setattr(
		frappe,
		"publish_realtime",
		lambda event, data, **kw: sent.append(data) if event == PROGRESS_EVENT else None,
	)
	with settings_restored(), w.emu.mocked():
		update_settings({"connection_status": "Connected", "last_error": None}, commit=True)
		runner.run_job("changes", TRIGGER_SHELL)
	sized = [d["progress"] for d in sent if d.get("progress") and not d["done"]]
	assert sized and {p["total"] for p in sized} == {7}
	reads = [p["read"] for p in sized]
	assert reads == sorted(reads) and reads[-1] == 7 and 3 in reads
	assert any(d["message"] == "7 of 7 contacts read" for d in sent)
	assert sent[-1]["done"] and sent[-1]["totals"]["created"] == 7


def test_a_push_reports_x_of_n_leads_sent_and_the_finished_toast_says_so(monkeypatch):
	from cc_sync.cc_sync.settings import update_settings

	w = make_world()
	w.engine.config = replace(w.engine.config, chunk_max_contacts=2)
	run = frappe.generate_hash(length=6)
	for i in range(5):
		w.site.add_lead(addr(f"sent-{run}-{i}"), first_name="Sent")
	w.site.add_lead(addr(f"sent-{run}-out"), first_name="Out", unsubscribed=True)

	def build(settings, on_progress=None):
		wiring = runner.Wiring(
			engine=w.engine, client=runner.WatchedClient(w.client, on_progress), budget=DailyBudget()
		)
		w.engine.client = wiring.client
		return wiring

	sent = []
	monkeypatch.setattr(runner, "build", build)
	monkeypatch.setattr(
		frappe,
		"publish_realtime",
		lambda event, data, **kw: sent.append(data) if event == PROGRESS_EVENT else None,
	)
	with settings_restored(), w.emu.mocked():
		update_settings(
			{"connection_status": "Connected", "last_error": None, "push_doctype": LEAD}, commit=True
		)
		runner.run_job("push", TRIGGER_SHELL)
	pushing = [d for d in sent if not d["done"] and "leads sent" in d["message"]]
	assert [d["message"] for d in pushing] == [f"{n} of 5 leads sent" for n in (0, 2, 4, 5)]
	assert [d["progress"] for d in pushing] == [{"read": n, "total": 5} for n in (0, 2, 4, 5)]
	assert sent[-1]["done"] and sent[-1]["push_message"] == "5 of 5 leads sent"
	assert sent[-1]["totals"]["pushed"] == 5, "sent and read back in one run, each lead counts once"


@pytest.mark.parametrize(
	("values", "optout", "headline", "permission"),
	[
		(
			{"cc_contact_id": "cc-st-w1", "cc_permission": "explicit"},
			None,
			"Subscribed in Constant Contact",
			"Explicit: the person opted in",
		),
		# CC deleted them: said first, and no permission shown beside it.
		(
			{"cc_contact_id": "cc-st-w2", "cc_permission": "explicit", "cc_deleted": 1},
			None,
			"Deleted in Constant Contact: not mailed",
			None,
		),
		(
			{
				"unsubscribed": 1,
				"cc_contact_id": "cc-st-w3",
				"cc_permission": "unsubscribed",
				"cc_opted_out_at": "2026-11-20 08:00:05",
				"cc_optout_cc_clock": 1,
			},
			None,
			"Unsubscribed on 11-20-2026 in Constant Contact",
			"Unsubscribed",
		),
		(
			{"unsubscribed": 1, "cc_contact_id": "cc-st-w4", "cc_permission": "explicit"},
			"2026-11-27 09:30:15",
			"Unsubscribed on 11-27-2026 on this site (waiting to reach Constant Contact)",
			"Explicit: the person opted in",
		),
		(
			{"cc_contact_id": "cc-st-w5", "cc_permission": "temp_hold"},
			None,
			"On hold in Constant Contact (bounces or a review): not mailed while held",
			"On hold: not mailed while held",
		),
		({}, None, "Not in Constant Contact", None),
	],
)
def test_the_form_says_where_the_person_stands_once_in_words_then_the_details(
	mapped, values, optout, headline, permission, monkeypatch
):
	monkeypatch.setattr(
		frappe.utils, "formatdate", lambda value, *a, **k: frappe.utils.getdate(value).strftime("%m-%d-%Y")
	)
	email = f"st-words-{len(values)}-{values.get('cc_contact_id', 'none')}@tier2.test"
	name = contact(email, **values)
	if optout:
		frappe.get_doc(
			{
				"doctype": OPT_OUT,
				"email": email,
				"status": "Pending",
				"opted_out_at": optout,
				"reason": "Unsubscribed on Contact",
			}
		).insert(ignore_permissions=True)
	view = record_status(CONTACT, name)
	assert view["headline"] == headline
	assert view["permission"] == permission


@pytest.mark.parametrize("doctype", [CONTACT, LEAD])
def test_the_stored_fields_stay_behind_the_status_block_and_the_lead_shows_it_on_its_first_tab(doctype):
	if not frappe.db.exists("DocType", doctype):
		pytest.skip(f"no {doctype} DocType on this site")
	fields = frappe.get_meta(doctype).fields
	names = [df.fieldname for df in fields]
	start = names.index("cc_sync_section")
	shown = [
		df.fieldname
		for df in fields[start + 1 :]
		if df.get("is_custom_field") and not df.hidden and df.fieldtype not in ("Column Break",)
	]
	assert shown[0] == "cc_status_html" and not [f for f in shown[1:] if f.startswith("cc_")], shown
	assert not fields[start].collapsible
	tabs = [df.fieldname for df in fields[:start] if df.fieldtype == "Tab Break"]
	if doctype == LEAD:
		assert not tabs, "on the Lead's first tab, not under Additional Information"
