// "Sync now" and the Constant Contact status block on the form (both live in record_sync.bundle.js), and
// the email engagement timeline (engagement.bundle.js).

frappe.ui.form.on("Contact", {
	refresh(frm) {
		cc_sync.add_record_sync_button(frm);
		cc_sync.show_record_status(frm);
		cc_sync.show_engagement(frm);
	},
});
