// Constant Contact Settings: connect, test, fetch lists, run streams, and see how the sync is doing.

const CC_API = "cc_sync.cc_sync.api";
// The jobs a person can start, from the stream table the server hands over (cc_sync.tables).
function cc_jobs() {
	return cc_sync.tables().jobs.filter((j) => j.offered);
}
const CC_DAILY_LIMIT = 10000;

frappe.ui.form.on("Constant Contact Settings", {
	setup(frm) {
		// Only the push targets whose DocType exists on this site (the server refuses any other).
		const push_targets = () => ({
			filters: { name: ["in", (frm.doc.__onload || {}).cc_push_targets || []] },
		});
		frm.set_query("push_doctype", push_targets);
		frm.set_query("push_doctype", "push_targets", push_targets);
		// Each CC list by name with its member count, in name order; lists deleted in CC are not offered (a
		// mapping to one is flagged on save and on the health line).
		frm.set_query("cc_list", "list_mappings", () => ({ query: "cc_sync.cc_sync.list_picker.cc_lists" }));
		frappe.realtime.off("cc_sync_progress");
		frappe.realtime.on("cc_sync_progress", (data) => cc_show_progress(frm, data));
	},

	refresh(frm) {
		cc_headline(frm);
		cc_buttons(frm);
		cc_field_map_note(frm);
		cc_engagement_note(frm);
		frm.__cc_field_map = cc_field_map_key(frm.doc);
		cc_route_start(frm);
	},

	validate(frm) {
		frm.__cc_field_map_changed =
			frm.__cc_field_map !== undefined && frm.__cc_field_map !== cc_field_map_key(frm.doc);
	},

	after_save(frm) {
		if (frm.__cc_field_map_changed && cc_connected(frm)) {
			frm.__cc_field_map_changed = false;
			frappe.confirm(
				__(
					"The field map changed. It applies to each contact the next time CC reports a change to it. Run a full reconcile now to apply it to every contact?"
				),
				() => cc_sync_now(frm, "reconcile", 0)
			);
		}
	},
});

function cc_connected(frm) {
	return frm.doc.connection_status === "Connected";
}

function cc_buttons(frm) {
	const connect_label = frm.doc.connection_status === "Not connected" ? __("Connect") : __("Reconnect");
	const connect = frm.add_custom_button(connect_label, () => cc_connect(frm));
	if (!cc_connected(frm)) {
		connect.removeClass("btn-default").addClass("btn-primary");
	}
	if (frm.doc.connection_status === "Not connected") {
		return;
	}
	frm.add_custom_button(__("Test connection"), () =>
		cc_call(frm, "test_connection", {}, (r) => {
			frappe.msgprint({
				title: __("Constant Contact"),
				message: r.message.message,
				indicator: r.message.ok ? "green" : "red",
			});
		})
	);
	frm.add_custom_button(__("Refresh lists"), () =>
		cc_call(frm, "refresh_lists", {}, (r) => {
			frappe.show_alert({
				message: __("{0} lists fetched ({1} gone from CC)", [r.message.lists, r.message.gone]),
				indicator: "green",
			});
		})
	);
	for (const job of cc_jobs()) {
		frm.add_custom_button(job.label, () => cc_sync_now(frm, job.name, 0), __("Sync now"));
	}
	frm.add_custom_button(__("Dry run"), () => cc_dry_run(frm));
	if ((frm.doc.optout_check || "").includes("NOT reliable")) {
		// CC's optout_after proved unreliable: it is re-checked on a schedule, or now on request.
		frm.add_custom_button(__("Re-check opt-out filter"), () =>
			cc_call(frm, "recheck_optout_filter", {}, (r) => {
				frappe.show_alert({
					message: r.message.queued
						? __("The opt-out filter is re-checked in the next opt-out run, queued now.")
						: __("An opt-out run is already queued; it re-checks the filter."),
					indicator: "green",
				});
			})
		);
	}
	frm.add_custom_button(__("View logs"), () => frappe.set_route("List", "Constant Contact Sync Log"));
}

function cc_call(frm, method, args, callback) {
	if (frm.is_dirty()) {
		frappe.msgprint(__("Save the settings first."));
		return;
	}
	return frappe.call({
		method: `${CC_API}.${method}`,
		args,
		freeze: true,
		freeze_message: __("Talking to Constant Contact..."),
		callback: (r) => {
			callback(r);
			frm.reload_doc();
		},
		error: () => frm.reload_doc(),
	});
}

function cc_connect(frm) {
	if (frm.is_dirty()) {
		frappe.msgprint(__("Save the settings first."));
		return;
	}
	frappe.call({
		method: "cc_sync.cc_sync.oauth.connect",
		freeze: true,
		callback: (r) => {
			// CC shows its sign-in page and sends the browser back to the redirect URI.
			window.location.href = r.message.url;
		},
	});
}

function cc_stream_label(stream) {
	const found = cc_sync.tables().jobs.find((j) => j.name === stream);
	return found ? found.label : stream;
}

