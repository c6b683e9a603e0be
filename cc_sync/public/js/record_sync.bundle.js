// "Sync now" on the Contact, Lead and CRM Lead forms: sync one person with Constant Contact and show CC's view
// of them. Loaded on every desk page; the form scripts only add the button.

frappe.provide("cc_sync");

cc_sync.add_record_sync_button = function (frm) {
	// A Contact's and a Lead's address is email_id; a CRM Lead's is email.
	const email = frm.doc.email_id || frm.doc.email;
	if (frm.is_new() || !email || !frm.perm[0] || !frm.perm[0].write) {
		return;
	}
	frm.add_custom_button(
		__("Sync now"),
		() => {
			frappe.call({
				method: "cc_sync.cc_sync.api.sync_record",
				args: { doctype: frm.doctype, name: frm.docname },
				freeze: true,
				freeze_message: __("Syncing with Constant Contact..."),
				callback: (r) => {
					cc_sync.show_record_result(r.message);
					frm.reload_doc();
				},
			});
		},
		__("Constant Contact")
	);
};

cc_sync.RUN_STATUSES = {
	success: __("Success"),
	partial: __("Partial"),
	failed: __("Failed"),
	skipped: __("Skipped"),
};
// The stream table as the server declares it (cc_sync/sync/streams.py, handed over at login by
// cc_sync.cc_sync.boot): the jobs with their settings fields, the streams' labels, the counts' phrases.
cc_sync.tables = function () {
	return frappe.boot.cc_sync || { jobs: [], streams: {}, counts: [] };
};

// "280 created, 4 skipped": the counts that are set, in the table's order; `read` adds "N read from CC".
cc_sync.count_phrases = function (values, { read = false } = {}) {
	return cc_sync
		.tables()
		.counts.filter((c) => (c.change || (read && c.name === "fetched")) && values[c.name])
		.map((c) => __(c.phrase, [format_number(values[c.name], null, 0)]));
};

// Date and time in the user's format and time zone, for the ISO values the answer carries: CC's carry
// their zone, the site's are in the system time zone (Frappe's str_to_user shows an ISO value's date only).
cc_sync.date_and_time = function (value) {
	if (!value) {
		return "-";
	}
	const zoned = /([zZ]|[+-]\d\d:?\d\d)$/.test(value);
	const at = zoned ? moment(value) : moment.tz(value.replace("T", " "), frappe.boot.time_zone.system);
	const format = frappe.datetime.get_user_date_fmt().toUpperCase() + " " + frappe.datetime.get_user_time_fmt();
	return frappe.utils.escape_html(at.tz(frappe.boot.time_zone.user).format(format));
};

cc_sync.show_record_result = function (res) {
	const states = {
		subscribed: ["green", __("Subscribed in Constant Contact")],
		unsubscribed: ["red", __("Unsubscribed in Constant Contact")],
		deleted: ["gray", __("Deleted in Constant Contact")],
		"not in CC": ["orange", __("Not in Constant Contact")],
		"pending confirmation": [
			"orange",
			__("Waiting for the person to confirm in Constant Contact: not mailed yet"),
		],
		"not set": ["orange", __("No permission to send in Constant Contact: not mailed")],
		"on hold": ["orange", __("On hold in Constant Contact: not mailed while held")],
		"SMS only": ["gray", __("SMS only in Constant Contact: no email address there")],
		unreadable: [
			"red",
			__("Constant Contact sent this contact in a shape that cannot be read"),
		],
		unknown: [
			"gray",
			__("Unknown permission to send in Constant Contact: not counted as subscribed"),
		],
	};
	const [colour, label] = states[res.cc.state] || ["gray", res.cc.state];
	const esc = frappe.utils.escape_html;
	const rows = [
		[__("Email"), esc(res.email)],
		// In words, as the forms say it ("Explicit: the person opted in"); the server words it.
		[__("Permission to send"), esc(res.cc.permission || "-")],
		[__("Opted out in CC"), cc_sync.date_and_time(res.cc.opt_out_date)],
		[__("Updated in CC"), cc_sync.date_and_time(res.cc.updated_at)],
		[__("Unsubscribed here"), res.site.unsubscribed ? __("Yes") : __("No")],
		[__("Last synced"), cc_sync.date_and_time(res.site.last_synced)],
	];
	if (res.site.cc_push_status) {
		rows.push([__("Push status"), esc(res.site.cc_push_status)]);
	}
	// What this sync did, in words.
	const totals = cc_sync.count_phrases(res.totals, { read: true }).join(", ");
	const notes = [...res.errors, ...res.notes].map((n) => `<li>${esc(n)}</li>`).join("");
	const logs = res.logs
		.map((name) => `<a href="/app/constant-contact-sync-log/${name}">${name}</a>`)
		.join(", ");
	frappe.msgprint({
		title: __("Constant Contact"),
		indicator: colour,
		message: `
			<p><span class="indicator ${colour}">${label}</span></p>
			<table class="table table-bordered table-condensed">
				${rows.map(([k, v]) => `<tr><td>${k}</td><td>${v}</td></tr>`).join("")}
			</table>
			<p>${__("This sync")}: ${esc(cc_sync.RUN_STATUSES[res.status] || res.status)}${
				totals ? " (" + totals + ")" : ""
			}</p>
			${notes ? `<ul>${notes}</ul>` : ""}
			<p class="text-muted">${__("Log")}: ${logs}</p>`,
	});
};

