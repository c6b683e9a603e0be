from cc_sync.cc_sync.targets import TARGETS

app_name = "cc_sync"
app_title = "CC Sync"
app_publisher = "cc_sync contributors"
app_description = "Keeps an ERPNext or Frappe site in step with a Constant Contact account"
app_email = "cc-sync@example.com"
app_license = "mit"

# Generate the typed `DF` blocks in DocType controllers.
export_python_type_annotations = True

# Custom fields and indexes on Contact (and Lead with ERPNext), kept in place on every migrate.
after_install = "cc_sync.cc_sync.install.after_install"
after_migrate = "cc_sync.cc_sync.install.after_migrate"
before_uninstall = "cc_sync.cc_sync.install.before_uninstall"
# ERPNext installed after cc_sync: Lead gets its fields at once.
after_app_install = "cc_sync.cc_sync.install.after_app_install"

# One cheap gate; each stream's own interval (in the settings) decides whether it is due.
scheduler_events = {
	"cron": {
		"*/5 * * * *": ["cc_sync.tasks.enqueue_due_streams"],
	},
}

# Local opt-outs reach CC; new and edited leads wait for the next push. None of these calls CC.
# Contacts and unsubscribe links always; each push target's own events come from its adapter
# (cc_sync/cc_sync/targets/: Lead, CRM Lead, Email Group Member).
doc_events = {
	"Contact": {
		"on_update": "cc_sync.cc_sync.doc_events.contact_on_update",
		"on_trash": "cc_sync.cc_sync.doc_events.contact_on_trash",
	},
	"Email Unsubscribe": {"after_insert": "cc_sync.cc_sync.doc_events.email_unsubscribe_after_insert"},
	**{target.doctype: dict(target.doc_events) for target in TARGETS.values() if target.doc_events},
}

# "Sync now" under a "Constant Contact" group on the Contact and Lead forms.
# The stream table, for the desk's scripts (frappe.boot.cc_sync).
boot_session = "cc_sync.cc_sync.boot.boot_session"
# The desk sidebar, with the Constant Contact workspace first for a marketer (Frappe's own for others).
override_whitelisted_methods = {
	"frappe.desk.desktop.get_workspace_sidebar_items": "cc_sync.cc_sync.boot.workspace_sidebar_items",
}

app_include_js = [
	"record_sync.bundle.js",
	"engagement.bundle.js",
	"guided_setup.bundle.js",
	"settings_access.bundle.js",
]
doctype_js = {
	"Contact": "public/js/contact.js",
	**{target.doctype: target.form_script for target in TARGETS.values() if target.form_script},
}
doctype_list_js = {
	"Contact": "public/js/contact_list.js",
	"Lead": "public/js/lead_list.js",
}

# Log Settings clears successful sync logs after 30 days (failed ones after 90).
default_log_clearing_doctypes = {
	"Constant Contact Sync Log": 30,
}
