"""Every DocType and field name the app uses on the site, and the statuses its DocTypes store, in one place."""

from dataclasses import dataclass

from cc_sync.constant_contact.values import Word
from cc_sync.sync.records import PushStatus
from cc_sync.sync.report import StreamStatus
from cc_sync.sync.streams import (  # noqa: F401 (JOB_STREAMS: what each job asks the engine for)
	JOB_ALL,
	JOB_BY_NAME,
	JOB_STREAMS,
	SCHEDULED_JOBS,
	STREAMS,
)

# -- the app's DocTypes ------------------------------------------------------------------------
SETTINGS = "Constant Contact Settings"
LIST = "Constant Contact List"  # lists fetched from CC, to pick from
LIST_MAPPING = "Constant Contact List Mapping"
SYNC_LOG = "Constant Contact Sync Log"
SYNC_LOG_ITEM = "Constant Contact Sync Log Item"  # child table: per-record skips, errors, warnings
SYNC_LOG_STREAM = "Constant Contact Sync Log Stream"  # child table: one row per stream of the run
SYNC_LOG_PLAN = "Constant Contact Sync Log Plan"  # child table: what a dry run would change
OPT_OUT = "Constant Contact Opt Out"  # site-side opt-outs waiting to reach CC
IMPORT = "Constant Contact Import"  # bulk import activities and their chunks
CAMPAIGN = "Constant Contact Campaign"  # email campaigns sent from CC, with their counts
ENGAGEMENT = "Constant Contact Engagement"  # one person's campaign events (opened, clicked, bounced...)

# -- host DocTypes -----------------------------------------------------------------------------
CONTACT = "Contact"
CONTACT_EMAIL = "Contact Email"
LEAD = "Lead"
EMAIL_GROUP = "Email Group"
EMAIL_GROUP_MEMBER = "Email Group Member"
EMAIL_UNSUBSCRIBE = "Email Unsubscribe"
DYNAMIC_LINK = "Dynamic Link"

# -- settings fields the store writes ----------------------------------------------------------
SETTINGS_DELETED_COUNT = "deleted_count"
# The streams' own small JSON state (the opt-out stream's self-check), and what the form shows of it.
SETTINGS_SYNC_STATE = "sync_state"
SETTINGS_OPTOUT_CHECK = "optout_check"

# -- custom fields on Contact ------------------------------------------------------------------
# On Contact and Lead: the form script draws the CC status here (record_status.py), nothing is stored.
STATUS_HTML = "cc_status_html"
CONTACT_CC_ID = "cc_contact_id"
CONTACT_CC_PERMISSION = "cc_permission"
CONTACT_OPTED_OUT_AT = "cc_opted_out_at"
# Set when the opt-out time is CC's own opt_out_date (compared with CC's opt-in dates as it is).
CONTACT_OPTOUT_CC_CLOCK = "cc_optout_cc_clock"
CONTACT_LAST_SYNCED = "cc_last_synced"
CONTACT_CC_DELETED = "cc_deleted"
CONTACT_CC_UPDATED_AT = "cc_updated_at"
CONTACT_CC_EMAIL_UPDATED_AT = "cc_email_updated_at"

# -- engagement summary fields, on Contact and on Lead (written in bulk by the engagement stream) --
LAST_OPENED = "cc_last_opened"
LAST_CLICKED = "cc_last_clicked"
CAMPAIGNS_OPENED = "cc_campaigns_opened"
CAMPAIGNS_CLICKED = "cc_campaigns_clicked"
BOUNCES = "cc_bounces"
HARD_BOUNCED = "cc_hard_bounced"
BOUNCE_REASON = "cc_bounce_reason"
# The form script draws the engagement timeline here; nothing is stored.
ENGAGEMENT_HTML = "cc_engagement_html"
# The engine's event kinds as the Engagement DocType stores them.
ENGAGEMENT_KINDS = {
	"sent": "Sent",
	"open": "Opened",
	"click": "Clicked",
	"bounce": "Bounced",
	"optout": "Unsubscribed",
}

# -- custom fields on Lead ---------------------------------------------------------------------
LEAD_CC_ID = "cc_contact_id"
LEAD_PUSH_STATUS = "cc_push_status"
LEAD_PUSHED_AT = "cc_pushed_at"
LEAD_PUSH_ERROR = "cc_push_error"
# The Lead field's options: none yet, then the push's own statuses.
PUSH_STATUSES = ("", *(s.value for s in PushStatus))

