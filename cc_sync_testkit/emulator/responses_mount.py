"""Mount the emulator into a `responses.RequestsMock`, so in-process `requests` calls reach it.

Both hosts are mounted: the API (`https://api.cc.email/v3`) and the authorization server. The
authorize endpoint answers with a 302 to the redirect URI; call it with `allow_redirects=False`.
Injected timeouts surface as `requests.exceptions.ReadTimeout` / `ConnectTimeout`, as a real socket
timeout would.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import requests

from .api import API_PREFIX, AUTH_PREFIX
from .faults import EmulatedTimeout

if TYPE_CHECKING:
	import responses

	from .api import ConstantContactEmulator

API_BASE = "https://api.cc.email/v3"
AUTH_BASE = "https://authz.constantcontact.com/oauth2/default/v1"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def mount(
	emu: ConstantContactEmulator,
	rsps: responses.RequestsMock,
	api_base: str = API_BASE,
	auth_base: str = AUTH_BASE,
) -> None:
	"""Register callbacks for every route of both hosts on `rsps`."""
	for base, prefix in ((api_base.rstrip("/"), API_PREFIX), (auth_base.rstrip("/"), AUTH_PREFIX)):
		pattern = re.compile(re.escape(base) + r"(?:[/?].*)?$")

		def callback(
			request: Any, base: str = base, prefix: str = prefix
		) -> tuple[int, dict[str, str], bytes]:
			target = prefix + request.url[len(base) :]
			body = request.body
			if body is not None and not isinstance(body, (bytes, str)):
				body = b"".join(body)  # a streamed body
			try:
				return emu.handle(request.method, target, dict(request.headers), body)
			except EmulatedTimeout as exc:
				if exc.connect:
					raise requests.exceptions.ConnectTimeout("emulated connect timeout", request=request)
				raise requests.exceptions.ReadTimeout("emulated read timeout", request=request)

		for method in METHODS:
			rsps.add_callback(method, pattern, callback=callback, content_type=None)


@contextmanager
def mocked(
	emu: ConstantContactEmulator, api_base: str = API_BASE, auth_base: str = AUTH_BASE
) -> Iterator[responses.RequestsMock]:
	"""A started RequestsMock with the emulator mounted; unmatched URLs still fail loudly."""
	import responses as responses_lib

	with responses_lib.RequestsMock(assert_all_requests_are_fired=False) as rsps:
		mount(emu, rsps, api_base, auth_base)
		yield rsps
