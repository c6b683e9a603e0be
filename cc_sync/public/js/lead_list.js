// The email engagement filters on the Lead list (engagement.bundle.js), beside the list's own settings.

cc_sync.extend_list("Lead");
