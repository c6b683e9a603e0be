"""Following bulk imports to their end, across runs.

Open imports are polled in the order they were submitted. CC runs an account's activities one after the
other, so once one is still running after this run's polls, the later ones are polled once each and left
for the next run: polls stay bounded per import, never "every poll for every open import".

An import is confirmed, not assumed (`readback`): when it completes, its leads are marked Pushed only
for the contacts CC is seen holding; CC's error text, which may or may not name addresses, only explains
a failure. Leads are stamped with the time their data was read (the submit), so an edit made while the
import ran is pushed again.

Two outcomes are unknown and are settled by reading back rather than guessed:
- a record left `submitting` (a crash or a 5xx on the POST: CC may or may not have queued it). CC's
  activity list names no type and no reliable link, so it is never matched to an entry by counts; while
  an activity unknown to the site is still running it may be ours, so the record waits for it to end,
  within the run as long as for a known import, then in later runs;
- an import CC no longer knows (404: older than CC's retention).
Either way the contacts CC holds are marked Pushed and the rest are released, with the push watermark
moved back so the next push sends them again.
"""

from __future__ import annotations

from datetime import timedelta

from cc_sync.constant_contact.errors import NotFound
from cc_sync.sync import consent, watermarks
from cc_sync.sync.context import RunContext
from cc_sync.sync.matching import normalise_email
from cc_sync.sync.readback import held_by_cc, window
from cc_sync.sync.records import ActivityRecord, ContactWrite, PushOutcome, PushStatus
from cc_sync.sync.streams import STREAM_ACTIVITIES

FAILED_STATES = {"failed", "cancelled", "timed_out"}
# How far apart our clock and CC's may be when reading back after an interrupted submission.
SUBMIT_SKEW = timedelta(minutes=5)
# How long an interrupted submission waits for unknown running activities before it is settled anyway.
SUBMIT_WAIT = timedelta(hours=6)
# Entries of CC's activity list looked at for running activities (newest first).
ACTIVITY_LIST_LOOK = 50


def run_activities(ctx: RunContext) -> None:
	report = ctx.report.stream(STREAM_ACTIVITIES)
	records = sorted(ctx.store.open_activities(), key=lambda r: (r.submitted_at, r.chunk_id))
	backlog = False
	for record in records:
		report.fetched += 1
		polls = 1 if backlog else ctx.config.activity_polls
		if record.state == "submitting":
			settled = _resolve_submitting(ctx, record, polls)
		else:
			settled = _poll(ctx, record, polls)
		backlog = backlog or not settled


def _resolve_submitting(ctx: RunContext, record: ActivityRecord, polls: int) -> bool:
	"""Settle a chunk whose submit had no answer once no activity that may be it is running; while one is,
	wait for it as for a known import (up to `polls` looks); True when settled."""
	report = ctx.report.stream(STREAM_ACTIVITIES)
	if ctx.now() - record.submitted_at < SUBMIT_WAIT:
		for attempt in range(max(1, polls)):
			if attempt:
				ctx.clock.sleep(ctx.config.activity_poll_interval)
			if not may_be_running(ctx, record):
				break
		else:
			report.warn(
				None,
				f"chunk {record.chunk_id} was interrupted while being submitted and CC is still running an "
				"activity that may be it: settled once that ends",
			)
			return False
	_settle_unknown(
		ctx, record, "abandoned", f"chunk {record.chunk_id} was interrupted while being submitted"
	)
	return True


def may_be_running(ctx: RunContext, record: ActivityRecord) -> bool:
	"""Whether CC is running an activity the site does not know, created since the chunk's submit."""
	known = {r.activity_id for r in ctx.store.open_activities() if r.activity_id}
	for n, activity in enumerate(ctx.client.iter_activities(limit=ACTIVITY_LIST_LOOK)):
		if n >= ACTIVITY_LIST_LOOK:
			break
		created = activity.created_at
		if activity.activity_id in known or activity.is_finished:
			continue
		if created is not None and created < record.submitted_at - SUBMIT_SKEW:
			continue
		return True
	return False


def _poll(ctx: RunContext, record: ActivityRecord, polls: int) -> bool:
	"""Poll up to `polls` times; True when the import is settled (finished or gone)."""
	report = ctx.report.stream(STREAM_ACTIVITIES)
	activity = None
	for attempt in range(max(1, polls)):
		if attempt:
			ctx.clock.sleep(ctx.config.activity_poll_interval)
		try:
			activity = ctx.client.get_activity(record.activity_id)
		except NotFound:
			_settle_unknown(
				ctx,
				record,
				"expired",
				f"CC no longer knows import {record.activity_id} (older than CC keeps activities)",
			)
			return True
		if activity.is_finished:
			break
	assert activity is not None
	if not activity.is_finished:
		record.state = activity.state or record.state
		if not ctx.dry_run:
			ctx.store.save_activity(record)
			ctx.store.commit()
		report.warn(None, f"import {record.activity_id} still {activity.state}: polled again next run")
		return False
	if ctx.dry_run:
		report.plan.append(
			{"action": "finish import", "activity": record.activity_id, "state": activity.state}
		)
		return True
	_finish(ctx, record, activity)
	return True


def _keys_by_email(record: ActivityRecord) -> dict[str, list[str]]:
	keys_by_email: dict[str, list[str]] = {}
	# `keys` and `emails` run side by side: several keys share an email when leads share an address.
	for key, email in zip(record.keys, record.emails, strict=True):
		keys_by_email.setdefault(normalise_email(email) or "", []).append(key)
	return keys_by_email


