"""A stateful emulator of the Constant Contact V3 API, with CC's real quirks, limits and faults.

Use it in-process (`with emu.mocked():` routes `requests` to it through `responses`) or over HTTP on
loopback (`emu.start_server()`, or `python -m cc_sync_testkit.emulator serve`).
"""

from .api import ConstantContactEmulator
from .faults import EmulatedTimeout, FaultConfig
from .generator import generate_account
from .values import EmulatorError, contact_status, format_ts, parse_ts
from .wire import ApiError

__all__ = [
	"ApiError",
	"ConstantContactEmulator",
	"EmulatedTimeout",
	"EmulatorError",
	"FaultConfig",
	"contact_status",
	"format_ts",
	"generate_account",
	"parse_ts",
]