function cc_sync_now(frm, stream, dry_run) {
	cc_call(frm, "sync_now", { stream, dry_run }, (r) => {
		const what = dry_run ? __("Dry run") : __("Sync");
		const label = cc_stream_label(stream);
		frappe.show_alert({
			message: r.message.queued
				? __("{0} queued: {1}. Progress shows here; the result is in the sync log.", [what, label])
				: __("{0} of {1} is already queued or running.", [what, label]),
			indicator: r.message.queued ? "blue" : "orange",
		});
	});
}

// The guided setup's "Start a dry run" opens this form with the route option cc_start=dry_run: ask, then
// start a dry run of every stream, as the Dry run button does. Nothing starts without the answer.
function cc_route_start(frm) {
	const start = (frappe.route_options || {}).cc_start;
	if (!start) {
		return;
	}
	delete frappe.route_options.cc_start;
	if (start !== "dry_run") {
		return;
	}
	if (!cc_connected(frm)) {
		frappe.msgprint(__("Connect to Constant Contact first: a dry run reads from your account."));
		return;
	}
	frappe.confirm(__("Start a dry run? It reads from Constant Contact and changes nothing."), () =>
		cc_sync_now(frm, "all", 1)
	);
}

function cc_dry_run(frm) {
	frappe.prompt(
		[
			{
				fieldname: "stream",
				fieldtype: "Select",
				label: __("Stream"),
				options: cc_jobs().map((j) => ({ value: j.name, label: j.label })),
				default: "all",
				reqd: 1,
				description: __("Fetches from CC and records what would change, without writing anything."),
			},
		],
		(values) => cc_sync_now(frm, values.stream, 1),
		__("Dry run"),
		__("Start")
	);
}


function cc_show_progress(frm, data) {
	const what = data.dry_run
		? __("Dry run of {0}", [data.label || data.stream])
		: __("Sync of {0}", [data.label || data.stream]);
	if (data.done) {
		frm.dashboard.clear_headline();
		const totals = data.totals || {};
		// The push says "X of N leads sent" in place of its bare count.
		const changes = cc_sync
			.tables()
			.counts.filter((c) => c.change && (totals[c.name] || (c.name === "pushed" && data.push_message)))
			.map((c) =>
				c.name === "pushed" && data.push_message
					? frappe.utils.escape_html(data.push_message)
					: __(c.phrase, [format_number(totals[c.name], null, 0)])
			)
			.join(", ");
		// How many contacts CC sent, then what changed: "3,150 read from CC; no changes".
		const read = totals.fetched
			? __("{0} read from CC", [format_number(totals.fetched, null, 0)]) + "; "
			: "";
		const counts =
			read +
			(changes || (data.dry_run ? __("see the table of what would change") : __("no changes")));
		const link = data.log
			? ` <a href="/app/constant-contact-sync-log/${encodeURIComponent(data.log)}">${__("Open log")}</a>`
			: "";
		frappe.show_alert(
			{
				message:
					__("{0} finished: {1}", [frappe.utils.escape_html(what), __(data.status)]) +
					` (${counts}; ` +
					__("{0} API calls", [data.api_calls]) +
					`).${link}`,
				indicator: { Success: "green", Partial: "orange", Failed: "red" }[data.status] || "gray",
			},
			12
		);
		frm.reload_doc();
		return;
	}
	// One line, updated in place: the form's message area appends each headline it is given. Where CC
	// gave the size of the read under way ("X of N"), a bar under it.
	const p = data.progress;
	const bar =
		p && p.total
			? `<div class="progress" style="height: 6px; margin-top: 6px"><div class="progress-bar" role="progressbar"
				style="width: ${Math.min(100, Math.round((100 * p.read) / p.total))}%; background-color: var(--blue-500)"
				aria-valuenow="${p.read}" aria-valuemin="0" aria-valuemax="${p.total}"></div></div>`
			: "";
	const line = `<div class="cc-sync-progress"><div class="indicator blue">${__(
		"{0} running: {1} ({2} API calls so far)",
		[frappe.utils.escape_html(what), frappe.utils.escape_html(data.message), data.api_calls]
	)}</div>${bar}</div>`;
	const shown = frm.layout.message && frm.layout.message.find(".cc-sync-progress");
	if (shown && shown.length) {
		shown.replaceWith(line);
	} else {
		frm.dashboard.set_headline_alert(line);
	}
}

