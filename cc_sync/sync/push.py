"""New and changed leads reach CC through the bulk JSON import, never through sign_up_form.

Excluded before anything is sent: invalid or missing emails, and every address either side knows as
opted out or deleted. Which CC lists a row carries is decided per person (`consent.push_lists`): never
a list whose mapped group the person left, so an import puts nobody back on a list they left. Chunks stay under CC's 40,000 contacts and 4 MB (smaller by configuration), each
recorded as `submitting` before its POST, so a crash between the POST and saving the activity id is
recognised on the next run rather than imported twice. The push watermark moves only once every
chunk is recorded.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cc_sync.constant_contact.errors import Refused, ServerError, TransportError
from cc_sync.constant_contact.report_models import bounce_words
from cc_sync.constant_contact.transport import Retry
from cc_sync.sync import activities, consent, field_updates, watermarks
from cc_sync.sync.context import RunContext
from cc_sync.sync.fieldmap import import_row
from cc_sync.sync.matching import email_problem, normalise_email, written_email
from cc_sync.sync.records import ActivityRecord, PushCandidate, PushOutcome, PushStatus
from cc_sync.sync.report import StreamStatus
from cc_sync.sync.streams import STREAM_PUSH

# Addresses a dry run names per chunk it would import (the rest are counted).
PLAN_EMAILS = 5
# A submit CC answered with a 5xx or never answered is sent again within the run after these waits, but
# only while CC lists no import it may have started from it (else the next run settles it).
RESUBMIT_WAITS = (5.0, 15.0, 40.0)


@dataclass
class Chunk:
	rows: list[dict[str, Any]] = field(default_factory=list)
	keys: list[str] = field(default_factory=list)
	emails: list[str] = field(default_factory=list)
	size: int = 0
	# The CC lists this chunk's people are imported into: decided per person, grouped.
	list_ids: list[str] = field(default_factory=list)


def plan_chunks(
	rows: Iterable[tuple[list[str], dict[str, Any]]], max_contacts: int, max_bytes: int
) -> Iterator[Chunk]:
	"""Split import rows into chunks under both limits; the envelope's bytes are counted too."""
	envelope = 200  # {"import_data": [...], "list_ids": [...]} with up to a few list ids
	chunk = Chunk(size=envelope)
	for keys, row in rows:
		row_bytes = len(json.dumps(row, separators=(",", ":")).encode()) + 1
		if chunk.rows and (len(chunk.rows) >= max_contacts or chunk.size + row_bytes > max_bytes):
			yield chunk
			chunk = Chunk(size=envelope)
		chunk.rows.append(row)
		# keys and emails side by side, one pair per lead
		chunk.keys.extend(keys)
		chunk.emails.extend([row["email"]] * len(keys))
		chunk.size += row_bytes
	if chunk.rows:
		yield chunk


def run_push(ctx: RunContext) -> None:
	report = ctx.report.stream(STREAM_PUSH)
	store = ctx.store
	list_ids = ctx.config.push_list_ids
	mark = watermarks.read(ctx, STREAM_PUSH)
	if not list_ids:
		report.status = StreamStatus.SKIPPED
		report.error = "no CC list is mapped for push: map one in Constant Contact List Mapping"
		return
	started = mark.started
	chunks, updates = _prepare(ctx, store.push_candidates(mark.since), started)
	if ctx.dry_run:
		# As the pulls count what they would change, the push counts what it would send.
		report.pushed += sum(len(chunk.rows) for chunk in chunks)
		for n, chunk in enumerate(chunks, 1):
			report.plan.append(
				{
					"action": "import",
					"chunk": n,
					"contacts": len(chunk.rows),
					"bytes": chunk.size,
					"list_ids": chunk.list_ids,
					# Who would be sent, as far as a person reads a table: the first few addresses.
					"emails": [row["email"] for row in chunk.rows[:PLAN_EMAILS]],
				}
			)
		_send_field_updates(ctx, updates, started)
		watermarks.advance(ctx, mark, started)
		return
	# "X of N": the records handed to CC so far, of those this run sends (a record per lead, not per row).
	total = sum(len(chunk.keys) for chunk in chunks)
	sent = 0
	if total:
		ctx.progress(STREAM_PUSH, sent, total)
	for n, chunk in enumerate(chunks, 1):
		submit_chunk(ctx, chunk, chunk.list_ids, f"{started:%Y%m%dT%H%M%S%f}-{n:05d}")
		sent += len(chunk.keys)
		ctx.progress(STREAM_PUSH, sent, total)
	if _send_field_updates(ctx, updates, started):
		# Some wait for the next run: it looks at every record again (those sent are not sent twice).
		watermarks.move(ctx, STREAM_PUSH, watermarks.PUSH_REWIND)
		return
	watermarks.advance(ctx, mark, started)


