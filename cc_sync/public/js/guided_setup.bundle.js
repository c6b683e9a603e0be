// The Constant Contact guided setup (Module Onboarding "Constant Contact"). Frappe's "Update Settings"
// step only opens a form; the dry-run step also asks the settings form to offer a dry run there, through
// a route option the form script reads (it asks before starting anything).

frappe.provide("cc_sync");

cc_sync.DRY_RUN_STEP = "CC Dry Run";

const OnboardingWidget = frappe.widget.widget_factory.onboarding;

frappe.widget.widget_factory.onboarding = class CCOnboardingWidget extends OnboardingWidget {
	update_settings(step) {
		if (step.name === cc_sync.DRY_RUN_STEP) {
			// The step ticks itself once a dry run has written its log (cc_sync.cc_sync.onboarding).
			frappe.route_options = { cc_start: "dry_run" };
			frappe.set_route("Form", step.reference_document);
			return;
		}
		super.update_settings(step);
	}
};
