// Frappe's router knows a DocType's desk route only when the user may read it (frappe.boot.user.can_read),
// so for anyone else /app/constant-contact-settings falls through to the Page lookup and answers "Page not
// found". Frappe looks up its standard pages first: for that route, say plainly that the settings are not
// theirs to open. Users who may read the settings never reach this page (the DocType route wins).

frappe.provide("frappe.standard_pages");

frappe.standard_pages["constant-contact-settings"] = function () {
	frappe.show_message_page({
		page_name: "constant-contact-settings",
		message:
			__("You are not permitted to open the Constant Contact settings: ask a System Manager.") +
			"<br>" +
			__("How the sync is doing is on the {0} workspace.", [
				`<a href="/app/constant-contact">${__("Constant Contact")}</a>`,
			]),
		img: "/assets/frappe/images/ui/bubble-tea-sorry.svg",
	});
};
