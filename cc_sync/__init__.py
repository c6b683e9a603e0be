"""cc_sync: keeps a Frappe/ERPNext site in step with a Constant Contact account."""

__version__ = "0.1.0"
