"""Field ownership, import rows, email normalisation and deterministic matching."""

from __future__ import annotations

from datetime import datetime, timezone
from types import SimpleNamespace

import pytest

from cc_sync.sync.fieldmap import FieldRule, cc_values, fields_to_pull, import_row, parse_field_map
from cc_sync.sync.matching import ContactIndex, email_problem, normalise_email
from cc_sync.sync.records import SiteContact

RULES = (
	FieldRule("first_name", "first_name", "cc"),
	FieldRule("job_title", "designation", "site"),
	FieldRule("phone:mobile", "mobile_no", "cc"),
	FieldRule("address:work.city", "city", "cc"),
	FieldRule("cf:crm_id", "crm_id", "site"),
)


def contact(**kw):
	base = dict(
		first_name=None,
		job_title=None,
		custom_fields=None,
		phone_numbers=None,
		street_addresses=None,
	)
	base.update(kw)
	return SimpleNamespace(**base)


def test_cc_values_reads_core_phone_address_and_custom_fields():
	c = contact(
		first_name="Ann",
		job_title="CTO",
		phone_numbers=[SimpleNamespace(kind="mobile", phone_number="555-1")],
		street_addresses=[SimpleNamespace(kind="work", city="Boston")],
		custom_fields=[SimpleNamespace(custom_field_id="f1", value="X-9")],
	)
	values = cc_values(c, RULES, {"f1": "crm_id"})
	assert values == {
		"first_name": "Ann",
		"designation": "CTO",
		"mobile_no": "555-1",
		"city": "Boston",
		"crm_id": "X-9",
	}


def test_absent_or_empty_cc_values_are_left_out():
	assert cc_values(contact(first_name="  "), RULES, {}) == {}


def test_cc_owned_field_overwrites_but_empty_never_does():
	changes = fields_to_pull(
		{"first_name": "Old", "designation": "CEO"}, {"first_name": "New", "designation": "CTO"}, RULES
	)
	# designation is site-owned and filled on the site: CC's value does not replace it
	assert changes == {"first_name": "New"}
	assert fields_to_pull({"first_name": "Old"}, {}, RULES) == {}


def test_site_owned_field_is_filled_when_the_site_has_none():
	assert fields_to_pull({"designation": ""}, {"designation": "CTO"}, RULES) == {"designation": "CTO"}


def test_unchanged_values_produce_no_change():
	assert fields_to_pull({"first_name": "Ann "}, {"first_name": "Ann"}, RULES) == {}


def test_import_row_uses_cc_import_keys_and_skips_empty_values():
	row = import_row(
		"ann@example.com",
		{"first_name": "Ann", "designation": "CTO", "mobile_no": "555", "city": "", "crm_id": "L-1"},
		RULES,
		known_in_cc=False,
	)
	assert row == {
		"email": "ann@example.com",
		"first_name": "Ann",
		"job_title": "CTO",
		"mobile_phone": "555",
		"cf:crm_id": "L-1",
	}


def test_import_row_never_sends_cc_owned_fields_for_a_contact_cc_holds():
	row = import_row("ann@example.com", {"first_name": "Ann", "crm_id": "L-1"}, RULES, known_in_cc=True)
	assert row == {"email": "ann@example.com", "cf:crm_id": "L-1"}


def test_bad_field_map_rows_are_refused_with_a_reason():
	with pytest.raises(ValueError, match="unknown CC field"):
		parse_field_map([{"cc_field": "shoe_size", "site_field": "x"}])
	with pytest.raises(ValueError, match="phone kind"):
		FieldRule("phone:pager", "x")
	with pytest.raises(ValueError, match="owner"):
		FieldRule("first_name", "first_name", "both")


@pytest.mark.parametrize(
	"raw, expected",
	[(" Ann@Example.COM ", "ann@example.com"), ("", None), (None, None), ("   ", None)],
)
def test_normalise_email(raw, expected):
	assert normalise_email(raw) == expected


@pytest.mark.parametrize(
	"raw, problem",
	[
		("ok@example.com", None),
		(None, "missing email"),
		("not-an-email", "invalid email"),
		("two@@example.com", "invalid email"),
		("a" * 45 + "@example.com", "longer than 50"),
	],
)
def test_email_problem(raw, problem):
	result = email_problem(raw)
	if problem is None:
		assert result is None
	else:
		assert problem in result


def _sc(key, email, cc_id=None, created=None):
	return SiteContact(key=key, email=email, cc_contact_id=cc_id, created=created)


def test_cc_id_wins_over_email():
	index = ContactIndex([_sc("A", "x@example.com"), _sc("B", "y@example.com", "cc-1")])
	assert index.match("cc-1", "x@example.com").contact.key == "B"


def test_two_site_contacts_with_one_email_resolve_deterministically_and_are_reported():
	older = datetime(2020, 1, 1, tzinfo=timezone.utc)
	newer = datetime(2022, 1, 1, tzinfo=timezone.utc)
	for order in (
		[_sc("Z", "d@example.com", created=older), _sc("A", "d@example.com", created=newer)],
		[_sc("A", "d@example.com", created=newer), _sc("Z", "d@example.com", created=older)],
	):
		match = ContactIndex(order).match("cc-9", "d@example.com")
		assert match.contact.key == "Z"  # the oldest, whatever the order found
		assert match.duplicates == ("A",)


def test_a_contact_linked_to_another_cc_id_is_not_taken():
	index = ContactIndex([_sc("A", "e@example.com", "cc-other")])
	match = index.match("cc-new", "e@example.com")
	assert match.contact is None
	assert match.duplicates == ("A",)
