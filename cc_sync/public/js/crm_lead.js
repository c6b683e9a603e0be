// "Sync now" and the Constant Contact status block on the CRM Lead form (both live in record_sync.bundle.js).

frappe.ui.form.on("CRM Lead", {
	refresh(frm) {
		cc_sync.add_record_sync_button(frm);
		cc_sync.show_record_status(frm);
	},
});