def _send_field_updates(ctx: RunContext, updates: list[field_updates.FieldUpdate], now) -> bool:
	"""Send the site-owned fields of people CC holds that no import carries; True when some wait."""
	if not updates:
		return False
	outcomes = field_updates.send(ctx, updates, now)
	if not ctx.dry_run:
		ctx.store.record_push(outcomes)
		ctx.store.commit()
	return any(o.status == PushStatus.PENDING for o in outcomes)


def push_email(ctx: RunContext, email: str) -> None:
	"""Push the site's records for one address now ("Sync now"), whatever the push watermark says."""
	report = ctx.report.stream(STREAM_PUSH)
	list_ids = ctx.config.push_list_ids
	if not list_ids:
		report.status = StreamStatus.SKIPPED
		report.error = "no CC list is mapped for push"
		return
	now = ctx.now()
	mine = [c for c in ctx.store.push_candidates(None, email=email) if normalise_email(c.email) == email]
	for candidate in mine:
		candidate.pushed_at = None  # an explicit request pushes again
	chunks, updates = _prepare(ctx, mine, now)
	if ctx.dry_run:
		report.plan.extend({"action": "import", "contacts": len(c.rows)} for c in chunks)
		_send_field_updates(ctx, updates, now)
		return
	for n, chunk in enumerate(chunks, 1):
		submit_chunk(ctx, chunk, chunk.list_ids, f"{now:%Y%m%dT%H%M%S%f}-one-{n:05d}")
	_send_field_updates(ctx, updates, now)


def _prepare(
	ctx: RunContext, source: Iterable[PushCandidate], now
) -> tuple[list[Chunk], list[field_updates.FieldUpdate]]:
	"""Filter candidates (invalid, opted out, in flight, already pushed), build rows, chunk them; and
	the people CC holds whose site-owned fields no import carries (sent by PUT).

	Skips are recorded on the records at once (unless dry run).
	"""
	outcomes: list[PushOutcome] = []
	updates: list[field_updates.FieldUpdate] = []
	candidates = _candidates(ctx, source, outcomes, now)
	by_lists = _rows_by_lists(ctx, candidates, outcomes, updates, now)
	if outcomes and not ctx.dry_run:
		ctx.store.record_push(outcomes)
		ctx.store.commit()
	chunks = []
	for lists, rows in sorted(by_lists.items()):
		for chunk in plan_chunks(rows.values(), ctx.config.chunk_max_contacts, ctx.config.chunk_max_bytes):
			chunk.list_ids = list(lists)
			chunks.append(chunk)
	return chunks, updates


def _in_flight(ctx: RunContext) -> dict[str, datetime]:
	"""When each record's latest open import read its data: one edited since is sent again now, or the
	edit would be lost (the import carries the old values and the watermark moves past the edit)."""
	in_flight: dict[str, datetime] = {}
	for record in ctx.store.open_activities():
		for key in record.keys:
			in_flight[key] = max(in_flight.get(key, record.submitted_at), record.submitted_at)
	return in_flight


def _candidates(
	ctx: RunContext, source: Iterable[PushCandidate], outcomes: list[PushOutcome], now
) -> list[PushCandidate]:
	"""The records worth sending: not in an import that read them as they are, not imported since their
	last change, and with an address CC accepts (the others are skipped with the reason)."""
	report = ctx.report.stream(STREAM_PUSH)
	in_flight = _in_flight(ctx)
	candidates: list[PushCandidate] = []
	for candidate in source:
		queued_at = in_flight.get(candidate.key)
		if queued_at is not None and (candidate.modified is None or candidate.modified <= queued_at):
			continue
		if candidate.pushed_at and candidate.modified and candidate.pushed_at >= candidate.modified:
			# Already imported since its last change (a resumed run): never imported twice.
			continue
		if candidate.groups is not None and not _group_lists(ctx, candidate.groups):
			continue  # a sign-up to a group no CC list is pushed from: not for CC
		report.fetched += 1
		problem = email_problem(candidate.email)
		if problem:
			report.skip(candidate.email, problem, candidate.key)
			outcomes.append(PushOutcome(candidate.key, PushStatus.SKIPPED, problem, at=now))
			continue
		candidates.append(candidate)
	return candidates


