// Email engagement on the desk: a Contact's or Lead's campaign timeline, and the list filters
// "Opened in the last 30 days", "Never opened" and "Hard-bounced". Loaded on every desk page.

frappe.provide("cc_sync");

cc_sync.ENGAGEMENT_WORDS = {
	Sent: __("Sent"),
	Opened: __("Opened"),
	Clicked: __("Clicked"),
	Bounced: __("Bounced"),
	Unsubscribed: __("Unsubscribed"),
};
cc_sync.ENGAGEMENT_COLOURS = { Sent: "gray", Opened: "blue", Clicked: "green", Bounced: "red", Unsubscribed: "orange" };

cc_sync.show_engagement = function (frm) {
	const field = frm.get_field("cc_engagement_html");
	if (frm.is_new() || !field) {
		return;
	}
	if (frm.doc.cc_hard_bounced) {
		frm.dashboard.set_headline(
			__("This address hard-bounced in Constant Contact ({0}): it is not pushed again until the address changes.", [
				frappe.utils.escape_html(__(frm.doc.cc_bounce_reason || "")),
			]),
			"red"
		);
	}
	frappe.call({
		method: "cc_sync.cc_sync.engagement_view.timeline",
		type: "GET",
		args: { doctype: frm.doctype, name: frm.docname },
		callback: (r) => {
			if (r.message && frm.get_field("cc_engagement_html")) {
				cc_sync.render_engagement(frm, r.message);
			}
		},
	});
};

cc_sync.render_engagement = function (frm, data) {
	const esc = frappe.utils.escape_html;
	if (!data.rows.length) {
		frm.get_field("cc_engagement_html").$wrapper.html(
			`<p class="text-muted">${__("No campaign activity from Constant Contact yet.")}</p>`
		);
		return;
	}
	const what = (r) => {
		const campaign = r.campaign
			? `<a href="/app/constant-contact-campaign/${encodeURIComponent(r.campaign)}">${esc(r.campaign_name || r.campaign)}</a>`
			: `<span class="text-muted">${__("a campaign")}</span>`;
		if (r.kind === "Clicked" && r.link_url) {
			return __("{0}: {1}", [campaign, `<a href="${esc(r.link_url)}" target="_blank" rel="noopener noreferrer">${esc(r.link_url)}</a>`]);
		}
		if (r.kind === "Bounced") {
			const hard = r.hard_bounce ? ` <span class="indicator-pill red">${__("hard")}</span>` : "";
			return __("{0}: {1}", [campaign, esc(__(r.bounce_reason || r.bounce_code || ""))]) + hard;
		}
		if (r.kind === "Unsubscribed" && r.opt_out_reason) {
			return __("{0}: {1}", [campaign, esc(r.opt_out_reason)]);
		}
		return campaign;
	};
	const rows = data.rows
		.map(
			(r) => `<tr>
				<td style="width: 30%" class="text-muted">${cc_sync.date_and_time(r.at)}</td>
				<td style="width: 20%"><span class="indicator-pill ${cc_sync.ENGAGEMENT_COLOURS[r.kind] || "gray"}">${esc(
				cc_sync.ENGAGEMENT_WORDS[r.kind] || r.kind
			)}</span></td>
				<td>${what(r)}</td>
			</tr>`
		)
		.join("");
	frm.get_field("cc_engagement_html").$wrapper.html(
		`<table class="table table-condensed cc-engagement" style="margin-bottom: 0">${rows}</table>`
	);
};

// The list filters, added beside a list's own settings (Frappe's Contact list keeps its vCard action).
cc_sync.add_engagement_filters = function (listview) {
	const dt = listview.doctype;
	const group = __("Email engagement");
	const apply = (filters) => listview.filter_area.clear(false).then(() => listview.filter_area.add(filters));
	listview.page.add_inner_button(
		__("Opened in the last 30 days"),
		() => apply([[dt, "cc_last_opened", ">=", frappe.datetime.add_days(frappe.datetime.now_date(), -30)]]),
		group
	);
	listview.page.add_inner_button(__("Never opened"), () => apply([[dt, "cc_last_opened", "is", "not set"]]), group);
	listview.page.add_inner_button(__("Hard-bounced"), () => apply([[dt, "cc_hard_bounced", "=", 1]]), group);
};

cc_sync.extend_list = function (doctype) {
	const settings = (frappe.listview_settings[doctype] = frappe.listview_settings[doctype] || {});
	const onload = settings.onload;
	settings.onload = function (listview) {
		if (onload) {
			onload.call(this, listview);
		}
		cc_sync.add_engagement_filters(listview);
	};
};
