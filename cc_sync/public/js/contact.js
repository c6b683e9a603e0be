// "Sync now" on the Contact form (the button and the result dialog live in record_sync.bundle.js).

frappe.ui.form.on("Contact", {
	refresh(frm) {
		cc_sync.add_record_sync_button(frm);
	},
});