# One import row, with the keys of every record (lead) of its address: they all follow its outcome.
RowEntry = tuple[list[str], dict[str, Any]]


def _rows_by_lists(
	ctx: RunContext,
	candidates: list[PushCandidate],
	outcomes: list[PushOutcome],
	updates: list[field_updates.FieldUpdate],
	now,
) -> dict[tuple[str, ...], dict[str, RowEntry]]:
	"""One import row per address, grouped by the CC lists it goes to; consent decides the lists, and an
	address with none (opted out, left them all) gets its outcome instead. Someone CC holds whom no list
	may carry has their site-owned fields sent by PUT (`updates`); with none, nothing is sent."""
	report = ctx.report.stream(STREAM_PUSH)
	addresses = {normalise_email(c.email) for c in candidates}
	states = ctx.store.consent_state(addresses) if addresses else {}
	bounced = ctx.store.bounced_emails(addresses) if addresses else {}
	in_cc = _held_in_cc(ctx, addresses)
	by_lists: dict[tuple[str, ...], dict[str, RowEntry]] = {}
	seen: dict[str, RowEntry] = {}
	lists_of: dict[str, set[str]] = {}
	in_place: dict[str, tuple[str | None, str | None]] = {}
	updating: dict[str, field_updates.FieldUpdate] = {}
	for candidate in candidates:
		email = normalise_email(candidate.email)
		assert email is not None
		state = states.get(email)
		if state is not None and state.never_push:
			reason = "opted out or deleted on one side: never pushed"
			report.skip(email, reason, candidate.key)
			outcomes.append(PushOutcome(candidate.key, PushStatus.SKIPPED, reason, at=now))
			continue
		if email in bounced:
			# A hard bounce: the address does not exist (or CC suspended it); never sent again until it changes.
			reason = (
				f"hard-bounced in CC ({bounce_words(bounced[email])}): never pushed until the address changes"
			)
			report.skip(email, reason, candidate.key)
			outcomes.append(PushOutcome(candidate.key, PushStatus.SKIPPED, reason, at=now))
			continue
		if email in updating:
			updating[email].keys.append(candidate.key)
			continue
		if email in in_place:
			note, cc_id = in_place[email]
			outcomes.append(PushOutcome(candidate.key, PushStatus.PUSHED, note, cc_contact_id=cc_id, at=now))
			continue
		known = bool(candidate.cc_contact_id) or email in in_cc
		if email in seen:
			# Two records, one address: one row, both follow its outcome, on the lists of either.
			seen[email][0].append(candidate.key)
			if candidate.groups is not None:
				lists_of[email].update(_lists_and_row(ctx, candidate, email, state, known)[0])
			continue
		lists, row = _lists_and_row(ctx, candidate, email, state, known)
		own = field_updates.site_owned_values(candidate.fields, ctx.config.field_map) if known else {}
		if not lists and own:
			# CC holds them and no list may carry them: their own fields go by PUT.
			update = field_updates.FieldUpdate(
				email, candidate.cc_contact_id or in_cc.get(email), own, [candidate.key]
			)
			updates.append(update)
			updating[email] = update
		elif not lists and known:
			# CC holds them and the site owns nothing it could send: nothing to import, and they are in CC.
			note = field_updates.NOTHING_OWN
			cc_id = candidate.cc_contact_id or in_cc.get(email)
			outcomes.append(PushOutcome(candidate.key, PushStatus.PUSHED, note, cc_contact_id=cc_id, at=now))
			in_place[email] = (note, cc_id)
			report.unchanged += 1
		elif not lists:
			reason = "left every CC list mapped for push: never put back on one"
			report.skip(email, reason, candidate.key)
			outcomes.append(PushOutcome(candidate.key, PushStatus.SKIPPED, reason, at=now))
		else:
			seen[email] = ([candidate.key], row)
			lists_of[email] = set(lists)
	for email, entry in seen.items():
		by_lists.setdefault(tuple(sorted(lists_of[email])), {})[email] = entry
	return by_lists


