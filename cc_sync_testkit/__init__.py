"""Test apparatus and development tools for cc_sync, kept apart from what a site installs.

- `emulator`: a stateful Constant Contact V3 emulator (in-process through `responses`, or over HTTP:
  `python -m cc_sync_testkit.emulator serve`);
- `memory`: the in-memory reference store the engine's tier 1 tests and the store contract use;
- a Frappe app of its own (`hooks.py`, module "Stand-in CRM"): a standard Lead DocType with ERPNext
  v15's field names, which `dev/site` installs on its sites when ERPNext is absent.

The app's wheel carries only `cc_sync`; this package is importable from a checkout or an editable
install (as a bench has), with the `[test]` extra's dependencies.
"""

__version__ = "0.1.0"
