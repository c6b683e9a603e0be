app_name = "cc_sync"
app_title = "CC Sync"
app_publisher = "cc_sync contributors"
app_description = "Keeps an ERPNext or Frappe site in step with a Constant Contact account"
app_email = "cc-sync@example.com"
app_license = "mit"

required_apps = ["frappe"]

# Generate the typed `DF` blocks in DocType controllers.
export_python_type_annotations = True
