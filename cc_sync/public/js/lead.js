// "Sync now" on the Lead form (the button and the result dialog live in record_sync.bundle.js).

frappe.ui.form.on("Lead", {
	refresh(frm) {
		cc_sync.add_record_sync_button(frm);
	},
});
