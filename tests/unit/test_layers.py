"""Imports point down only: wiring -> the Frappe module -> the engine -> the CC client.

The engine and the client never import frappe (they run and are tested without a site), and nothing
below the wiring imports the wiring (`tasks`, `commands`, `hooks`), so the layers drawn in
docs/structure.md stay true.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "cc_sync"
WIRING = ("cc_sync.tasks", "cc_sync.commands", "cc_sync.hooks")
# Test apparatus: never imported by what a site installs.
TESTKIT = "cc_sync_testkit"
# Each layer and the modules it may not import (a prefix matches the module and everything under it).
FORBIDDEN = {
	"constant_contact": ("frappe", "cc_sync.sync", "cc_sync.cc_sync", *WIRING, TESTKIT),
	"sync": ("frappe", "cc_sync.cc_sync", *WIRING, TESTKIT),
	"cc_sync": (*WIRING, TESTKIT),
}


def _imports(path: Path) -> set[str]:
	names: set[str] = set()
	for node in ast.walk(ast.parse(path.read_text())):
		if isinstance(node, ast.Import):
			names.update(alias.name for alias in node.names)
		elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
			names.add(node.module)
	return names


def _violations(layer: str) -> list[str]:
	found = []
	for path in sorted((PACKAGE / layer).rglob("*.py")):
		for name in _imports(path):
			if any(name == f or name.startswith(f + ".") for f in FORBIDDEN[layer]):
				found.append(f"{path.relative_to(PACKAGE.parent)} imports {name}")
	return found


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_imports_point_down(layer):
	assert _violations(layer) == []
