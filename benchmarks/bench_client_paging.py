"""How fast the client pages and parses contacts from the in-process emulator.

    python -m benchmarks.bench_client_paging [--contacts 100000]

Prints contacts paged and parsed per second, pages fetched and peak memory. The client streams pages,
so peak memory is one page's worth, not the account's.
"""

from __future__ import annotations

import argparse

from benchmarks.common import account, forget_calls, mib, timed, traced_peak

INCLUDE = ["custom_fields", "list_memberships", "phone_numbers", "street_addresses"]


def page_all(client, rsps=None) -> tuple[int, int]:
	pages = contacts = 0
	for page in client.iter_contact_pages(status="all", include=INCLUDE, limit=500):
		pages += 1
		contacts += len(page.contacts)
		if rsps is not None:
			forget_calls(rsps)
	return pages, contacts


def main() -> None:
	parser = argparse.ArgumentParser()
	parser.add_argument("--contacts", type=int, default=100_000)
	args = parser.parse_args()
	emu, client, _clock = account(args.contacts)
	with emu.mocked() as rsps:
		(pages, contacts), seconds = timed(lambda: page_all(client, rsps))
		calls = client.calls
		_, peak = traced_peak(lambda: page_all(client, rsps))
	print(f"client paging: {contacts:,} contacts in {pages} pages, {seconds:.2f} s")
	print(f"  {contacts / seconds:,.0f} contacts/s paged and parsed (emulator serving included)")
	print(f"  peak traced memory while paging: {mib(peak)}")
	print(f"  API calls: {calls}; at CC's 4 requests/s that is {calls / 4:.0f} s of CC's time")


if __name__ == "__main__":
	main()
