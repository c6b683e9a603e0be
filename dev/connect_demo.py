"""Connect the demo site to the CC emulator as a person would, over HTTP: enter the application's
keys, press Connect and grant access (the OAuth authorization-code flow), refresh the lists, map one
list onto an Email Group, enable the sync and run it once on the site's background worker. Where the
site has Lead (ERPNext, or the testkit's stand-in), it pushes Leads: a few are made before the first
sync (it pushes them) and two after it (waiting for the next push, or for Sync now on the Lead). Where
the site has Frappe CRM (`dev/site up --crm`), CRM Leads are a second push target: a few are pushed by the
first sync and one waits for Sync now on its form. Last, it reads the email engagement of the campaigns
the emulator sent.

Run by `dev/site up` with the bench's Python; reads the site URL, the admin password and the
emulator's client id and secret from the environment.
"""

from __future__ import annotations

import os
import sys
import time

import requests

SITE = os.environ["CC_SYNC_SITE_URL"]
SETTINGS_URL = f"{SITE}/api/resource/Constant Contact Settings/Constant Contact Settings"
GROUP = "CC Newsletter"


def call(session: requests.Session, method: str, **data) -> dict:
	r = session.post(f"{SITE}/api/method/{method}", data=data, timeout=60)
	if not r.ok:
		sys.exit(f"{method} answered {r.status_code}: {r.text[:500]}")
	return r.json().get("message")


# Leads a marketer can push: (first name, last name, organization, source); their addresses are made
# up from the names on a domain of their own. One has opted out on the site, so the push skips it.
LEADS_FIRST = [
	("Ada", "Lovelace", "Analytical Engines", "Advertisement"),
	("Grace", "Hopper", "Cobol Works", "Exhibition"),
	("Alan", "Turing", "Bletchley Labs", "Reference"),
	("Katherine", "Johnson", "Langley Flight", "Cold Calling"),
	("Edsger", "Dijkstra", "Shortest Path BV", "Mass Mailing"),
	("Barbara", "Liskov", "Substitution Inc", "Walk In"),
	("Dennis", "Ritchie", None, "Campaign"),
	("Margaret", "Hamilton", "Apollo Software", "Reference", "unsubscribed"),
]
LEADS_LATER = [
	("Frances", "Allen", "Optimizing Compilers", "Exhibition"),
	("John", "Backus", None, "Advertisement"),
]
LEAD_DOMAIN = "leads.example.org"

# Frappe CRM's leads (first name, last name, organization, job title), on a domain of their own.
CRM_LEADS_FIRST = [
	("Hedy", "Lamarr", "Frequency Hopping Co", "Inventor"),
	("Claude", "Shannon", "Information Theory Ltd", "Researcher"),
	("Radia", "Perlman", "Spanning Tree Networks", "Engineer"),
	("Tim", "Berners-Lee", None, None),
]
CRM_LEADS_LATER = [("Donald", "Knuth", "Literate Programs", "Author")]
CRM_LEAD_DOMAIN = "crm.example.org"


def add_leads(s: requests.Session, leads: list[tuple]) -> int:
	"""Create the leads not yet on the site (found by address), as a person would on the Lead form."""
	added = 0
	for first, last, company, source, *flags in leads:
		email = f"{first}.{last}@{LEAD_DOMAIN}".lower()
		found = s.get(
			f"{SITE}/api/resource/Lead", params={"filters": f'[["email_id","=","{email}"]]'}, timeout=60
		).json()["data"]
		if found:
			continue
		lead = {"first_name": first, "last_name": last, "email_id": email, "source": source}
		if company:
			lead["company_name"] = company
		if "unsubscribed" in flags:
			lead["unsubscribed"] = 1
		s.post(f"{SITE}/api/resource/Lead", json=lead, timeout=60).raise_for_status()
		added += 1
	return added


def add_crm_leads(s: requests.Session, leads: list[tuple]) -> int:
	"""Create the CRM Leads not yet on the site (found by address), as CRM's lead form would."""
	added = 0
	for first, last, organization, job_title in leads:
		email = f"{first}.{last}@{CRM_LEAD_DOMAIN}".lower()
		found = s.get(
			f"{SITE}/api/resource/CRM Lead", params={"filters": f'[["email","=","{email}"]]'}, timeout=60
		).json()["data"]
		if found:
			continue
		lead = {"first_name": first, "last_name": last, "email": email}
		if organization:
			lead["organization"] = organization
		if job_title:
			lead["job_title"] = job_title
		s.post(f"{SITE}/api/resource/CRM Lead", json=lead, timeout=60).raise_for_status()
		added += 1
	return added


