"""Finish Frappe's setup wizard on the demo site, as a person would on first login: the desk opens
on the workspace with onboarding on. Run by `dev/site up` from the bench's sites folder."""

import sys

import frappe

frappe.init(site=sys.argv[1], sites_path=".")
frappe.connect()
settings = frappe.get_single("System Settings")
if not settings.setup_complete:
	settings.update(
		{
			"setup_complete": 1,
			"language": "en",
			"country": "United States",
			"time_zone": "UTC",
			"enable_onboarding": 1,
		}
	)
	settings.save(ignore_permissions=True)
	frappe.db.set_default("desktop:home_page", "workspace")
	from frappe.utils.install import add_standard_navbar_items

	add_standard_navbar_items()
	frappe.db.commit()
# Frappe CRM's own pages (/crm) are not built here (its desk forms need no build): a login would land on
# CRM's app screen, a 404, so the desk opens instead (get_default_path finds no app of that name).
if "crm" in frappe.get_installed_apps() and not frappe.db.get_single_value("System Settings", "default_app"):
	frappe.db.set_single_value("System Settings", "default_app", "frappe")
	frappe.db.commit()
# As the wizard does: the person's own time zone is the site's, so the desk shows times as stored.
system_tz = frappe.db.get_single_value("System Settings", "time_zone")
if system_tz and frappe.db.get_value("User", "Administrator", "time_zone") != system_tz:
	frappe.db.set_value("User", "Administrator", "time_zone", system_tz)
	frappe.db.commit()
# The site was created in Frappe's default time zone (Asia/Kolkata) and then moved to UTC: the scheduled
# jobs written at install carry times hours ahead of the site's clock, and Frappe's scheduler runs a job
# only once its next time after the last run (or, never run, after its creation) has come, so none
# would run for hours. Bring those times back to now; a site that never moved keeps them as they are.
frappe.clear_cache()  # the site's time zone as now stored, not as cached before the move
now = frappe.utils.now_datetime()
for field in ("creation", "modified", "last_execution"):
	frappe.db.sql(
		f"update `tabScheduled Job Type` set `{field}` = %s where `{field}` > %s",
		(now, now),
	)
frappe.db.commit()
frappe.destroy()
