"""Frappe CRM's CRM Lead as a push target, on a site where Frappe CRM is installed (dev/site installs the
vendored CRM on the test site, beside the stand-in ERPNext Lead).

CRM Lead holds its address in `email`, its name in `first_name`/`last_name` (and `lead_name`, which CRM
composes with the salutation), its organisation in `organization` and its status as a Link to CRM Lead
Status. It has no opt-out of its own: consent lives on Frappe's Contact and in Email Unsubscribe. CRM
overrides the Contact class and hooks Contact's validate; `convert_to_deal` turns a lead into a CRM Deal
holding a Contact of the lead's address (an existing one, or one it makes).
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

import frappe

from cc_sync.cc_sync import api, runner, targets
from cc_sync.cc_sync.constants import CONTACT, LEAD, SETTINGS
from cc_sync.cc_sync.settings import push_targets
from cc_sync.constant_contact.ratelimit import DailyBudget
from tests.integration.app_helpers import save_settings, settings_restored
from tests.integration.test_frappe_scenarios import GROUP, addr, one_contact
from tests.world import make_world as build_world

CRM_LEAD = "CRM Lead"
CRM_DEAL = "CRM Deal"


@pytest.fixture(autouse=True)
def crm_installed():
	if not frappe.db.exists("DocType", CRM_LEAD):
		pytest.skip("Frappe CRM is not installed on this site (dev/site installs it on the test site)")


def _world(push_targets_=((CRM_LEAD, None),)):
	from tests.integration.frappe_site import FrappeSite, make_store

	site = FrappeSite()
	site.make_group(GROUP)
	return build_world(
		datetime.now(timezone.utc).replace(microsecond=0),
		store=make_store(push_targets=list(push_targets_)),
		group=GROUP,
		static_token=True,
		site=site,
		strict=True,
	)


def add_crm_lead(email: str, first_name: str = "Crm", **fields) -> str:
	"""A lead as CRM's own form or API makes it (its controller composes lead_name and title)."""
	doc = frappe.get_doc({"doctype": CRM_LEAD, "first_name": first_name, "email": email, **fields})
	doc.insert(ignore_permissions=True)
	frappe.db.commit()
	return doc.name


def unsubscribe_link_followed(email: str, name: str) -> None:
	"""An email sent from the lead, whose unsubscribe link was followed: an Email Unsubscribe of it."""
	frappe.get_doc(
		{
			"doctype": "Email Unsubscribe",
			"email": email,
			"reference_doctype": CRM_LEAD,
			"reference_name": name,
		}
	).insert(ignore_permissions=True)
	frappe.db.commit()


def crm_lead(name: str):
	return frappe.get_doc(CRM_LEAD, name)


def _permission(w, email: str) -> str | None:
	found = w.emu.find_by_email(email)
	return found["email_address"]["permission_to_send"] if found else None


def test_a_new_crm_lead_reaches_cc_on_the_mapped_lists_through_the_bulk_import():
	w = _world()
	email = addr("crm-new")
	if not frappe.db.exists("Salutation", "Ms"):
		frappe.get_doc({"doctype": "Salutation", "salutation": "Ms"}).insert(ignore_permissions=True)
	name = add_crm_lead(
		email,
		first_name="Ada",
		last_name="Lovelace",
		salutation="Ms",
		organization="Analytical Engines",
		job_title="Engineer",
	)
	assert crm_lead(name).cc_push_status == "Pending"
	with w.emu.mocked():
		report = w.run()
		w.clock.advance(900)
		again = w.run()
	in_cc = w.emu.find_by_email(email)
	assert in_cc is not None and w.list_id in in_cc["list_memberships"]
	# Names as the person has them, not CRM's composed lead_name ("Ms Ada Lovelace").
	assert (in_cc.get("first_name"), in_cc.get("last_name")) == ("Ada", "Lovelace")
	assert in_cc.get("company_name") == "Analytical Engines"
	assert in_cc.get("job_title") == "Engineer"
	assert report.streams["push"].pushed == 1 and again.streams["push"].pushed == 0
	assert len(w.emu.imported_rows(email)) == 1
	lead = crm_lead(name)
	assert lead.cc_push_status == "Pushed" and lead.cc_contact_id == in_cc["contact_id"]