def main() -> int:
	s = requests.Session()
	s.post(
		f"{SITE}/api/method/login",
		data={"usr": "Administrator", "pwd": os.environ["CC_SYNC_ADMIN_PASSWORD"]},
		timeout=60,
	).raise_for_status()

	s.put(
		SETTINGS_URL,
		json={
			"client_id": os.environ["CC_SYNC_CLIENT_ID"],
			"client_secret": os.environ["CC_SYNC_CLIENT_SECRET"],
		},
		timeout=60,
	).raise_for_status()
	print("keys entered")

	# Connect: the site hands out CC's authorize URL with a one-time state; CC (here the emulator)
	# signs the person in and sends the browser back to the site's callback with a code.
	url = call(s, "cc_sync.cc_sync.oauth.connect")["url"]
	granted = s.get(url, allow_redirects=False, timeout=60)
	if granted.status_code != 302:
		sys.exit(f"the authorize page answered {granted.status_code}: {granted.text[:300]}")
	back = s.get(granted.headers["Location"], allow_redirects=False, timeout=60)
	if back.status_code not in (302, 303) or "constant-contact-settings" not in back.headers.get(
		"Location", ""
	):
		sys.exit(f"the OAuth callback answered {back.status_code}: {back.text[:300]}")
	settings = s.get(SETTINGS_URL, timeout=60).json()["data"]
	print(f"connection: {settings.get('connection_status')} ({settings.get('connected_account') or '-'})")
	if settings.get("connection_status") != "Connected":
		sys.exit("not connected")

	lists = call(s, "cc_sync.cc_sync.api.refresh_lists")
	print(f"lists refreshed: {lists}")
	rows = s.get(
		f"{SITE}/api/resource/Constant Contact List",
		params={
			"filters": '[["deleted","=",0]]',
			"fields": '["name","list_name"]',
			"order_by": "list_name asc",
		},
		timeout=60,
	).json()["data"]
	if not rows:
		sys.exit("the emulator's account has no lists")
	if not s.get(f"{SITE}/api/resource/Email Group/{GROUP}", timeout=60).ok:
		s.post(f"{SITE}/api/resource/Email Group", json={"title": GROUP}, timeout=60).raise_for_status()
	mapping = {"cc_list": rows[0]["name"], "email_group": GROUP, "direction": "both", "enabled": 1}
	values = {"list_mappings": [mapping], "enabled": 1}
	has_lead = s.get(f"{SITE}/api/resource/DocType/Lead", timeout=60).ok
	if has_lead:
		values["push_doctype"] = "Lead"
	has_crm = s.get(f"{SITE}/api/resource/DocType/CRM Lead", timeout=60).ok
	if has_crm:
		# Frappe CRM's leads as a second push target, to the same lists.
		values["push_targets"] = [{"push_doctype": "CRM Lead", "enabled": 1}]
	s.put(SETTINGS_URL, json=values, timeout=60).raise_for_status()
	print(f"mapped CC list {rows[0]['list_name']!r} onto Email Group {GROUP!r}; sync enabled")
	if has_lead:
		print(f"leads to push: {add_leads(s, LEADS_FIRST)} new (the first sync pushes them)")
	if has_crm:
		print(f"CRM Leads to push: {add_crm_leads(s, CRM_LEADS_FIRST)} new (the first sync pushes them)")

	def settings_button_logs() -> list[dict]:
		return s.get(
			f"{SITE}/api/resource/Constant Contact Sync Log",
			params={
				"fields": '["*"]',
				"filters": '[["trigger","=","Settings button"]]',
				"order_by": "creation desc",
				"limit_page_length": 20,
			},
			timeout=60,
		).json()["data"]

	# The run this queues is the Settings-button log that was not there before (another run, such as the
	# opt-out a new unsubscribed Lead sends, leaves a log of its own and is not it).
	before = {log["name"] for log in settings_button_logs()}
	queued = call(s, "cc_sync.cc_sync.api.sync_now", stream="all")
	print(f"first sync queued on the worker: {queued}")
	deadline = time.monotonic() + 600
	while time.monotonic() < deadline:
		time.sleep(2)
		logs = [log for log in settings_button_logs() if log["name"] not in before]
		if logs and all(log.get("status") != "Running" for log in logs):
			for log in reversed(logs):
				print(
					f"  {log.get('stream', '?'):<12} {log.get('status', '?'):<8} fetched {log.get('fetched', 0)}, "
					f"created {log.get('created', 0)}, unsubscribed {log.get('unsubscribed', 0)}, "
					f"pushed {log.get('pushed', 0)}, API calls {log.get('api_calls', 0)}"
				)
			contacts = s.get(
				f"{SITE}/api/method/frappe.client.get_count", params={"doctype": "Contact"}, timeout=60
			).json()["message"]
			print(f"contacts on the site: {contacts}")
			if has_lead:
				added = add_leads(s, LEADS_LATER)
				print(f"leads waiting for the next push (try Sync now on one): {added} new")
			if has_crm:
				added = add_crm_leads(s, CRM_LEADS_LATER)
				print(f"CRM Leads waiting for the next push (try Sync now on it): {added} new")
			if has_crm:
				pushed = s.get(
					f"{SITE}/api/resource/CRM Lead",
					params={"filters": '[["cc_push_status","=","Pushed"]]', "limit_page_length": 100},
					timeout=60,
				).json()["data"]
				print(f"CRM Leads pushed to CC: {len(pushed)}")
			return read_engagement(s, settings_button_logs)
	sys.exit("the first sync did not finish within 10 minutes: is the worker running? (logs/worker.log)")


def read_engagement(s: requests.Session, logs_of_button) -> int:
	"""Read the campaigns the emulator sent (opens, clicks, bounces, opt-outs) once, as Sync now would."""
	before = {log["name"] for log in logs_of_button()}
	call(s, "cc_sync.cc_sync.api.sync_now", stream="engagement")
	deadline = time.monotonic() + 300
	while time.monotonic() < deadline:
		time.sleep(2)
		logs = [log for log in logs_of_button() if log["name"] not in before]
		if logs and all(log.get("status") != "Running" for log in logs):
			log = logs[0]
			campaigns = s.get(
				f"{SITE}/api/method/frappe.client.get_count",
				params={"doctype": "Constant Contact Campaign"},
				timeout=60,
			).json()["message"]
			print(
				f"email engagement: {log.get('status')}, {log.get('created', 0)} events from {campaigns} "
				f"campaigns, API calls {log.get('api_calls', 0)}"
			)
			return 0
	sys.exit("the engagement run did not finish within 5 minutes: is the worker running?")


if __name__ == "__main__":
	sys.exit(main())
