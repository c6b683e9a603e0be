"""`python -m cc_sync_testkit.emulator serve --port 8765 --contacts 1000 --lists 5 --seed 1`."""

from __future__ import annotations

import argparse
import sys

from cc_sync.constant_contact.clock import SystemClock

from .api import ConstantContactEmulator
from .faults import FaultConfig
from .generator import generate_account


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
	access, refresh = emu.issue_tokens()
	base = f"http://{args.host}:{args.port}"
	print(f"API base:      {base}/v3")
	print(f"Auth base:     {base}/oauth2/default/v1")
	print(f"Client id:     {emu.client_id}")
	print(f"Client secret: {emu.client_secret}")
	print(f"Access token:  {access}")
	print(f"Refresh token: {refresh}")
	print(f"Account:       {len(emu)} contacts, {args.lists} lists (seed {args.seed})", flush=True)
	try:
		emu.serve(args.host, args.port, quiet=args.quiet)
	except KeyboardInterrupt:
		pass
	return 0


if __name__ == "__main__":
	sys.exit(main())
