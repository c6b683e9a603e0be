"""The sync engine: decides what moves between Constant Contact and the site. Never imports frappe."""
