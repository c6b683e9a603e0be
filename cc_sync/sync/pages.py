"""Reading CC's contact pages into the site, as every pull stream does it.

Each page is applied and committed on its own, so a run that stops part way keeps what it applied; a
record CC sent that cannot be read is logged with its reason and a raw snippet, and the rest of its page
is applied.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from cc_sync.constant_contact.models import RecordProblem
from cc_sync.sync.apply import PageApplier
from cc_sync.sync.context import RunContext
from cc_sync.sync.matching import normalise_email
from cc_sync.sync.report import StreamReport


def apply_pages(ctx: RunContext, query: dict[str, Any], applier: PageApplier) -> int | None:
	"""Apply every page of one query, committing each; returns CC's count when the query asked for it."""
	count = None
	for number, page in enumerate(ctx.client.iter_contact_pages(**query)):
		if number == 0:
			count = page.contacts_count
		note_problems(applier.report, page.problems)
		applier.apply(page.contacts)
		if not ctx.dry_run:
			ctx.store.commit()
	return count


def note_problems(report: StreamReport, problems: Iterable[RecordProblem]) -> None:
	"""Log the records of a page that were skipped or read in part, each with its reason and raw start."""
	for problem in problems:
		email = normalise_email(problem.email) if isinstance(problem.email, str) else None
		who = "" if email else f" (CC contact {problem.contact_id})" if problem.contact_id else ""
		if problem.skipped:
			report.fetched += 1
			report.skip(
				email,
				f"CC sent a record that cannot be read{who}, skipped: {problem.reason}. Raw: {problem.snippet}",
			)
		else:
			report.warn(email, f"applied; {problem.reason}{who}. Raw: {problem.snippet}")
