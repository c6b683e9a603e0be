"""Imports point down only: wiring -> the Frappe module -> the engine -> the CC client.

The engine and the client never import frappe (they run and are tested without a site), and nothing
below the wiring imports the wiring (`tasks`, `commands`, `hooks`), so the layers drawn in
docs/structure.md stay true. Inside a layer too, no two modules import each other, however indirectly
and wherever the import sits (a function-level import that hides a circle counts); an import only for
type checkers (`if TYPE_CHECKING:`) does not.
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


def _module_name(path: Path) -> str:
	parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
	if parts[-1] == "__init__":
		parts.pop()
	return ".".join(parts)


def _type_checking_only(tree: ast.AST) -> set[int]:
	"""The nodes under `if TYPE_CHECKING:`: imports made for type checkers, never at run time."""
	skipped: set[int] = set()
	for node in ast.walk(tree):
		test = node.test if isinstance(node, ast.If) else None
		if getattr(test, "id", None) == "TYPE_CHECKING" or getattr(test, "attr", None) == "TYPE_CHECKING":
			skipped.update(id(n) for n in ast.walk(node))
	return skipped


def _import_graph() -> dict[str, set[str]]:
	"""Each module of the package and the package's modules it imports at run time."""
	paths = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
	graph: dict[str, set[str]] = {}
	for name, path in paths.items():
		tree = ast.parse(path.read_text())
		skipped = _type_checking_only(tree)
		found: set[str] = set()
		for node in ast.walk(tree):
			if id(node) in skipped:
				continue
			if isinstance(node, ast.Import):
				found.update(a.name for a in node.names if a.name in paths)
			elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
				for alias in node.names:
					# `from cc_sync.sync import pull` imports the module pull.
					submodule = f"{node.module}.{alias.name}"
					found.add(submodule if submodule in paths else node.module)
		graph[name] = {m for m in found if m in paths and m != name}
	return graph


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
	"""The groups of modules that import one another (strongly connected, more than one module)."""
	index: dict[str, int] = {}
	low: dict[str, int] = {}
	stack: list[str] = []
	on_stack: set[str] = set()
	circles: list[list[str]] = []

	def visit(node: str) -> None:
		index[node] = low[node] = len(index)
		stack.append(node)
		on_stack.add(node)
		for nxt in sorted(graph[node]):
			if nxt not in index:
				visit(nxt)
				low[node] = min(low[node], low[nxt])
			elif nxt in on_stack:
				low[node] = min(low[node], index[nxt])
		if low[node] == index[node]:
			group = []
			while True:
				member = stack.pop()
				on_stack.discard(member)
				group.append(member)
				if member == node:
					break
			if len(group) > 1:
				circles.append(sorted(group))

	for node in sorted(graph):
		if node not in index:
			visit(node)
	return circles


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


def test_no_modules_import_each_other():
	assert _circles(_import_graph()) == []


def test_a_circle_is_found_however_the_import_is_written():
	graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
	assert _circles(graph) == [["a", "b", "c"]]
