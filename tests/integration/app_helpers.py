"""Helpers for the app-level tier 2 tests: recording what would leave the site, and putting the
settings back the way a test found them. Imported only once a site is connected.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

import frappe

from cc_sync.cc_sync.constants import SETTINGS


class Recorder:
	"""Stands in for `frappe.enqueue` and for every HTTP request, and remembers each call.

	Its enqueue keeps RQ's deduplication rule (a job id already queued is not queued again) with a
	pause between the check and the add, so two unguarded callers racing each other would both get in.
	"""

	def __init__(self) -> None:
		self.enqueued: list[dict[str, Any]] = []
		self.http: list[tuple[str, str]] = []
		self.queued_ids: set[str] = set()
		self._lock = threading.Lock()

	def enqueue(self, method: Any, **kwargs: Any) -> Any:
		job_id = kwargs.get("job_id")
		if kwargs.get("deduplicate"):
			with self._lock:
				already = job_id in self.queued_ids
			if already:
				return None
			threading.Event().wait(0.05)
		with self._lock:
			self.queued_ids.add(job_id)
			self.enqueued.append({"method": method, **kwargs})
		return object()

	def request(self, session: Any, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
		self.http.append((method, url))
		raise AssertionError(f"unexpected HTTP call: {method} {url}")


@contextmanager
def recording(monkeypatch: Any) -> Iterator[Recorder]:
	rec = Recorder()
	monkeypatch.setattr(frappe, "enqueue", rec.enqueue)
	monkeypatch.setattr(
		requests.Session, "request", lambda self, m, u, *a, **k: rec.request(self, m, u, *a, **k)
	)
	yield rec


@contextmanager
def settings_restored() -> Iterator[None]:
	"""Snapshot the settings (values and encrypted tokens) and put them back afterwards."""
	frappe.db.commit()
	singles = frappe.db.sql("select field, value from `tabSingles` where doctype=%s", SETTINGS)
	auth = frappe.db.sql(
		"select fieldname, password, encrypted from `__Auth` where doctype=%s and name=%s",
		(SETTINGS, SETTINGS),
	)
	try:
		yield
	finally:
		frappe.db.rollback()
		frappe.db.sql("delete from `tabSingles` where doctype=%s", SETTINGS)
		for field, value in singles:
			frappe.db.sql(
				"insert into `tabSingles` (doctype, field, value) values (%s, %s, %s)",
				(SETTINGS, field, value),
			)
		frappe.db.sql("delete from `__Auth` where doctype=%s and name=%s", (SETTINGS, SETTINGS))
		for fieldname, password, encrypted in auth:
			frappe.db.sql(
				"insert into `__Auth` (doctype, name, fieldname, password, encrypted) values (%s, %s, %s, %s, %s)",
				(SETTINGS, SETTINGS, fieldname, password, encrypted),
			)
		frappe.db.commit()
		frappe.clear_document_cache(SETTINGS, SETTINGS)


def make_user(email: str, roles: tuple[str, ...] = ()) -> str:
	"""A desk user with only the given roles."""
	if not frappe.db.exists("User", email):
		user = frappe.get_doc(
			{
				"doctype": "User",
				"email": email,
				"first_name": email.split("@")[0],
				"send_welcome_email": 0,
				"user_type": "System User",
			}
		)
		user.insert(ignore_permissions=True)
		if roles:
			user.add_roles(*roles)
	frappe.db.commit()
	return email


def drop_user(email: str) -> None:
	frappe.set_user("Administrator")
	frappe.delete_doc("User", email, ignore_permissions=True, force=True, delete_permanently=True)
	frappe.db.commit()


def save_settings(change: Any) -> Any:
	"""Load, change and save the settings; retried when another test on the shared site saved them first."""
	for attempt in range(5):
		doc = frappe.get_doc(SETTINGS)
		change(doc)
		try:
			doc.save()
			frappe.db.commit()
			return doc
		except frappe.TimestampMismatchError:
			frappe.db.rollback()
			if attempt == 4:
				raise
			threading.Event().wait(0.2)
	return None


def _free_port() -> int:
	with socket.socket() as s:
		s.bind(("127.0.0.1", 0))
		return s.getsockname()[1]


@contextmanager
def serve_emulator(*extra: str) -> Iterator[dict[str, str]]:
	"""The emulator served on a free loopback port (60 contacts, 2 lists); `extra` adds serve options,
	e.g. `--optout-after empty`. Yields its API and auth bases and client credentials."""
	port = _free_port()
	repo = Path(__file__).resolve().parents[2]
	proc = subprocess.Popen(
		[
			*(sys.executable, "-m", "cc_sync_testkit.emulator", "serve", "--port", str(port)),
			*("--contacts", "60", "--lists", "2", "--seed", "7", "--no-rate-limit", "--quiet", *extra),
		],
		cwd=repo,
		stdout=subprocess.PIPE,
		stderr=subprocess.STDOUT,
		text=True,
	)
	info: dict[str, str] = {}
	deadline = time.monotonic() + 30
	while time.monotonic() < deadline and "Account" not in info:
		line = proc.stdout.readline()
		if not line:
			break
		key, _, value = line.partition(":")
		info[key.strip()] = value.strip()
	# The banner is printed just before the socket is bound: wait until it accepts connections.
	while time.monotonic() < deadline and "Account" in info:
		try:
			socket.create_connection(("127.0.0.1", port), timeout=1).close()
			break
		except OSError:
			time.sleep(0.1)
	else:
		proc.kill()
		raise AssertionError(f"the emulator did not start: {info}")
	try:
		yield {
			"api": info["API base"],
			"auth": info["Auth base"],
			"id": info["Client id"],
			"secret": info["Client secret"],
		}
	finally:
		proc.terminate()
		proc.wait(timeout=10)
