"""Request parameters checked and written as CC takes them, before a call is spent on them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def csv_param(value: str | Iterable[str] | None) -> str | None:
	"""A query parameter CC takes as comma-separated values, from one value or several."""
	if value is None:
		return None
	if isinstance(value, str):
		return value
	return ",".join(str(v) for v in value)


def check_limit(limit: int, maximum: int) -> None:
	"""Refuse a page size CC would refuse, before spending a call on it."""
	if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= maximum:
		raise ValueError(f"limit must be an integer from 1 to {maximum}, got {limit!r}")


def check_ids(name: str, ids: Sequence[str], maximum: int, minimum: int = 1) -> list[str]:
	"""The ids as a list, refused before any call when CC would refuse how many there are."""
	if isinstance(ids, str):
		raise TypeError(f"{name} must be a sequence of ids, not a string")
	out = list(ids)
	if not minimum <= len(out) <= maximum:
		raise ValueError(f"{name}: between {minimum} and {maximum} ids allowed, got {len(out)}")
	return out