@pytest.mark.parametrize("how", ["contact unsubscribed", "email unsubscribe", "unsubscribe of the lead"])
def test_a_crm_lead_whose_address_opted_out_on_the_site_is_never_pushed(how):
	w = _world()
	email = addr(f"crm-out-{how.split()[0]}")
	if how == "contact unsubscribed":
		contact = w.site.add_contact(email, first_name="Opted")
		w.site.unsubscribe_in_desk(contact)
	elif how == "email unsubscribe":
		w.site.email_unsubscribe(email)
	name = add_crm_lead(email, first_name="Opted")
	if how == "unsubscribe of the lead":
		unsubscribe_link_followed(email, name)
	with w.emu.mocked():
		w.run()
		w.clock.advance(900)
		w.run()
	assert len(w.emu.imported_rows(email)) == 0
	in_cc = w.emu.find_by_email(email)
	assert in_cc is None or w.list_id not in in_cc["list_memberships"]
	assert _permission(w, email) in (None, "unsubscribed")
	assert crm_lead(name).cc_push_status != "Pushed"


def test_a_pushed_crm_leads_opt_out_reaches_cc():
	"""The lead is pushed; then the person follows the unsubscribe link of an email sent from it."""
	w = _world()
	email = addr("crm-later-out")
	name = add_crm_lead(email, first_name="Later")
	with w.emu.mocked():
		w.run()
		assert _permission(w, email) == "implicit"
		unsubscribe_link_followed(email, name)
		w.clock.advance(900)
		w.run()
	assert _permission(w, email) == "unsubscribed"
	# Edited afterwards, it is still never pushed back in.
	doc = crm_lead(name)
	doc.job_title = "Changed"
	doc.save(ignore_permissions=True)
	frappe.db.commit()
	with w.emu.mocked():
		w.clock.advance(900)
		w.run()
	assert _permission(w, email) == "unsubscribed"


@pytest.fixture
def sync_now(monkeypatch):
	"""`api.sync_record` against an in-process emulator, the store pushing CRM Leads."""
	w = _world()
	wiring = runner.Wiring(engine=w.engine, client=runner.WatchedClient(w.client), budget=DailyBudget())
	w.engine.client = wiring.client
	monkeypatch.setattr(api, "build", lambda *a, **k: wiring)
	frappe.cache.delete_keys("cc_sync:sync_now:")
	with settings_restored(), w.emu.mocked():
		yield w
	frappe.cache.delete_keys("cc_sync:sync_now:")


def test_sync_now_on_a_crm_lead_pushes_it_and_shows_where_it_stands(sync_now):
	w = sync_now
	email = addr("crm-now")
	name = add_crm_lead(email, first_name="Now", last_name="Pushed")
	answer = api.sync_record(CRM_LEAD, name)
	assert answer["email"] == email
	assert answer["cc"]["state"] == "subscribed"
	assert not answer["errors"]
	in_cc = w.emu.find_by_email(email)
	assert in_cc is not None and w.list_id in in_cc["list_memberships"]
	assert answer["site"]["cc_push_status"] == "Pushed"
	lead = crm_lead(name)
	assert lead.cc_contact_id == in_cc["contact_id"]
	# The form's status block reads the lead's own address field.
	from cc_sync.cc_sync.record_status import record_status

	status = record_status(CRM_LEAD, name)
	assert status["cc_contact_id"] == in_cc["contact_id"]


def test_a_crm_lead_converted_to_a_deal_keeps_its_cc_link_through_the_deals_contact():
	from crm.fcrm.doctype.crm_lead.crm_lead import convert_to_deal

	w = _world()
	email = addr("crm-deal")
	name = add_crm_lead(email, first_name="Deal", last_name="Maker", organization="Deal Works")
	with w.emu.mocked():
		w.run()
	cc_id = w.emu.find_by_email(email)["contact_id"]
	assert crm_lead(name).cc_contact_id == cc_id
	deal = frappe.get_doc(CRM_DEAL, convert_to_deal(name))
	frappe.db.commit()
	contact = frappe.get_doc(CONTACT, deal.contacts[0].contact)
	assert contact.email_id == email
	assert contact.cc_contact_id == cc_id
	assert not contact.unsubscribed
	# The next runs find that Contact as the person: no second Contact, nothing pushed again.
	with w.emu.mocked():
		w.clock.advance(900)
		again = w.run()
	assert one_contact(w, email).name == contact.name
	assert one_contact(w, email).cc_contact_id == cc_id
	assert again.streams["push"].pushed == 0 and len(w.emu.imported_rows(email)) == 1
	lead = crm_lead(name)
	assert lead.converted and lead.cc_contact_id == cc_id