def _finish(ctx: RunContext, record: ActivityRecord, activity) -> None:
	report = ctx.report.stream(STREAM_ACTIVITIES)
	now = ctx.now()
	keys_by_email = _keys_by_email(record)
	status = activity.status
	outcomes: list[PushOutcome] = []
	held: dict[str, str] = {}
	if activity.state in FAILED_STATES:
		for email, keys in keys_by_email.items():
			report.fail(email, f"import {record.activity_id} {activity.state}")
			outcomes += [
				PushOutcome(k, PushStatus.FAILED, f"import {activity.state}", record.activity_id, at=now)
				for k in keys
			]
	else:
		start, end = window(activity, record.submitted_at - SUBMIT_SKEW)
		held, unread = held_by_cc(ctx, report, keys_by_email, start, end)
		messages = list(activity.activity_errors or ())
		# An import this run sent was counted by the push already: a record counts once per run.
		sent_earlier = record.submitted_at < ctx.report.started
		for email, keys in keys_by_email.items():
			if email in held:
				report.pushed += int(sent_earlier)
				outcomes += [
					# Stamped with the submit time: an edit made while the import ran is pushed again.
					PushOutcome(
						k, PushStatus.PUSHED, None, record.activity_id, held[email], at=record.submitted_at
					)
					for k in keys
				]
				continue
			reason = _why_not_held(record, email, messages, status.error_count if status else None)
			report.fail(email or None, reason)
			outcomes += [PushOutcome(k, PushStatus.FAILED, reason, record.activity_id, at=now) for k in keys]
		_reflect_list_adds(ctx, record, sorted(unread))
		named = {m for m in messages if any(e and e in m.lower() for e in keys_by_email)}
		for message in messages:
			if message not in named:
				report.fail(None, f"import {record.activity_id}: {message}")
		if status is not None and status.cannot_add_to_list_count:
			report.warn(
				None,
				f"import {record.activity_id}: {status.cannot_add_to_list_count} contact(s) are unsubscribed in "
				"CC and were left out of the lists",
			)
	record.state = activity.state
	record.finished = True
	record.result = {
		"held": len(held),
		"not_held": len(keys_by_email) - len(held),
		"error_count": status.error_count if status else None,
		"cannot_add_to_list_count": status.cannot_add_to_list_count if status else None,
	}
	ctx.store.save_activity(record)
	ctx.store.record_push(outcomes)
	ctx.store.commit()
	report.activity_ids.append(record.activity_id)


def _why_not_held(record: ActivityRecord, email: str, messages: list[str], error_count: int | None) -> str:
	said = [m for m in messages if email and email in m.lower()]
	if said:
		return f"CC does not hold this contact after import {record.activity_id}: {'; '.join(said)}"
	counted = f"; CC reported {error_count} row error(s) without naming addresses" if error_count else ""
	return f"CC does not hold this contact after import {record.activity_id}{counted}"


def _settle_unknown(ctx: RunContext, record: ActivityRecord, state: str, why: str) -> None:
	"""Whatever became of the chunk, mark Pushed what CC holds and release the rest for the next push."""
	report = ctx.report.stream(STREAM_ACTIVITIES)
	keys_by_email = _keys_by_email(record)
	if ctx.dry_run:
		report.plan.append({"action": "read back interrupted import", "chunk": record.chunk_id})
		return
	# Only contacts read back count: an unchanged contact CC held before proves nothing about this chunk.
	held, _ = held_by_cc(
		ctx, report, keys_by_email, record.submitted_at - SUBMIT_SKEW, None, trust_linked=False, lookups=0
	)
	outcomes: list[PushOutcome] = []
	for email, keys in keys_by_email.items():
		if email in held:
			report.pushed += 1
			outcomes += [
				PushOutcome(
					k, PushStatus.PUSHED, None, record.activity_id, held[email], at=record.submitted_at
				)
				for k in keys
			]
		else:
			outcomes += [
				PushOutcome(k, PushStatus.PENDING, f"{why}: sent again on the next push") for k in keys
			]
	released = len(keys_by_email) - len(held)
	record.state = state
	record.finished = True
	record.result = {"held": len(held), "released": released}
	ctx.store.save_activity(record)
	ctx.store.record_push(outcomes)
	if released:
		watermarks.rewind_push(ctx.store)
	ctx.store.commit()
	report.warn(None, f"{why}: {len(held)} contact(s) seen in CC, {released} sent again on the next push")


def _reflect_list_adds(ctx: RunContext, record: ActivityRecord, emails: list[str]) -> None:
	"""Contacts CC already held, which the import left unchanged and so were not read back, are on the
	push lists now: the Email Groups pulled from those lists get them (CC's list edits move no timestamp,
	so no incremental pull would report them). Which rows, and in which state, is the consent module's
	decision: anyone opted out, or with a row already (a leave above all), is left alone."""
	by_list = ctx.config.group_by_list
	groups = frozenset(by_list[i] for i in record.list_ids if i in by_list)
	if not groups or not emails:
		return
	states = ctx.store.consent_state(emails)
	now = ctx.now()
	writes = []
	for contact in ctx.store.find_contacts((), emails):
		state = states.get(contact.email or "")
		if state is None:
			continue
		rows = consent.rows_after_import(state, groups, now=now)
		if rows:
			writes.append(
				ContactWrite(
					key=contact.key,
					email=state.email,
					opted_out=state.opted_out,
					rows=rows,
					premise_opted_out=state.opted_out,
					premise_opted_out_at=state.opted_out_at,
					premise_rows={g: None for g in rows},
				)
			)
	if writes:
		applied = ctx.store.apply_contacts(writes, ctx.config.managed_groups)
		ctx.report.stream(STREAM_ACTIVITIES).updated += sum(1 for key in applied if key is not None)
