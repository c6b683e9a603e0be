"""Following bulk imports to their end, across runs.

An open activity is polled a bounded number of times per run; one still running is left for the next
run, never resubmitted. When it completes, its per-record errors land on the leads and in the report,
and the contacts it created are read back (one `created_after` window) to link their CC ids.
A record left `submitting` by a crash is matched against CC's recent activities: adopted when CC has
it, otherwise released so the next push sends that chunk again.
"""

from __future__ import annotations

import re
from datetime import timedelta

from cc_sync.sync.context import RunContext
from cc_sync.sync.matching import normalise_email
from cc_sync.sync.push import STATUS_FAILED, STATUS_PUSHED
from cc_sync.sync.records import STREAM_ACTIVITIES, ActivityRecord, ContactWrite, PushOutcome

_EMAIL_IN_TEXT = re.compile(r"[^\s'\"<>,;:()\[\]]+@[^\s'\"<>,;:()\[\]]+")
FAILED_STATES = {"failed", "cancelled", "timed_out"}
# How far apart our clock and CC's may be when matching a crashed submission to CC's activity list.
SUBMIT_SKEW = timedelta(minutes=5)


def run_activities(ctx: RunContext) -> None:
	report = ctx.report.stream(STREAM_ACTIVITIES)
	for record in ctx.store.open_activities():
		report.fetched += 1
		if record.state == "submitting":
			_resolve_submitting(ctx, record)
			continue
		_poll(ctx, record)


def _resolve_submitting(ctx: RunContext, record: ActivityRecord) -> None:
	report = ctx.report.stream(STREAM_ACTIVITIES)
	known = {r.activity_id for r in ctx.store.open_activities() if r.activity_id}
	found = None
	for activity in ctx.client.iter_activities(limit=50):
		created = activity.created_at
		if activity.activity_id in known or created is None or created < record.submitted_at - SUBMIT_SKEW:
			continue
		total = activity.status.items_total_count if activity.status else None
		if total == len(set(record.emails)):
			found = activity
			break
	if ctx.dry_run:
		report.plan.append(
			{"action": "resolve interrupted import", "chunk": record.chunk_id, "adopt": bool(found)}
		)
		return
	if found is not None:
		record.activity_id = found.activity_id
		record.state = found.state or "initialized"
		ctx.store.save_activity(record)
		ctx.store.record_push(
			[PushOutcome(k, "Queued", None, found.activity_id, at=ctx.now()) for k in record.keys]
		)
		ctx.store.commit()
		report.warn(None, f"import {found.activity_id} was submitted before an interruption: adopted")
		_poll(ctx, record)
		return
	# CC never received it: release the leads so the next push sends them again.
	record.state = "abandoned"
	record.finished = True
	ctx.store.save_activity(record)
	ctx.store.record_push(
		[PushOutcome(k, "Pending", "resubmitting after an interrupted push") for k in record.keys]
	)
	ctx.store.commit()
	report.warn(None, f"chunk {record.chunk_id} never reached CC: it is sent again on the next push")


def _poll(ctx: RunContext, record: ActivityRecord) -> None:
	report = ctx.report.stream(STREAM_ACTIVITIES)
	activity = None
	for attempt in range(max(1, ctx.config.activity_polls)):
		if attempt:
			ctx.clock.sleep(ctx.config.activity_poll_interval)
		activity = ctx.client.get_activity(record.activity_id)
		if activity.is_finished:
			break
	assert activity is not None
	if not activity.is_finished:
		record.state = activity.state or record.state
		if not ctx.dry_run:
			ctx.store.save_activity(record)
			ctx.store.commit()
		report.warn(None, f"import {record.activity_id} still {activity.state}: polled again next run")
		return
	if ctx.dry_run:
		report.plan.append(
			{"action": "finish import", "activity": record.activity_id, "state": activity.state}
		)
		return
	_finish(ctx, record, activity)


