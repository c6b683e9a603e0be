"""Parsing of CC payloads: tolerant of what CC omits, adds or garbles, and fast enough for bulk pulls."""

from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cc_sync.constant_contact.models import (
	Activity,
	Contact,
	ContactList,
	ContactPage,
	CustomField,
	TokenSet,
)
from cc_sync.constant_contact.values import parse_datetime

UTC = timezone.utc


def full_contact(i: int = 0, **over):
	c = {
		"contact_id": f"00000000-0000-0000-0000-{i:012d}",
		"email_address": {
			"address": f"Person{i}@Example.com",
			"permission_to_send": "implicit",
			"created_at": "2016-03-03T10:53:04-05:00",
			"updated_at": "2016-03-03T10:56:29-05:00",
			"opt_in_source": "Account",
			"opt_in_date": "2016-01-23T13:48:44.108Z",
			"confirm_status": "off",
		},
		"first_name": "Debora",
		"last_name": "Lang",
		"company_name": "Acme",
		"create_source": "Account",
		"update_source": "Contact",
		"created_at": "2026-09-29T14:33:39Z",
		"updated_at": "2026-09-30T08:01:02Z",
		"custom_fields": [{"custom_field_id": "cf-1", "value": "SF-1"}],
		"list_memberships": ["list-1"],
	}
	c.update(over)
	return c


@pytest.mark.parametrize(
	"text, expected",
	[
		("2026-09-29T14:33:39Z", datetime(2026, 9, 29, 14, 33, 39, tzinfo=UTC)),
		("2016-01-23T13:48:44.108Z", datetime(2016, 1, 23, 13, 48, 44, 108000, tzinfo=UTC)),
		("2016-03-03T10:53:04-05:00", datetime(2016, 3, 3, 15, 53, 4, tzinfo=UTC)),
		("2016-07-08", datetime(2016, 7, 8, tzinfo=UTC)),
		("2016-03-03T10:53:04", datetime(2016, 3, 3, 10, 53, 4, tzinfo=UTC)),
		("20160303T105304Z", datetime(2016, 3, 3, 10, 53, 4, tzinfo=UTC)),
	],
)
def test_parse_datetime_accepts_every_cc_form_as_utc(text, expected):
	got = parse_datetime(text)
	assert got == expected
	assert got.utcoffset() == timedelta(0)


@pytest.mark.parametrize("garbage", ["garbage", "", "   ", "2016-13-45", "not-a-dateTZ", 12345, [], {}])
def test_parse_datetime_turns_garbage_into_none(garbage):
	assert parse_datetime(garbage) is None


@given(
	st.datetimes(
		min_value=datetime(1971, 1, 1),
		max_value=datetime(2200, 1, 1),
		timezones=st.builds(
			timezone, st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda m: timedelta(minutes=m))
		),
	)
)
def test_parse_datetime_round_trips_any_offset_to_the_same_instant(dt):
	text = dt.isoformat()
	if dt.utcoffset() == timedelta(0):
		text = text.replace("+00:00", "Z")
	got = parse_datetime(text)
	assert got == dt
	assert got.tzinfo is UTC


def test_unknown_permission_is_kept_and_flagged():
	c = Contact.model_validate(
		full_contact(email_address={"address": "a@b.c", "permission_to_send": "sms_only"})
	)
	assert c.permission == "sms_only"
	assert c.email_address.permission_known is False
	assert c.is_unsubscribed is False
	known = Contact.model_validate(
		full_contact(email_address={"address": "a@b.c", "permission_to_send": "temp_hold"})
	)
	assert known.email_address.permission_known is True


def test_missing_or_null_email_address_is_tolerated():
	for payload in ({"contact_id": "x"}, {"contact_id": "x", "email_address": None}):
		c = Contact.model_validate(payload)
		assert c.email is None
		assert c.permission is None
		assert c.is_unsubscribed is False
		assert c.is_deleted is False


def test_email_is_normalised_for_matching():
	c = Contact.model_validate(full_contact(email_address={"address": "  Debora.Lang@Example.COM "}))
	assert c.email == "debora.lang@example.com"
	assert Contact.model_validate(full_contact(email_address={"address": "  "})).email is None


def test_unsubscribed_and_deleted_flags():
	c = Contact.model_validate(
		full_contact(
			email_address={
				"address": "a@b.c",
				"permission_to_send": "unsubscribed",
				"opt_out_source": "Contact",
				"opt_out_date": "2024-06-08T09:00:00Z",
				"opt_out_reason": "too many emails",
			},
			deleted_at="2024-06-09",
		)
	)
	assert c.is_unsubscribed
	assert c.is_deleted
	assert c.deleted_at == date(2024, 6, 9)
	assert c.email_address.opt_out_date == datetime(2024, 6, 8, 9, tzinfo=UTC)