# -- site config keys (test hosts only; never set from the UI) ----------------------------------
CONF_API_BASE = "cc_sync_api_base_url"
CONF_AUTH_BASE = "cc_sync_auth_base_url"

# -- background jobs ---------------------------------------------------------------------------
QUEUE = "long"
JOB_PREFIX = "cc_sync::"

# -- flags -------------------------------------------------------------------------------------
# Set on documents the sync itself writes, so doc_events never echo them back to CC.
FLAG_FROM_SYNC = "from_cc_sync"

# -- triggers, as the sync log records them -----------------------------------------------------
TRIGGER_SCHEDULER = "Scheduler"
TRIGGER_SETTINGS = "Settings button"
TRIGGER_CONTACT = "Contact button"
TRIGGER_LEAD = "Lead button"
TRIGGER_SHELL = "Shell"
TRIGGER_OPTOUT = "Opt-out saved"

# -- how the logs name what ran (stored as shown; the desk translates them) ---------------------
# Engine stream name -> label (declared with the streams). The job "all" and a single record's sync get
# their own labels.
STREAM_LABELS = {s.name: s.label for s in STREAMS}
JOB_ALL_LABEL = JOB_BY_NAME[JOB_ALL].label
JOB_RECORD_LABEL = "One record"

# -- the app's own wiring (settings, jobs, realtime) --------------------------------------------
# The OAuth redirect lands here; register get_url(OAUTH_CALLBACK_PATH) with the CC application.
OAUTH_CALLBACK_PATH = "/api/method/cc_sync.cc_sync.oauth.callback"
SETTINGS_ROUTE = "/app/constant-contact-settings"
# Jobs: one per scheduled stream, plus the immediate opt-out push fired by a local unsubscribe.
JOB_METHOD = "cc_sync.cc_sync.jobs.run_stream"


@dataclass(frozen=True, slots=True)
class JobFields:
	"""Where the settings keep one scheduled job (named by the stream table): handed to the code that
	reads or writes them, so no field name is ever built anywhere else."""

	# How often it runs, in units of `minutes_per_unit` minutes (1: minutes, 60: hours).
	interval: str
	minutes_per_unit: int
	# When it last ran, and how that run ended (a LogStatus).
	last_run: str
	last_status: str


# Scheduled jobs, in the order the gate queues them.
SCHEDULE: dict[str, JobFields] = {
	j.name: JobFields(j.interval_field, j.minutes_per_unit, j.last_run_field, j.last_status_field)
	for j in SCHEDULED_JOBS
}
# Each stream's watermark field (what each watermark follows is declared with the streams).
WATERMARK_FIELD: dict[str, str] = {s.name: s.watermark_field for s in STREAMS if s.watermark_field}
JOB_TIMEOUT = 3600
# Realtime event a running sync publishes to the settings form.
PROGRESS_EVENT = "cc_sync_progress"
CONNECTION_NOT_CONNECTED = "Not connected"
CONNECTION_CONNECTED = "Connected"
CONNECTION_ERROR = "Error"


# -- statuses the DocTypes store (each read and stored as its plain word; the desk translates it) ------
class LogStatus(Word):
	"""A Sync Log's status; a log's stream rows take the four a finished stream can have."""

	QUEUED = "Queued"
	RUNNING = "Running"
	SUCCESS = "Success"
	PARTIAL = "Partial"
	FAILED = "Failed"
	SKIPPED = "Skipped"


# How a log names the engine's stream and run statuses (a stream never reached counts as skipped).
STATUS_LABELS = {
	StreamStatus.SUCCESS: LogStatus.SUCCESS,
	StreamStatus.PARTIAL: LogStatus.PARTIAL,
	StreamStatus.FAILED: LogStatus.FAILED,
	StreamStatus.SKIPPED: LogStatus.SKIPPED,
	StreamStatus.PENDING: LogStatus.SKIPPED,
}
# A run that did its work, whether or not some records failed.
WORKED = (LogStatus.SUCCESS, LogStatus.PARTIAL)
# The statuses a finished stream row of a log can have.
STREAM_ROW_STATUSES = (LogStatus.SUCCESS, LogStatus.PARTIAL, LogStatus.FAILED, LogStatus.SKIPPED)


class OptOutStatus(Word):
	"""A site opt-out on its way to CC (Constant Contact Opt Out): waiting, or settled."""

	PENDING = "Pending"
	DONE = "Done"