def test_the_settings_offer_crm_lead_and_take_it_beside_the_lead(settings_kept):
	assert CRM_LEAD in targets.available()
	doc = frappe.get_doc(SETTINGS)
	doc.run_method("onload")
	assert CRM_LEAD in doc.get_onload().get("cc_push_targets")

	def edit(doc):
		doc.push_doctype = LEAD
		doc.push_filters = ""
		doc.set("push_targets", [])
		doc.append("push_targets", {"push_doctype": CRM_LEAD, "push_filters": '{"status": "New"}'})

	saved = save_settings(edit)
	assert push_targets(saved) == [(LEAD, [], None), (CRM_LEAD, [[CRM_LEAD, "status", "=", "New"]], None)]


def test_the_crm_lead_form_has_the_constant_contact_fields_on_its_first_tab():
	meta = frappe.get_meta(CRM_LEAD)
	names = [df.fieldname for df in meta.fields]
	for field in ("cc_contact_id", "cc_push_status", "cc_pushed_at", "cc_push_error"):
		assert field in names
	first_tab_end = next((i for i, df in enumerate(meta.fields) if df.fieldtype == "Tab Break" and i), None)
	if first_tab_end is not None:
		assert names.index("cc_contact_id") < first_tab_end


def test_leads_and_crm_leads_push_in_one_run_each_by_its_own_filters():
	"""A site with ERPNext's Lead and Frappe CRM's: both targets, CRM Leads of one status only."""
	w = _world([(LEAD, None), (CRM_LEAD, [[CRM_LEAD, "status", "=", "New"]])])
	lead_email, new_email, junk_email = addr("both-lead"), addr("both-crm-new"), addr("both-crm-junk")
	w.site.add_lead(lead_email, first_name="Erp")
	add_crm_lead(new_email, first_name="Fresh")
	add_crm_lead(junk_email, first_name="Junk", status="Junk")
	with w.emu.mocked():
		w.run()
	assert w.list_id in w.emu.find_by_email(lead_email)["list_memberships"]
	assert w.list_id in w.emu.find_by_email(new_email)["list_memberships"]
	assert w.emu.find_by_email(junk_email) is None


def test_a_crm_lead_skipped_for_a_cc_opt_out_is_a_candidate_again_once_the_person_opts_in_again():
	"""As a Lead: the CRM Lead of an address CC opted out says why it is not pushed, and comes back as a
	candidate (Pending) when the person opts in again in CC, instead of staying Skipped for good."""
	w = _world()
	email = addr("crm-stop")
	name = add_crm_lead(email, first_name="Stop")
	with w.emu.mocked():
		w.run()
		w.emu.complete_activities()
		assert crm_lead(name).cc_push_status == "Pushed"
		cc_id = w.emu.find_by_email(email)["contact_id"]
		w.clock.advance(60)
		w.emu.unsubscribe(cc_id)
		w.clock.advance(60)
		w.run()
		lead = crm_lead(name)
		assert lead.cc_push_status == "Skipped" and lead.cc_push_error
		w.clock.advance(60)
		w.emu.opt_in(cc_id)
		w.clock.advance(60)
		w.run("reconcile")
	lead = crm_lead(name)
	assert lead.cc_push_status == "Pending", (lead.cc_push_status, lead.cc_push_error)


def test_a_new_crm_leads_timeline_shows_no_change_its_creator_did_not_make():
	"""Marking a new lead for the next push is bookkeeping: no "You changed Annual Revenue from 0 to
	null" (the row as stored read back against the form's values) on the lead's timeline."""
	name = add_crm_lead(addr("crm-timeline"), first_name="Quiet")
	versions = frappe.get_all("Version", filters={"ref_doctype": CRM_LEAD, "docname": name}, pluck="data")
	changed = [frappe.parse_json(v).get("changed") for v in versions]
	assert not any(changed), changed
	assert crm_lead(name).cc_push_status == "Pending"
