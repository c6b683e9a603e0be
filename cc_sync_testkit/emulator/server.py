"""Serve the emulator over real HTTP (Werkzeug), on loopback only, for end-to-end runs of a site.

Paths: the API under `/v3/...`, the authorization server under `/oauth2/default/v1/...`. An injected
timeout stalls the answer for `faults.http_timeout_seconds` (capped at 60 s) of real time, then sends
what the server would have said (a 504 when the request was not applied).
"""

from __future__ import annotations

import ipaddress
import json
import threading
import time
from typing import TYPE_CHECKING, Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from .faults import EmulatedTimeout

if TYPE_CHECKING:
	from .api import ConstantContactEmulator

MAX_STALL_SECONDS = 60.0


class _EmulatorHandler(WSGIRequestHandler):
	def send_response(self, code: int, message: str | None = None) -> None:
		"""As the host's, without its `Date`: the emulator dates each answer by its own clock, as CC does."""
		self.log_request(code)
		self.send_response_only(code, message)
		self.send_header("Server", self.version_string())


class _QuietHandler(_EmulatorHandler):
	def log_request(self, *args: Any, **kwargs: Any) -> None:
		pass


class EmulatorApp:
	"""The WSGI application wrapping one emulator."""

	def __init__(self, emu: ConstantContactEmulator) -> None:
		self.emu = emu

	def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
		request = Request(environ)
		query = request.query_string.decode("latin-1")
		url = request.path + (f"?{query}" if query else "")
		try:
			status, headers, body = self.emu.handle(
				request.method, url, dict(request.headers), request.get_data()
			)
		except EmulatedTimeout as exc:
			time.sleep(min(max(self.emu.faults.http_timeout_seconds, 0.0), MAX_STALL_SECONDS))
			if exc.response is not None:
				status, headers, body = exc.response
			else:
				status, headers = 504, {"Content-Type": "application/json"}
				body = json.dumps(
					[{"error_key": "gateway.timeout", "error_message": "Gateway Timeout"}]
				).encode()
		response = Response(body, status=status, headers=headers)
		if "Content-Type" not in headers:
			response.headers.pop("Content-Type", None)
		return response(environ, start_response)


def _require_loopback(host: str) -> None:
	if host == "localhost":
		return
	try:
		loopback = ipaddress.ip_address(host).is_loopback
	except ValueError:
		loopback = False
	if not loopback:
		raise ValueError(f"the emulator binds to loopback only, not {host!r}")


class EmulatorServer:
	"""A running server in a background thread; `stop()` shuts it down."""

	def __init__(
		self, emu: ConstantContactEmulator, host: str = "127.0.0.1", port: int = 0, quiet: bool = True
	) -> None:
		_require_loopback(host)
		self.server: BaseWSGIServer = make_server(
			host,
			port,
			EmulatorApp(emu),
			threaded=True,
			request_handler=_QuietHandler if quiet else _EmulatorHandler,
		)
		self.host = host
		self.port = self.server.server_port
		self.thread = threading.Thread(target=self.server.serve_forever, name="cc-emulator", daemon=True)

	@property
	def base_url(self) -> str:
		return f"http://{self.host}:{self.port}"

	@property
	def api_base(self) -> str:
		return f"{self.base_url}/v3"

	@property
	def auth_base(self) -> str:
		return f"{self.base_url}/oauth2/default/v1"

	def start(self) -> EmulatorServer:
		self.thread.start()
		return self

	def stop(self) -> None:
		self.server.shutdown()
		self.server.server_close()
		self.thread.join(timeout=5)

	def __enter__(self) -> EmulatorServer:
		return self.start()

	def __exit__(self, *exc: object) -> None:
		self.stop()


def serve(
	emu: ConstantContactEmulator, host: str = "127.0.0.1", port: int = 8765, quiet: bool = False
) -> None:
	"""Serve in the foreground until interrupted."""
	_require_loopback(host)
	server = make_server(
		host,
		port,
		EmulatorApp(emu),
		threaded=True,
		request_handler=_QuietHandler if quiet else _EmulatorHandler,
	)
	try:
		server.serve_forever()
	finally:
		server.server_close()
