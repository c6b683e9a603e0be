"""Shared set-up for the benchmarks: an in-process emulator filled with a generated account."""

from __future__ import annotations

import random
import resource
import time
import tracemalloc
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from cc_sync.constant_contact.auth import StaticTokenProvider
from cc_sync.constant_contact.client import ConstantContactClient
from cc_sync.constant_contact.clock import FakeClock
from cc_sync_testkit.emulator import ConstantContactEmulator, generate_account

START = datetime(2026, 11, 1, tzinfo=timezone.utc)


def account(contacts: int, seed: int = 1) -> tuple[ConstantContactEmulator, ConstantContactClient, FakeClock]:
	"""An emulator with `contacts` generated contacts, and a client on a fake clock.

	The fake clock lets the client's 4 requests/s limiter pace calls in virtual time, so the figures
	measure this code, not the sleeps CC's limit would impose (that ceiling is printed separately).
	"""
	clock = FakeClock(START)
	emu = ConstantContactEmulator(clock, rate_limit=None, daily_quota=None)
	generate_account(emu, contacts=contacts, lists=5, custom_fields=2, seed=seed)
	access, _ = emu.issue_tokens()
	emu.auth.access_token_ttl = 10**9
	client = ConstantContactClient(StaticTokenProvider(access), clock=clock, rng=random.Random(seed))
	return emu, client, clock


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
	"""Run `fn` once: its result and wall seconds."""
	t0 = time.perf_counter()
	result = fn()
	return result, time.perf_counter() - t0


def traced_peak(fn: Callable[[], Any]) -> tuple[Any, int]:
	"""Run `fn` once under tracemalloc (slow, so never in a timed pass): its result and peak bytes."""
	tracemalloc.start()
	tracemalloc.reset_peak()
	try:
		result = fn()
		_, peak = tracemalloc.get_traced_memory()
	finally:
		tracemalloc.stop()
	return result, peak


def max_rss() -> int:
	"""Peak resident memory of this process so far, in bytes."""
	return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def mib(n: int) -> str:
	return f"{n / 1024 / 1024:.1f} MiB"


def forget_calls(rsps: Any) -> None:
	"""`responses` keeps every request and response (globally and per route); a real transport keeps none,
	so memory figures drop them after each page."""
	rsps.calls.reset()
	for route in rsps.registered():
		route.calls.reset()
