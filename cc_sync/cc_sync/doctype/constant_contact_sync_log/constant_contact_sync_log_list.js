// The sync log list: one row per run, saying what ran, who started it, what changed and how long it took.
// Titles and summaries are rebuilt here from the stored counts so they show in the user's language.


frappe.provide("cc_sync");

cc_sync.log_title = function (doc) {
	let what = __(doc.stream || "All streams");
	if (doc.reference) {
		what = __("Sync now: {0}", [doc.reference]);
	}
	if (doc.quiet && doc.runs > 1) {
		what = __("{0} scheduled runs, no changes", [doc.runs]);
	}
	return doc.dry_run ? __("Dry run: {0}", [what]) : what;
};

cc_sync.log_summary = function (doc) {
	if (["Queued", "Running"].includes(doc.status)) {
		return __("Running");
	}
	const moved = cc_sync.count_phrases(doc);
	if (moved.length) {
		return moved.join(", ");
	}
	if (doc.status === "Failed") {
		return __("Nothing changed");
	}
	return doc.fetched
		? __("No changes ({0} read)", [format_number(doc.fetched, null, 0)])
		: __("No changes");
};

frappe.listview_settings["Constant Contact Sync Log"] = {
	add_fields: [
		"status",
		"stream",
		"dry_run",
		"reference",
		"quiet",
		"runs",
		// Every count of the stream table (cc_sync.tables, from the server).
		...cc_sync.tables().counts.map((c) => c.name),
	],
	has_indicator_for_draft: true,
	hide_name_column: true,
	get_indicator(doc) {
		const colours = {
			Queued: "gray",
			Running: "blue",
			Success: "green",
			Partial: "orange",
			Failed: "red",
			Skipped: "gray",
		};
		return [__(doc.status), colours[doc.status] || "gray", `status,=,${doc.status}`];
	},
	formatters: {
		title(value, df, doc) {
			return frappe.utils.escape_html(cc_sync.log_title(doc));
		},
		summary(value, df, doc) {
			return frappe.utils.escape_html(cc_sync.log_summary(doc));
		},
	},
};