def _finish(ctx: RunContext, record: ActivityRecord, activity) -> None:
	report = ctx.report.stream(STREAM_ACTIVITIES)
	now = ctx.now()
	emails = sorted({normalise_email(e) for e in record.emails if e})
	keys_by_email: dict[str, list[str]] = {}
	# `keys` and `emails` run side by side: several keys share an email when leads share an address.
	for key, email in zip(record.keys, record.emails, strict=True):
		keys_by_email.setdefault(normalise_email(email) or "", []).append(key)
	errors: dict[str, str] = {}
	for message in activity.activity_errors or ():
		for token in _EMAIL_IN_TEXT.findall(message):
			address = normalise_email(token.strip("."))
			if address in keys_by_email:
				errors[address] = message
	status = activity.status
	if activity.state in FAILED_STATES:
		outcomes = [
			PushOutcome(k, STATUS_FAILED, f"import {activity.state}", record.activity_id, at=now)
			for k in record.keys
		]
		for email in emails:
			report.fail(email, f"import {record.activity_id} {activity.state}")
	else:
		cc_ids = _created_ids(ctx, record, set(keys_by_email) - set(errors))
		outcomes = []
		for email, keys in keys_by_email.items():
			if email in errors:
				report.fail(email, errors[email])
				outcomes += [
					PushOutcome(k, STATUS_FAILED, errors[email], record.activity_id, at=now) for k in keys
				]
			else:
				report.pushed += 1
				outcomes += [
					PushOutcome(k, STATUS_PUSHED, None, record.activity_id, cc_ids.get(email), at=now)
					for k in keys
				]
		_reflect_list_adds(ctx, record, [e for e in keys_by_email if e not in errors])
		unattributed = [m for m in activity.activity_errors or () if not _EMAIL_IN_TEXT.search(m)]
		for message in unattributed:
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
		"errors": len(errors),
		"error_count": getattr(status, "error_count", None),
		"cannot_add_to_list_count": getattr(status, "cannot_add_to_list_count", None),
	}
	ctx.store.save_activity(record)
	ctx.store.record_push(outcomes)
	ctx.store.commit()
	report.activity_ids.append(record.activity_id)


def _reflect_list_adds(ctx: RunContext, record: ActivityRecord, emails: list[str]) -> None:
	"""The import added these contacts to the push lists: the Email Groups pulled from those lists get
	them now (CC's list edits move no timestamp, so no incremental pull would report them)."""
	by_list = ctx.config.group_by_list
	groups = frozenset(by_list[i] for i in record.list_ids if i in by_list)
	if not groups or not emails:
		return
	managed = ctx.config.managed_groups
	writes = [
		ContactWrite(key=c.key, email=c.email, groups=(c.groups & managed) | groups)
		for c in ctx.store.find_contacts((), emails)
		if c.email and not groups <= c.groups
	]
	if writes:
		ctx.store.apply_contacts(writes, managed)
		ctx.report.stream(STREAM_ACTIVITIES).updated += len(writes)


def _created_ids(ctx: RunContext, record: ActivityRecord, emails: set[str]) -> dict[str, str]:
	"""CC ids of the chunk's contacts, from one window of contacts created or changed since the submit,
	applied through the pull path so the site links them (Contact and Lead) at once."""
	if not emails:
		return {}
	since = record.submitted_at - ctx.config.overlap
	# Addresses the site already links to a CC contact need no lookup.
	found = {c.email: c.cc_contact_id for c in ctx.store.find_contacts((), emails) if c.cc_contact_id}
	applier = ctx.applier(ctx.report.stream(STREAM_ACTIVITIES))
	# New contacts by their creation; contacts CC already held, by the update the import made.
	for window in ("created_after", "updated_after"):
		if len(found) == len(emails):
			break
		for page in ctx.client.iter_contact_pages(
			status="all", include=list(ctx.config.include), limit=ctx.config.page_limit, **{window: since}
		):
			mine = [c for c in page.contacts if c.email in emails and c.email not in found]
			for contact in mine:
				found[contact.email] = contact.contact_id
			if mine:
				applier.apply(mine)
	return found
