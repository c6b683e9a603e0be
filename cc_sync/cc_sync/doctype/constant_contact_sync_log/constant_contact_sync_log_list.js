// Status colours for the sync log list: failures stand out, quiet successes do not.
frappe.listview_settings["Constant Contact Sync Log"] = {
	add_fields: ["status", "dry_run", "failed", "skipped"],
	has_indicator_for_draft: true,
	get_indicator(doc) {
		const colours = {
			Queued: "gray",
			Running: "blue",
			Success: "green",
			Partial: "orange",
			Failed: "red",
			Skipped: "gray",
		};
		let label = __(doc.status);
		if (doc.dry_run) {
			label = __("{0} (dry run)", [label]);
		}
		return [label, colours[doc.status] || "gray", `status,=,${doc.status}`];
	},
};
