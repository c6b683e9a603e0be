"""cc_sync_testkit as a Frappe app: a stand-in for ERPNext's Lead on sites without ERPNext.

`dev/site` installs it on its sites when ERPNext is absent, so the Lead form, list and push behave as
on an ERPNext site: a standard (not custom) Lead DocType, for which Frappe loads cc_sync's
`doctype_js` form script. It is never part of what a site installs from the app's wheel.
"""

app_name = "cc_sync_testkit"
app_title = "CC Sync Testkit"
app_publisher = "cc_sync contributors"
app_description = "Test apparatus for cc_sync: a stand-in for ERPNext v15's Lead where ERPNext is absent"
app_email = "cc-sync@example.com"
app_license = "mit"

before_install = "cc_sync_testkit.site_install.before_install"
after_install = "cc_sync_testkit.site_install.after_install"
after_migrate = "cc_sync_testkit.site_install.after_install"
