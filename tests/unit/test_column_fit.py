"""CC values are made to fit the site's typed columns (the Frappe store writes them with raw SQL)."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from cc_sync.cc_sync.column_fit import Column, fit

DATA = Column("varchar", 140)


def test_a_255_character_value_is_cut_to_a_140_character_field_with_the_reason():
	value, note, keep = fit("designation", "x" * 255, DATA)
	assert keep and value == "x" * 140
	assert "255 characters" in note and "140" in note and note.startswith("designation:")


def test_a_value_that_fits_is_written_unchanged_and_unreported():
	assert fit("designation", "Engineer", DATA) == ("Engineer", None, True)
	assert fit("designation", 42, DATA) == ("42", None, True)
	assert fit("anything", "x", None) == ("x", None, True)


@pytest.mark.parametrize(
	"raw, expected",
	[
		("2006-11-15", date(2006, 11, 15)),
		("11/15/2006", date(2006, 11, 15)),
		(date(2006, 11, 15), date(2006, 11, 15)),
	],
)
def test_dates_cc_writes_become_dates(raw, expected):
	assert fit("anniversary", raw, Column("date")) == (expected, None, True)


@pytest.mark.parametrize("raw", ["next spring", "2006-13-45", "0"])
def test_a_non_date_in_a_date_field_is_left_out_with_the_reason(raw):
	value, note, keep = fit("anniversary", raw, Column("date"))
	assert not keep and value is None
	assert "is not a date" in note and "anniversary" in note


def test_numbers_datetimes_and_options():
	assert fit("n", "12", Column("int")) == (12, None, True)
	assert fit("n", "12.5", Column("int"))[2] is False
	assert fit("flag", "true", Column("tinyint")) == (1, None, True)
	assert fit("amount", "12.50", Column("decimal")) == (12.5, None, True)
	assert fit("amount", "lots", Column("decimal"))[2] is False
	when = fit("seen", "2024-06-01T10:00:00Z", Column("datetime"))[0]
	assert when == datetime(2024, 6, 1, 10, tzinfo=timezone.utc)
	assert fit("seen", "soon", Column("datetime"))[2] is False
	assert fit("gender", "Female", Column("varchar", 140, ("", "Female", "Male"))) == ("Female", None, True)
	_value, note, keep = fit("gender", "Unknown", Column("varchar", 140, ("", "Female", "Male")))
	assert not keep and "options" in note


def test_text_columns_are_cut_by_bytes():
	value, note, keep = fit("bio", "é" * 200, Column("tinytext"))
	assert keep and len(value.encode()) <= 255 and note
