"""The engine's streams and the jobs that run them, declared once.

Each stream row says what the stream reads or writes in CC, what its watermark follows, what must
succeed before it in the same run, and how the logs name it. Each job row says which streams a job
asks the engine for and, for a scheduled job, its default interval. Everything else is derived from
these two tables: the engine's steps and default run, the settings fields that hold each job's
interval, last run and status and each stream's watermark (and their defaults), the scheduler gate,
the command line's choices, the sync log's labels and counts, and what the desk shows (the server
hands the tables to the browser; no script keeps a copy). `tests/unit/test_streams_table.py` holds the
DocType JSON and the docs to them and fails when a second copy appears. `docs/structure.md` draws it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

# -- stream names: also the watermark keys and the scheduled jobs' names -------------------------
STREAM_OPTOUTS = "optouts"
STREAM_CHANGES = "changes"
STREAM_DELETES = "deletes"
STREAM_RECONCILE = "reconcile"
# The opt-out safety net: a full scan of every opt-out CC holds, on its own (daily) cadence.
STREAM_OPTOUT_SCAN = "optout_scan"
STREAM_OPTOUT_PUSH = "optout_push"
STREAM_PUSH = "push"
STREAM_ACTIVITIES = "activities"
# Email engagement: campaigns and who opened, clicked, bounced or opted out (its own hourly cadence).
STREAM_ENGAGEMENT = "engagement"
# The job that names no streams: every stream of the default run ("Sync now", "All streams").
JOB_ALL = "all"


class Phase(str, Enum):
	"""Where a stream runs in a run: every pull first, then what goes to CC, then the import checks, then
	the campaign reports (last: they never hold up consent)."""

	PULL = "pull"
	PUSH = "push"
	POLL = "poll"
	REPORTS = "reports"


@dataclass(frozen=True, slots=True)
class Stream:
	name: str
	# How the sync log names it (stored as shown; the desk translates it).
	label: str
	phase: Phase
	# The CC call it is built on (W is the watermark minus the overlap window).
	cc_call: str
	# What the watermark records, or None when the stream keeps none.
	watermark: str | None
	# Streams that must succeed in the same run before this one does anything (pull before push).
	needs: tuple[str, ...] = ()
	# Part of a run that names no streams ("Sync now" with every stream, the engine's default).
	default: bool = True

	@property
	def watermark_field(self) -> str | None:
		"""The settings field holding the watermark (a Datetime on Constant Contact Settings)."""
		return f"{self.name}_watermark" if self.watermark else None


# In the order the engine first reaches each one (the imports are polled before the push and again after).
STREAMS: tuple[Stream, ...] = (
	Stream(
		STREAM_OPTOUTS,
		"Opt-outs",
		Phase.PULL,
		"GET /contacts?status=all&optout_after=W",
		"the newest opt-out date CC reported (CC's clock)",
	),
	Stream(
		STREAM_CHANGES,
		"Changes",
		Phase.PULL,
		"GET /contacts?status=all&updated_after=W (the first run: the whole account); then a newly mapped "
		"list's members, GET /contacts?lists=L",
		"the time the read started, on CC's clock",
	),
	Stream(
		STREAM_DELETES,
		"Deletes",
		Phase.PULL,
		"GET /contacts?status=deleted&updated_after=W",
		"the time the read started, on CC's clock",
	),
	Stream(
		STREAM_RECONCILE,
		"Full reconcile",
		Phase.PULL,
		"GET /contacts?status=all, or a contacts export when the account is large",
		"the time read before its last complete read (never queried from)",
		default=False,
	),
	Stream(
		STREAM_OPTOUT_SCAN,
		"Opt-out safety scan",
		Phase.PULL,
		"every unsubscribed contact (paged, or a contacts export)",
		"the time of the last complete scan",
		default=False,
	),
	Stream(
		STREAM_OPTOUT_PUSH,
		"Opt-outs to CC",
		Phase.PUSH,
		"PUT /contacts/{id} (permission_to_send=unsubscribed); POST /activities/remove_list_memberships",
		None,
	),
	Stream(
		STREAM_ACTIVITIES,
		"Imports",
		Phase.POLL,
		"GET /activities/{id}",
		None,
	),
	Stream(
		STREAM_PUSH,
		"Push",
		Phase.PUSH,
		"POST /activities/contacts_json_import; PUT /contacts/{id} for site-owned fields no import carries",
		"the time read before reading the site",
		needs=(STREAM_OPTOUTS, STREAM_CHANGES, STREAM_DELETES),
	),
	Stream(
		STREAM_ENGAGEMENT,
		"Email engagement",
		Phase.REPORTS,
		"GET /emails?after_date=W; GET /reports/stats/email_campaign_activities/{10 ids}; "
		"GET /reports/email_reports/{id}/tracking/{unique_opens,clicks,bounces,optouts}",
		None,
		default=False,
	),
)

BY_NAME: dict[str, Stream] = {s.name: s for s in STREAMS}
ALL_STREAMS: tuple[str, ...] = tuple(BY_NAME)

# The engine's steps in the order a run takes them: every pull in the table's order, then the site's
# opt-outs to CC, then imports left open by earlier runs, then the push, then this run's own imports.
RUN_ORDER: tuple[str, ...] = (
	*(s.name for s in STREAMS if s.phase == Phase.PULL),
	STREAM_OPTOUT_PUSH,
	STREAM_ACTIVITIES,
	STREAM_PUSH,
	STREAM_ACTIVITIES,
	STREAM_ENGAGEMENT,
)


@dataclass(frozen=True, slots=True)
class Job:
	"""What the scheduler, a settings button, the command line or a site opt-out asks for."""

	name: str
	# How the settings form's menus name it.
	label: str
	# The streams it gives the engine; () is the engine's default run.
	streams: tuple[str, ...]
	# Scheduled jobs: the default interval in minutes; None for a job that only runs when asked.
	every_minutes: int | None = None
	# The settings field counts minutes (1) or hours (60).
	minutes_per_unit: int = 1
	# Offered in the settings form's menus and on the command line (the opt-out push starts by itself).
	offered: bool = True

	@property
	def scheduled(self) -> bool:
		return self.every_minutes is not None

	@property
	def interval_field(self) -> str:
		return f"{self.name}_interval" + ("_hours" if self.minutes_per_unit == 60 else "")

	@property
	def last_run_field(self) -> str:
		return f"last_{self.name}_run"

	@property
	def last_status_field(self) -> str:
		return f"last_{self.name}_status"

	@property
	def default_interval(self) -> int | None:
		"""The interval field's default, in the field's own unit."""
		return None if self.every_minutes is None else self.every_minutes // self.minutes_per_unit


# The jobs, in the order the menus offer them; the scheduled ones in the order the gate queues them.
# The engine adds the opt-out, changes and deletes pulls in front of any push, and the opt-out job
# also tells CC about the site's own opt-outs, so consent moves both ways every turn.
JOBS: tuple[Job, ...] = (
	Job(JOB_ALL, "All streams", ()),
	Job(STREAM_OPTOUTS, "Opt-outs (both ways)", (STREAM_OPTOUTS, STREAM_OPTOUT_PUSH), every_minutes=15),
	Job(STREAM_CHANGES, "Changes", (STREAM_CHANGES,), every_minutes=15),
	Job(STREAM_DELETES, "Deletes", (STREAM_DELETES,), every_minutes=60),
	Job(STREAM_PUSH, "Push", (STREAM_OPTOUT_PUSH, STREAM_ACTIVITIES, STREAM_PUSH), every_minutes=15),
	Job(STREAM_RECONCILE, "Full reconcile", (STREAM_RECONCILE,), every_minutes=168 * 60, minutes_per_unit=60),
	Job(
		STREAM_OPTOUT_SCAN,
		"Opt-out safety scan",
		(STREAM_OPTOUT_SCAN,),
		every_minutes=24 * 60,
		minutes_per_unit=60,
	),
	Job(STREAM_ENGAGEMENT, "Email engagement", (STREAM_ENGAGEMENT,), every_minutes=60, minutes_per_unit=60),
	Job(STREAM_OPTOUT_PUSH, "Opt-outs to CC", (STREAM_OPTOUT_PUSH,), offered=False),
)

JOB_BY_NAME: dict[str, Job] = {j.name: j for j in JOBS}
SCHEDULED_JOBS: tuple[Job, ...] = tuple(j for j in JOBS if j.scheduled)
# What each job asks the engine for.
JOB_STREAMS: dict[str, tuple[str, ...]] = {j.name: j.streams for j in JOBS}
# The scheduled jobs and their default intervals in minutes, in the order the gate queues them.
DEFAULT_INTERVAL_MINUTES: dict[str, int] = {j.name: j.every_minutes for j in SCHEDULED_JOBS}


@dataclass(frozen=True, slots=True)
class Count:
	"""One of the counts every stream of a run keeps, and how a person reads it."""

	name: str
	# "{0} created": the phrase with the number in it.
	phrase: str
	# Says the run changed something (reading alone does not).
	change: bool = True


# In the order a log, a toast or "Sync now" names them. Each is a field of a stream's report, of the
# Sync Log and of its stream rows.
COUNTS: tuple[Count, ...] = (
	Count("fetched", "{0} read from CC", change=False),
	Count("created", "{0} created"),
	Count("updated", "{0} updated"),
	Count("unchanged", "{0} unchanged", change=False),
	Count("unsubscribed", "{0} unsubscribed"),
	Count("resubscribed", "{0} resubscribed"),
	Count("deleted", "{0} deleted"),
	Count("pushed", "{0} pushed"),
	Count("corrected", "{0} corrected"),
	Count("skipped", "{0} skipped"),
	Count("failed", "{0} failed"),
)
COUNTERS: tuple[str, ...] = tuple(c.name for c in COUNTS)
CHANGE_COUNTERS: tuple[str, ...] = tuple(c.name for c in COUNTS if c.change)


def names(*, phase: Phase | None = None, default: bool | None = None) -> tuple[str, ...]:
	"""Stream names in the table's order, optionally only one phase's or only the default run's."""
	return tuple(
		s.name
		for s in STREAMS
		if (phase is None or s.phase == phase) and (default is None or s.default == default)
	)


def label(name: str) -> str:
	return BY_NAME[name].label
