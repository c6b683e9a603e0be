"""`python -m cc_sync_testkit.emulator serve --port 8765 --contacts 1000 --lists 5 --seed 1`."""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta

from cc_sync.constant_contact.clock import SystemClock

from .api import ConstantContactEmulator
from .faults import FaultConfig
from .generator import generate_account

DEMO_RATES = {"open_rate": 0.25, "click_rate": 0.04, "bounce_rate": 0.02, "optout_rate": 0.005}


def send_demo_campaigns(emu: ConstantContactEmulator, count: int) -> None:
	"""Campaigns to the list a demo maps first (the first by name), at typical rates."""
	if not count:
		return
	first = min(emu._lists.values(), key=lambda lst: lst["name"])["list_id"]
	now = emu.clock.now()
	for i in range(count):
		sent = now - timedelta(days=2 * (count - 1 - i))
		emu.send_campaign(
			first, name=f"Newsletter {sent:%B %d}", subject=f"News for {sent:%B}", sent_at=sent, **DEMO_RATES
		)


def main(argv: list[str] | None = None) -> int:
	parser = argparse.ArgumentParser(prog="python -m cc_sync_testkit.emulator")
	sub = parser.add_subparsers(dest="command", required=True)
	serve = sub.add_parser("serve", help="serve a seeded account over HTTP on loopback")
	serve.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
	serve.add_argument("--port", type=int, default=8765)
	serve.add_argument("--contacts", type=int, default=1000)
	serve.add_argument("--lists", type=int, default=5)
	serve.add_argument("--custom-fields", type=int, default=2)
	serve.add_argument("--seed", type=int, default=1)
	serve.add_argument("--domain", default="example.com", help="the generated addresses' domain")
	serve.add_argument("--no-rate-limit", action="store_true", help="turn the 4 requests/s throttle off")
	serve.add_argument("--quota", type=int, default=10_000, help="daily call budget (0 = unlimited)")
	serve.add_argument("--fail-rate", type=float, default=0.0, help="share of API calls given a random fault")
	serve.add_argument("--activity-steps", type=int, default=2, help="polls until a bulk activity completes")
	serve.add_argument("--token-ttl", type=float, default=86400.0, help="access token lifetime in seconds")
	serve.add_argument("--quiet", action="store_true", help="do not log each request")
	serve.add_argument(
		"--optout-after",
		choices=("filters", "ignored", "empty"),
		default="filters",
		help="how CC answers optout_after: filters, is ignored, or returns nothing",
	)
	serve.add_argument(
		"--refresh-tokens", choices=("rotating", "long_lived"), default="rotating", help="refresh token kind"
	)
	serve.add_argument(
		"--import-errors",
		choices=("named", "counts"),
		default="named",
		help="whether an import's activity_errors name the addresses, or CC reports only error counts",
	)
	serve.add_argument(
		"--campaigns",
		type=int,
		default=0,
		help="campaigns sent to the first list by name: the first two days ago, the last now (engagement "
		"keeps arriving for two days)",
	)
	args = parser.parse_args(argv)

	emu = ConstantContactEmulator(
		SystemClock(),
		seed=args.seed,
		rate_limit=None if args.no_rate_limit else 4,
		daily_quota=args.quota or None,
		access_token_ttl=args.token_ttl,
		activity_steps=args.activity_steps,
		faults=FaultConfig(rate=args.fail_rate, seed=args.seed),
		optout_after=args.optout_after,
		refresh_tokens=args.refresh_tokens,
		import_errors=args.import_errors,
	)
	generate_account(
		emu,
		contacts=args.contacts,
		lists=args.lists,
		custom_fields=args.custom_fields,
		seed=args.seed,
		domain=args.domain,
	)
	send_demo_campaigns(emu, args.campaigns)
	access, refresh = emu.issue_tokens()
	base = f"http://{args.host}:{args.port}"
	print(f"API base:      {base}/v3")
	print(f"Auth base:     {base}/oauth2/default/v1")
	print(f"Client id:     {emu.client_id}")
	print(f"Client secret: {emu.client_secret}")
	print(f"Access token:  {access}")
	print(f"Refresh token: {refresh}")
	print(f"Account:       {len(emu)} contacts, {args.lists} lists (seed {args.seed})")
	print(f"Campaigns:     {args.campaigns} sent", flush=True)
	try:
		emu.serve(args.host, args.port, quiet=args.quiet)
	except KeyboardInterrupt:
		pass
	return 0


if __name__ == "__main__":
	sys.exit(main())
