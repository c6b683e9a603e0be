"""CC's official swagger contract (3.0.172), for the contract tests.

Found at `../shared/reference/constant-contact-v3.swagger.yaml` beside the repository, or at the path
in CC_SWAGGER. Tests that need it skip with one line when it is absent.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
CANDIDATES = [
	os.environ.get("CC_SWAGGER", ""),
	str(ROOT.parent / "shared" / "reference" / "constant-contact-v3.swagger.yaml"),
	str(ROOT / "reference" / "constant-contact-v3.swagger.yaml"),
]
SWAGGER_PATH = next((Path(p) for p in CANDIDATES if p and Path(p).is_file()), None)
needs_swagger = pytest.mark.skipif(
	SWAGGER_PATH is None, reason="CC swagger file not found (set CC_SWAGGER to its path)"
)


@functools.lru_cache(maxsize=1)
def spec() -> dict[str, Any]:
	import yaml

	with open(SWAGGER_PATH, encoding="utf-8") as fh:
		return yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def operation(method: str, path: str) -> tuple[str, dict[str, Any]]:
	"""The swagger operation for a concrete request path like `/v3/contacts/abc`; raises if none."""
	base = spec().get("basePath", "/v3")
	assert path.startswith(base), f"{path} is not under {base}"
	rel = path[len(base) :] or "/"
	for template, ops in spec()["paths"].items():
		pattern = "^" + re.sub(r"\{[^}]+\}", r"[^/]+", template) + "$"
		if re.match(pattern, rel) and method.lower() in ops:
			return template, ops[method.lower()]
	raise AssertionError(f"{method} {path} is not an operation of CC's API")


def _without_spec_defects(node: Any) -> Any:
	"""The contract's own known defect: some arrays say `maxItems: 0` where the text says 50 or 500
	(remove_list_memberships); such a bound is dropped, every other constraint kept."""
	if isinstance(node, dict):
		return {k: _without_spec_defects(v) for k, v in node.items() if not (k == "maxItems" and v == 0)}
	if isinstance(node, list):
		return [_without_spec_defects(v) for v in node]
	return node


@functools.lru_cache(maxsize=1)
def _definitions() -> dict[str, Any]:
	return _without_spec_defects(spec()["definitions"])


def check_body(definition_ref: dict[str, Any], body: Any) -> None:
	import jsonschema

	schema = _without_spec_defects(dict(definition_ref))
	schema["definitions"] = _definitions()
	jsonschema.validate(body, schema, cls=jsonschema.Draft4Validator)


def check_definition(name: str, body: Any) -> None:
	check_body({"$ref": f"#/definitions/{name}"}, body)