def _held_in_cc(ctx: RunContext, addresses: Collection[str]) -> dict[str, str | None]:
	"""Addresses CC already holds (linked on the site), with the CC id when the site knows it: CC-owned
	fields are not sent for them. A Contact made from CC's export carries CC's permission but no CC id
	(exports name none)."""
	return {
		c.email: c.cc_contact_id
		for c in ctx.store.find_contacts((), addresses)
		if c.cc_contact_id or c.cc_permission
	}


def _lists_and_row(
	ctx: RunContext,
	candidate: PushCandidate,
	email: str,
	state: consent.AddressConsent | None,
	known: bool,
) -> tuple[list[str], dict[str, Any]]:
	"""The CC lists consent allows for the address, and its import row (none for someone CC holds when
	the row would carry nothing but the address)."""
	# Matched on the key, sent as the person wrote it.
	row = import_row(written_email(candidate.email) or email, candidate.fields, ctx.config.field_map, known)
	list_groups = ctx.config.push_list_groups
	if candidate.groups is not None:
		allowed = _group_lists(ctx, candidate.groups)
		list_groups = {list_id: groups for list_id, groups in list_groups.items() if list_id in allowed}
	lists = consent.push_lists(state, list_groups, known_in_cc=known, pulled_groups=ctx.config.managed_groups)
	if known and len(row) == 1:
		# Nothing but the address to send someone CC holds: no import at all.
		lists = []
	return lists, row


def _group_lists(ctx: RunContext, groups: Collection[str]) -> set[str]:
	"""The CC lists pushed from any of these groups."""
	by_group = ctx.config.push_lists_by_group
	return {list_id for group in groups for list_id in by_group.get(group, ())}


def _import(ctx: RunContext, record: ActivityRecord, chunk: Chunk, list_ids: list[str]):
	"""Submit the chunk's import; a submit whose outcome is unknown is sent again while CC lists no
	activity it may have started, so a passing 5xx costs the chunk seconds, not a whole interval."""
	waits = iter(RESUBMIT_WAITS)
	while True:
		try:
			return ctx.client.import_contacts_json(chunk.rows, list_ids)
		except (ServerError, TransportError) as exc:
			wait = next(waits, None)
			# Listing CC's activities may fail too: then the record stays `submitting` for the next run.
			if wait is None or activities.may_be_running(ctx, record):
				raise
			ctx.clock.sleep(wait)
			ctx.report.stream(STREAM_PUSH).retries.append(
				Retry(f"import of chunk {record.chunk_id}", f"{type(exc).__name__}: {exc}"[:200], wait)
			)


def submit_chunk(ctx: RunContext, chunk: Chunk, list_ids: list[str], chunk_id: str) -> None:
	report = ctx.report.stream(STREAM_PUSH)
	store = ctx.store
	now = ctx.now()
	record = ActivityRecord(
		chunk_id=chunk_id,
		kind="import",
		state="submitting",
		submitted_at=now,
		keys=list(chunk.keys),
		emails=list(chunk.emails),
		list_ids=list(list_ids),
	)
	store.save_activity(record)
	store.commit()
	try:
		activity = _import(ctx, record, chunk, list_ids)
	except Refused as exc:
		# CC refused the request itself: nothing was queued, so the chunk fails as a whole. On any other
		# error it is unknown whether CC queued it: the record stays `submitting` for the next run.
		record.state = "failed"
		record.finished = True
		record.result = {"error": str(exc)}
		store.save_activity(record)
		store.record_push(
			[PushOutcome(k, PushStatus.FAILED, f"import refused: {exc}", at=now) for k in chunk.keys]
		)
		for row in chunk.rows:
			report.fail(row["email"], f"import refused: {exc}")
		store.commit()
		return
	record.activity_id = activity.activity_id
	record.state = activity.state or "initialized"
	store.save_activity(record)
	store.record_push(
		[PushOutcome(k, PushStatus.QUEUED, None, activity.activity_id, at=now) for k in chunk.keys]
	)
	store.commit()
	report.pushed += len(chunk.rows)
	report.activity_ids.append(activity.activity_id)
