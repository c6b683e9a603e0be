// The email engagement filters on the Contact list (engagement.bundle.js), beside the list's own settings.

cc_sync.extend_list("Contact");
