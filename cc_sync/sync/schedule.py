"""The scheduled jobs: which streams each one runs, and how often it runs by default.

The site's scheduler gate queues one background job per entry whose interval has passed; the settings
form holds the intervals, whose defaults are these (a test holds the DocType's defaults to them). The
engine itself adds the opt-out, changes and deletes pulls in front of any push, and the opt-out job also
tells CC about the site's own opt-outs, so consent moves both ways every turn.
"""

from __future__ import annotations

from cc_sync.sync.records import (
	STREAM_ACTIVITIES,
	STREAM_CHANGES,
	STREAM_DELETES,
	STREAM_OPTOUT_PUSH,
	STREAM_OPTOUT_SCAN,
	STREAM_OPTOUTS,
	STREAM_PUSH,
	STREAM_RECONCILE,
)

# What each job asks the engine for; "all" is "Sync now" with every stream (the engine's default order).
JOB_STREAMS: dict[str, tuple[str, ...]] = {
	STREAM_OPTOUTS: (STREAM_OPTOUTS, STREAM_OPTOUT_PUSH),
	STREAM_CHANGES: (STREAM_CHANGES,),
	STREAM_DELETES: (STREAM_DELETES,),
	STREAM_RECONCILE: (STREAM_RECONCILE,),
	STREAM_OPTOUT_SCAN: (STREAM_OPTOUT_SCAN,),
	STREAM_PUSH: (STREAM_OPTOUT_PUSH, STREAM_ACTIVITIES, STREAM_PUSH),
	STREAM_OPTOUT_PUSH: (STREAM_OPTOUT_PUSH,),
	"all": (),
}

# The scheduled jobs and their default intervals in minutes, in the order the gate queues them.
DEFAULT_INTERVAL_MINUTES: dict[str, int] = {
	STREAM_OPTOUTS: 15,
	STREAM_CHANGES: 15,
	STREAM_DELETES: 60,
	STREAM_PUSH: 15,
	STREAM_RECONCILE: 168 * 60,
	STREAM_OPTOUT_SCAN: 24 * 60,
}
