"""The Frappe store is a façade over parts (docs/structure.md, "The Frappe store").

`FrappeStore` inherits nothing, implements every method of the engine's `SyncStore` protocol itself, and
each of them only hands the call to one of its parts. Each part is a class given its collaborators: what
its methods read of `self` it sets itself, so no part leans on state another part set (as mixins sharing
one `__init__` did). Read from the source, so tier 1 holds this without a site.
"""

from __future__ import annotations

import ast
from pathlib import Path

from cc_sync.sync.store import SyncStore

STORE = Path(__file__).resolve().parents[2] / "cc_sync" / "cc_sync" / "store"
# What the façade does itself rather than through a part: the transaction is the site's, not a part's.
OWN = {"__init__", "writes", "commit", "rollback"}


def _classes() -> dict[str, tuple[Path, ast.ClassDef]]:
	found = {}
	for path in sorted(STORE.glob("*.py")):
		for node in ast.parse(path.read_text()).body:
			if isinstance(node, ast.ClassDef):
				found[node.name] = (path, node)
	return found


def _facade() -> ast.ClassDef:
	return _classes()["FrappeStore"][1]


def _methods(cls: ast.ClassDef) -> dict[str, ast.FunctionDef]:
	return {n.name: n for n in cls.body if isinstance(n, ast.FunctionDef)}


def _protocol() -> set[str]:
	return {
		name
		for name, value in vars(SyncStore).items()
		if callable(value) and not name.startswith("_") and name not in {"register"}
	}


def test_the_store_inherits_nothing_and_implements_the_engine_interface_itself():
	facade = _facade()
	assert facade.bases == [], "FrappeStore builds its parts; it inherits none of them"
	missing = _protocol() - set(_methods(facade))
	assert not missing, f"SyncStore methods FrappeStore does not define itself: {sorted(missing)}"


def test_each_engine_call_is_handed_to_one_part():
	"""A method of the interface is one statement that calls `self.<part>.<method>(...)`."""
	for name, method in _methods(_facade()).items():
		if name in OWN or name.startswith("_"):
			continue
		body = [n for n in method.body if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))]
		assert len(body) == 1, f"FrappeStore.{name} does more than delegate"
		call = body[0].value
		assert isinstance(call, ast.Call), f"FrappeStore.{name} does not call a part"
		target = call.func
		assert (
			isinstance(target, ast.Attribute)
			and isinstance(target.value, ast.Attribute)
			and isinstance(target.value.value, ast.Name)
			and target.value.value.id == "self"
		), f"FrappeStore.{name} calls no part (self.<part>.<method>)"


def _self_attributes(cls: ast.ClassDef) -> tuple[set[str], set[str]]:
	"""The attributes a class's methods set on `self`, and those they read."""
	stored, read = set(), set()
	for node in ast.walk(cls):
		if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self":
			(stored if isinstance(node.ctx, ast.Store) else read).add(node.attr)
	return stored, read


def test_every_part_reads_only_what_it_was_given_or_set_itself():
	parts = {name: found for name, found in _classes().items() if name != "FrappeStore"}
	assert parts, "the store has no parts"
	for name, (path, cls) in parts.items():
		stored, read = _self_attributes(cls)
		own = stored | set(_methods(cls)) | {n.target.id for n in cls.body if isinstance(n, ast.AnnAssign)}
		borrowed = read - own
		assert not borrowed, f"{path.name}: {name} reads {sorted(borrowed)}, which it was never given"


def test_the_facade_builds_each_part_it_hands_a_call_to():
	facade = _facade()
	stored, _ = _self_attributes(_methods(facade)["__init__"])
	for name, method in _methods(facade).items():
		for node in ast.walk(method):
			if (
				isinstance(node, ast.Attribute)
				and isinstance(node.value, ast.Attribute)
				and isinstance(node.value.value, ast.Name)
				and node.value.value.id == "self"
			):
				assert node.value.attr in stored, f"FrappeStore.{name} uses a part it never built"


def test_every_part_uses_each_collaborator_it_is_given():
	"""A part is given only what it uses: each argument of its `__init__` is read in the class."""
	for name, (path, cls) in _classes().items():
		init = _methods(cls).get("__init__")
		if init is None or name == "FrappeStore":
			continue
		given = [a.arg for a in init.args.args[1:]]
		stored_from = {
			target.attr: node.value.id
			for node in ast.walk(init)
			if isinstance(node, ast.Assign) and isinstance(node.value, ast.Name)
			for target in node.targets
			if isinstance(target, ast.Attribute)
		}
		_, read = _self_attributes(cls)
		used_in_init = {
			n.id
			for node in init.body
			if not (isinstance(node, ast.Assign) and isinstance(node.value, ast.Name))
			for n in ast.walk(node)
			if isinstance(n, ast.Name)
		}
		for arg in given:
			kept_as = {attr for attr, source in stored_from.items() if source == arg}
			assert arg in used_in_init or kept_as & read, (
				f"{path.name}: {name} is given {arg} and never uses it"
			)