function cc_headline(frm) {
	const doc = frm.doc;
	const esc = frappe.utils.escape_html;
	const health = (doc.__onload || {}).cc_health;
	if (doc.connection_status === "Not connected") {
		frm.dashboard.set_headline_alert(
			esc(
				__(
					"Not connected. Enter the Client ID and secret of your CC application, register the redirect URI shown below with it, save, then press Connect."
				)
			),
			"orange"
		);
		return;
	}
	const parts = [];
	let colour = "green";
	if (health && health.level !== "green") {
		// The first thing to fix, said once, in the colour of how bad it is.
		colour = health.level;
		parts.push(`<div><b>${esc(health.message)}</b></div>`);
		if (health.detail) {
			parts.push(`<div class="text-muted small">${esc(health.detail)}</div>`);
		}
		if (health.action && health.action.method && health.can_act) {
			parts.push(
				`<button class="btn btn-xs btn-primary cc-health-action" style="margin-top: 4px">${esc(
					health.action.label
				)}</button>`
			);
		}
	} else {
		const who = doc.connected_account ? " " + __("as {0}", [esc(doc.connected_account)]) : "";
		parts.push(`<div><b>${__("Connected")}${who}</b>; ${__("scheduled sync on")}</div>`);
	}
	const scheduled = cc_sync.tables().jobs.filter((j) => j.scheduled);
	const runs = scheduled.map((job) => {
		const label = esc(job.label);
		const minutes = (doc[job.interval_field] || 0) * job.minutes_per_unit;
		const last = doc[job.last_run_field];
		const status = doc[job.last_status_field] || "";
		const dot = { Success: "green", Partial: "orange", Failed: "red", Running: "blue" }[status] || "gray";
		const when = last ? frappe.datetime.comment_when(last) : __("never");
		const every = minutes ? "" : ` (${__("off")})`;
		// One inner span: the indicator is a flex box, which would drop the spaces around the time's own span.
		return `<span class="indicator ${dot}" style="margin-right: 14px; white-space: nowrap"><span>${label}${every}: ${when}${
			status ? " · " + __(status) : ""
		}</span></span>`;
	}).join(" ");
	parts.push(`<div style="margin-top: 4px">${runs}</div>`);
	if (doc.optout_check) {
		// The opt-out stream's self-check: red when CC's optout_after proved unreliable on this account.
		const colour = doc.optout_check.includes("NOT reliable") ? "red" : "gray";
		parts.push(
			`<div class="indicator ${colour}" style="margin-top: 4px; white-space: pre-line">${frappe.utils.escape_html(
				doc.optout_check
			)}</div>`
		);
	}
	const numbers = (doc.__onload || {}).cc_numbers;
	if (numbers) {
		// The same numbers as the workspace's cards (cc_sync.cc_sync.dashboard).
		parts.push(`<div style="margin-top: 4px">${esc(numbers)}</div>`);
	}
	const today = frappe.datetime.now_date(); // the count resets at 00:00 UTC
	const used = doc.api_calls_day ? doc.api_calls_today || 0 : 0;
	parts.push(
		`<div class="text-muted" style="margin-top: 4px">${__("API calls on {0} (UTC): {1} of {2}", [
			doc.api_calls_day || today,
			format_number(used, null, 0),
			format_number(CC_DAILY_LIMIT, null, 0),
		])}${used >= CC_DAILY_LIMIT ? " · " + __("quota used up; the sync resumes after midnight UTC") : ""}</div>`
	);
	frm.dashboard.set_headline_alert(parts.join(""), colour);
	// The health line's fix, done in place (start the schedule, run what is overdue, try a new secret).
	frm.layout.message &&
		frm.layout.message.find(".cc-health-action").on("click", () =>
			frappe.call({ method: health.action.method, freeze: true }).then((r) => {
				if (r.message && r.message.ok === false && r.message.message) {
					frappe.msgprint(r.message.message);
				}
				frm.reload_doc();
			})
		);
}

// The field map in effect: the defaults while the table is empty, otherwise only the rows.
function cc_field_map_note(frm) {
	const rules = (frm.doc.__onload || {}).cc_field_map || [];
	const esc = frappe.utils.escape_html;
	const list = rules.map((r) => `${esc(r.cc_field)} → ${esc(r.site_field)} (${esc(r.owner)})`).join(", ");
	const note = (frm.doc.field_map || []).length
		? __("In effect: only the rows below ({0}). They replace the defaults: a field not listed here is not synced.", [list])
		: __("In effect: the defaults ({0}). Adding a row replaces all of them.", [list]);
	frm.get_field("field_map_in_effect").$wrapper.html(`<p class="text-muted">${note}</p>`);
}

// Email engagement needs CC's campaign_data permission, which connections made before it lack.
function cc_engagement_note(frm) {
	const granted = (frm.doc.__onload || {}).cc_campaign_data;
	const note = !cc_connected(frm)
		? __("Campaign reports are read once connected.")
		: granted
		? __("Campaign reports: granted. Opens, clicks, bounces and opt-outs of the campaigns sent in the window are read.")
		: __(
				"Campaign reports: not granted. This connection was made without CC's campaign_data permission, so email engagement stays off; press Reconnect and approve it. Everything else keeps working."
		  );
	const colour = granted || !cc_connected(frm) ? "text-muted" : "text-warning";
	frm.get_field("engagement_scope").$wrapper.html(`<p class="${colour}">${frappe.utils.escape_html(note)}</p>`);
}

function cc_field_map_key(doc) {
	return JSON.stringify((doc.field_map || []).map((r) => [r.cc_field, r.site_field, r.field_owner]));
}