// The "Constant Contact" block on the Contact and Lead forms: status, permission, opt-out, lists and
// last sync, as the last sync stored them (record_status.py; opening a form spends no API call).
cc_sync.STORED_STATES = {
	subscribed: ["green", __("Subscribed")],
	unsubscribed: ["red", __("Unsubscribed")],
	deleted: ["gray", __("Deleted in Constant Contact")],
	"not in CC": ["orange", __("Not in Constant Contact")],
	"pending confirmation": ["orange", __("Pending confirmation")],
	"not set": ["orange", __("No permission to send")],
	"on hold": ["orange", __("On hold (temp_hold)")],
	unknown: ["gray", __("Unknown permission to send")],
};

cc_sync.show_record_status = function (frm) {
	const field = frm.get_field("cc_status_html");
	if (frm.is_new() || !field) {
		return;
	}
	frappe.call({
		method: "cc_sync.cc_sync.record_status.record_status",
		args: { doctype: frm.doctype, name: frm.docname },
		callback: (r) => {
			if (r.message && frm.get_field("cc_status_html")) {
				cc_sync.render_record_status(frm, r.message);
			}
		},
	});
};

cc_sync.render_record_status = function (frm, s) {
	const esc = frappe.utils.escape_html;
	const when = (v) => (v ? esc(frappe.datetime.str_to_user(v)) : "-");
	// The server says where the person stands, once, in words (record_status.py); the details follow.
	const [, label] = cc_sync.STORED_STATES[s.state] || ["gray", s.state];
	const colour = s.colour || "gray";
	const lists = (s.lists || [])
		.map(
			(l) =>
				`${esc(l.list_name)}` +
				(l.unsubscribed ? ` <span class="text-muted">(${__("unsubscribed")})</span>` : "")
		)
		.join(", ");
	const rows = [];
	if (s.permission) {
		rows.push([__("Permission to send"), esc(s.permission)]);
	}
	rows.push([__("Lists"), lists || "-"]);
	rows.push([__("Last synced"), when(s.last_synced)]);
	if (frm.doctype !== "Contact") {
		rows.push([__("Push status"), s.push_status ? esc(__(s.push_status)) : "-"]);
		if (s.push_error) {
			rows.push([__("Push error"), esc(s.push_error)]);
		}
		if (s.contact) {
			rows.push([
				__("Contact"),
				`<a href="/app/contact/${encodeURIComponent(s.contact)}">${esc(s.contact_name || s.contact)}</a>`,
			]);
		}
	}
	if (s.cc_contact_id) {
		rows.push([__("CC contact id"), `<span class="text-muted">${esc(s.cc_contact_id)}</span>`]);
	}
	frm.get_field("cc_status_html").$wrapper.html(`
		<div class="cc-record-status">
			<p><span class="indicator ${colour}"><b>${esc(s.headline)}</b></span></p>
			<table class="table table-condensed" style="margin-bottom: 0">
				${rows.map(([k, v]) => `<tr><td class="text-muted" style="width: 40%">${k}</td><td>${v}</td></tr>`).join("")}
			</table>
		</div>`);
	// One indicator however many refreshes answer: saving a new record refreshes the form twice, and
	// the dashboard is not cleared between the two answers.
	if (frm.cc_sync_indicator) {
		frm.cc_sync_indicator.remove();
	}
	frm.cc_sync_indicator = frm.dashboard.add_indicator(
		__("Constant Contact: {0}", [s.state === "deleted" || !s.unsubscribed ? label : __("Unsubscribed")]),
		colour
	);
};
