// A sync log: what ran and what changed, the dry run's table with a CSV download, and the technical
// details (traceback, run id, activity ids) folded away under their own heading.

frappe.ui.form.on("Constant Contact Sync Log", {
	refresh(frm) {
		frm.disable_save();
		if (frm.doc.dry_run) {
			frm.set_intro(
				__("Dry run: nothing was written on the site or in Constant Contact. The table below shows what a real run would change."),
				"blue"
			);
			if ((frm.doc.plan_rows || []).length) {
				frm.add_custom_button(__("Download as CSV"), () => {
					window.open(
						"/api/method/cc_sync.cc_sync.doctype.constant_contact_sync_log.constant_contact_sync_log.download_plan?name=" +
							encodeURIComponent(frm.doc.name)
					);
				});
			}
		} else if (frm.doc.quiet && frm.doc.runs > 1) {
			frm.set_intro(
				__("{0} scheduled runs between {1} and {2} found nothing to change; they share this log.", [
					frm.doc.runs,
					frappe.datetime.str_to_user(frm.doc.started),
					frappe.datetime.str_to_user(frm.doc.ended),
				]),
				"green"
			);
		} else if (frm.doc.status === "Failed" || frm.doc.status === "Partial") {
			frm.set_intro(
				__("Part of this run did not finish. Nothing was lost: the next run picks up where this one stopped. See What went wrong below."),
				frm.doc.status === "Failed" ? "red" : "orange"
			);
		}
	},
});