def test_unknown_fields_are_kept_reachable_and_bad_values_do_not_fail_the_contact():
	c = Contact.model_validate(
		full_contact(
			sms_channel={"sms_address": "5551234"},
			brand_new_field=[1, 2],
			birthday_month="eleven",
			birthday_day="24",
			updated_at="yesterday-ish",
			custom_fields=None,
			phone_numbers=[{"phone_number": 5551234, "kind": "mobile", "surprise": True}],
		)
	)
	assert c.model_extra["sms_channel"] == {"sms_address": "5551234"}
	assert c.model_extra["brand_new_field"] == [1, 2]
	assert c.birthday_month is None
	assert c.birthday_day == 24
	assert c.updated_at is None
	assert c.custom_fields is None
	assert c.phone_numbers[0].phone_number == "5551234"
	assert c.phone_numbers[0].model_extra == {"surprise": True}


def test_contact_page_reads_next_link_and_count():
	page = ContactPage.model_validate(
		{
			"contacts": [full_contact(1), full_contact(2)],
			"contacts_count": 3249,
			"_links": {"next": {"href": "/v3/contacts?cursor=abc"}},
		}
	)
	assert [c.contact_id[-1] for c in page.contacts] == ["1", "2"]
	assert page.contacts_count == 3249
	assert page.next_href == "/v3/contacts?cursor=abc"
	single = ContactPage.model_validate({"contacts": [full_contact(1)]})
	assert single.next_href is None
	assert ContactPage.model_validate({"contacts": [], "_links": {}}).next_href is None


@pytest.mark.parametrize(
	"errors, expected",
	[
		(["Row 3: bad email", "Row 9: bad birthday"], ["Row 3: bad email", "Row 9: bad birthday"]),
		([{"message": "Tag not found"}, {"message": "Other"}], ["Tag not found", "Other"]),
		([], []),
		(None, []),
	],
)
def test_activity_errors_normalised_from_both_shapes(errors, expected):
	a = Activity.model_validate({"activity_id": "a1", "state": "completed", "activity_errors": errors})
	assert a.activity_errors == expected


def test_activity_status_links_and_finished_states():
	a = Activity.model_validate(
		{
			"activity_id": "a1",
			"state": "completed",
			"percent_done": 100,
			"created_at": "2026-09-29T14:33:39Z",
			"status": {
				"items_total_count": 10,
				"items_completed_count": 10,
				"person_count": 9,
				"error_count": 1,
				"correctable_count": 0,
				"cannot_add_to_list_count": 2,
			},
			"_links": {"self": {"href": "/v3/activities/a1"}, "results": {"href": "/v3/contact_exports/a1"}},
		}
	)
	assert a.status.cannot_add_to_list_count == 2
	assert a.status.error_count == 1
	assert a.status.list_count is None
	assert a.results_href == "/v3/contact_exports/a1"
	assert a.self_href == "/v3/activities/a1"
	for state, finished in [
		("initialized", False),
		("processing", False),
		("completed", True),
		("cancelled", True),
		("failed", True),
		("timed_out", True),
	]:
		assert Activity.model_validate({"state": state}).is_finished is finished


def test_contact_list_and_custom_field_parse():
	lst = ContactList.model_validate(
		{
			"list_id": "l1",
			"name": "Newsletter",
			"favorite": False,
			"created_at": "2024-01-01T00:00:00Z",
			"membership_count": 12,
		}
	)
	assert (lst.name, lst.favorite, lst.membership_count, lst.deleted_at) == ("Newsletter", False, 12, None)
	cf = CustomField.model_validate(
		{"custom_field_id": "cf1", "label": "CRM Id", "name": "CRM_Id", "type": "string", "version": 2}
	)
	assert (cf.name, cf.label, cf.type) == ("CRM_Id", "CRM Id", "string")


def test_token_set_turns_expires_in_into_an_instant():
	now = datetime(2024, 6, 1, 12, tzinfo=UTC)
	t = TokenSet.from_token_response(
		{
			"access_token": "a",
			"refresh_token": "r",
			"expires_in": 86400,
			"token_type": "Bearer",
			"scope": "x",
		},
		now,
	)
	assert t.expires_at == now + timedelta(days=1)
	assert t.expires_within(now + timedelta(hours=23, minutes=59), 120)
	assert not t.expires_within(now + timedelta(hours=23), 120)
	assert TokenSet.model_validate(t.model_dump(mode="json")) == t


def test_full_pages_parse_whole():
	"""Speed is a figure of `benchmarks.bench_client_paging`, not an assertion: a shared machine's load
	would make a timed test fail at random."""
	body = {
		"contacts": [full_contact(i) for i in range(500)],
		"_links": {"next": {"href": "/v3/contacts?cursor=x"}},
	}
	page = ContactPage.model_validate(body)
	assert len(page.contacts) == 500 and page.next_href == "/v3/contacts?cursor=x"
	assert not page.problems
