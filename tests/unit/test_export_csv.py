"""The export CSV both ways: the emulator writes CC's dates in the account's time zone, and the app reads
a row exactly as a plain reading of its cells by header says."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import requests
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from cc_sync.constant_contact.clock import FakeClock
from cc_sync.constant_contact.export_format import ADDRESS_KINDS, EXPORT_COLUMNS, PHONE_KINDS
from cc_sync.constant_contact.export_reader import ExportReader
from cc_sync.constant_contact.models import Contact
from cc_sync_testkit.emulator import ConstantContactEmulator
from cc_sync_testkit.emulator.export_columns import csv_text

BASE = "https://api.cc.email"
# Zones whose offsets are not whole hours, or change during an hour, beside ordinary ones.
ZONES = (
	"America/New_York",
	"UTC",
	"Asia/Kolkata",
	"Asia/Kathmandu",
	"Australia/Lord_Howe",
	"Pacific/Chatham",
	"America/St_Johns",
	"Africa/Monrovia",
	"Europe/Dublin",
)
# Seconds either side of New York's and Lord Howe's changes of offset, and the first seconds of 1900.
EDGES = (
	datetime(2024, 3, 10, 6, 59, 59),
	datetime(2024, 3, 10, 7, 0, 0),
	datetime(2024, 11, 3, 5, 59, 59),
	datetime(2024, 11, 3, 6, 0, 0),
	datetime(2024, 4, 6, 14, 59, 59),
	datetime(2024, 10, 5, 15, 30, 0),
	datetime(1900, 1, 1, 0, 0, 0),
)
instants = st.one_of(
	st.sampled_from(EDGES), st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1))
).map(lambda when: when.replace(microsecond=0, tzinfo=timezone.utc))


def export_rows(emu: ConstantContactEmulator, body: dict) -> list[dict[str, str]]:
	access, _ = emu.issue_tokens()
	http = requests.Session()
	http.headers["Authorization"] = f"Bearer {access}"
	with emu.mocked():
		activity = http.post(f"{BASE}/v3/activities/contact_exports", json=body).json()
		for _ in range(10):
			activity = http.get(BASE + activity["_links"]["self"]["href"]).json()
			if activity["state"] == "completed":
				break
		text = http.get(BASE + activity["_links"]["results"]["href"]).text
	return list(csv.DictReader(io.StringIO(text)))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Goose Bay changed its clocks at 00:01 local until 2010: its offset changes a minute into a UTC hour.
@example(
	zone="America/Goose_Bay",
	created=[datetime(1999, 10, 31, 3, s, tzinfo=timezone.utc) for s in (0, 1)],
	later=3540,
)
@given(
	zone=st.one_of(st.sampled_from(ZONES), st.timezone_keys()),
	created=st.lists(instants, min_size=1, max_size=4),
	later=st.integers(min_value=0, max_value=400 * 86400),
)
def test_an_export_writes_each_date_in_the_account_s_time_zone(zone, created, later):
	"""Every date of an export is the contact's own instant as the account's clock showed it, with its
	offset then (`2020-09-25 16:45:13 -0400`), in any zone and on either side of a change of offset."""
	emu = ConstantContactEmulator(
		FakeClock(datetime(2100, 1, 2, tzinfo=timezone.utc)), rate_limit=None, export_tz=zone
	)
	for i, when in enumerate(created):
		emu.add_contact(f"c{i}@example.com", created_at=when, updated_at=when + timedelta(seconds=later))
	rows = export_rows(emu, {"fields": ["email_address", "created_at", "updated_at", "email_optin_date"]})
	tz = ZoneInfo(zone)
	for i, when in enumerate(created):
		row = rows[i]
		assert row["Email address"] == f"c{i}@example.com"
		assert row["Created At"] == row["Email Opt-In Date"] == f"{when.astimezone(tz):%Y-%m-%d %H:%M:%S %z}"
		assert row["Updated At"] == f"{(when + timedelta(seconds=later)).astimezone(tz):%Y-%m-%d %H:%M:%S %z}"


# A cell as the emulator may hold it: text with the characters that need quotes, None, a number.
cells = st.one_of(
	st.text(),
	st.sampled_from(("", ",", '"', "\r", "\n", "\r\n", "a, b", ' "q" ', "Zoë")),
	st.none(),
	st.integers(),
	st.floats(),
)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_an_export_s_text_is_what_python_s_csv_writer_writes(data):
	"""An export is written a column at a time: its text is the csv writer's for the same rows, with
	quotes where a cell holds a comma, a quote or a line break, None blank, numbers as text, a row's
	only cell quoted when blank, columns blank in every row, and no columns or no rows at all."""
	width, height = data.draw(st.integers(0, 6)), data.draw(st.integers(0, 5))
	header = data.draw(st.lists(st.text(), min_size=width, max_size=width))
	column = st.one_of(
		st.lists(cells, min_size=height, max_size=height),
		st.lists(st.sampled_from(("", None)), min_size=height, max_size=height),
	)
	columns = [data.draw(column) for _ in range(width)]
	expected = io.StringIO()
	rows = [[col[row] for col in columns] for row in range(height)]
	csv.writer(expected, lineterminator="\r\n").writerows([header, *rows])
	assert csv_text(header, columns, height) == expected.getvalue()


# -- reading ------------------------------------------------------------------------------------------

LISTS = {"News": "L-news", "Events": "L-events", "VIP": "L-vip"}
LABELS = {"CRM Id": "cf-crm", "Tier": "cf-tier"}
ADDRESS_WORDS = {
	"street address line 1": "street",
	"street address": "street",
	"city": "city",
	"state/province": "state",
	"zip/postal code": "postal_code",
	"country": "country",
}
CORE = (
	"first name",
	"last name",
	"job title",
	"company name",
	"anniversary",
	"birthday month",
	"birthday day",
)
COLUMNS = (
	*(c for cols in EXPORT_COLUMNS.values() for c in cols),
	"Street address - Home",  # the older form of the street column
	*LABELS,
	"Favourite colour",  # neither known nor a custom field
	"",
)
EXPORT_DATE = "%Y-%m-%d %H:%M:%S %z"


def reference_rows(text: str, list_ids: dict[str, str], labels: dict[str, str]) -> list[tuple[dict, list]]:
	"""The export read plainly by header: each row's non-blank cells, stripped (a later column of the same
	header wins), turned into what a Contact holds."""
	lines = csv.reader(io.StringIO(text.lstrip("\ufeff")))
	header = [h.strip().lower() for h in next(lines)]
	custom = {label.lower(): fid for label, fid in labels.items()}
	known = {c.lower() for cols in EXPORT_COLUMNS.values() for c in cols}
	out = []
	for values in lines:
		if not values:
			continue
		cells = {c: v.strip() for c, v in zip(header, values, strict=False) if c and v.strip()}

		def date(column: str) -> datetime | None:
			value = cells.get(column)
			return datetime.strptime(value, EXPORT_DATE).astimezone(timezone.utc) if value else None

		def word(column: str) -> str | None:
			value = cells.get(column)
			return "_".join(value.lower().replace("-", " ").split()) if value else None

		email = {
			"address": cells.get("email address"),
			"permission_to_send": "unsubscribed"
			if "unsubscribed" in (word("email permission status"), word("email status"))
			or date("confirmed opt-out date")
			else word("email permission status"),
			"opt_in_source": cells.get("email opt-in source"),
			"opt_in_date": date("email opt-in date"),
			"opt_out_source": cells.get("confirmed opt-out source"),
			"opt_out_date": date("confirmed opt-out date"),
			"opt_out_reason": cells.get("confirmed opt-out reason"),
		}
		contact: dict = {
			"email_address": {k: v for k, v in email.items() if v is not None},
			"created_at": date("created at"),
			"updated_at": date("updated at"),
			"update_source": cells.get("email update source"),
			**{c.replace(" ", "_"): cells[c] for c in CORE if c in cells},
		}
		phones = [
			{"kind": k, "phone_number": cells[f"phone - {k}"]} for k in PHONE_KINDS if f"phone - {k}" in cells
		]
		addresses = []
		for kind in ADDRESS_KINDS:
			parts: dict = {}
			for words, part in ADDRESS_WORDS.items():
				if f"{words} - {kind}" in cells:
					parts.setdefault(part, cells[f"{words} - {kind}"])
			if parts:
				addresses.append({"kind": kind, **parts})
		fields = [
			{"custom_field_id": custom[c], "value": cells[c]}
			for c in header
			if c in custom and c not in known and c in cells
		]
		for key, value in (
			("phone_numbers", phones),
			("street_addresses", addresses),
			("custom_fields", fields),
		):
			if value:
				contact[key] = value
		problems = []
		if "email lists" in header:
			names = [n.strip() for n in cells.get("email lists", "").split(",") if n.strip()]
			unknown = [n for n in names if n not in list_ids]
			if unknown:
				problems.append(f"list names not found in the account: {', '.join(unknown)}")
			else:
				contact["list_memberships"] = [list_ids[n] for n in names]
		out.append((Contact.model_validate(contact).model_dump(), problems))
	return out


def cells_for(column: str) -> st.SearchStrategy[str]:
	c = column.strip().lower()
	if c.endswith(" date") or c in ("created at", "updated at"):
		values = st.builds(
			lambda when, minutes: when.astimezone(timezone(timedelta(minutes=minutes))).strftime(EXPORT_DATE),
			instants,
			st.sampled_from((0, -240, -300, 330, 345, 600, 630, -210, 840, -720)),
		)
	elif c == "email lists":
		values = st.lists(st.sampled_from((*LISTS, "Gone List")), max_size=3).map(", ".join)
	elif c in ("email status", "email permission status"):
		values = st.sampled_from(
			("Active", "Unsubscribed", "Implicit", "Explicit", "Pending confirmation", "Not set")
		)
	elif c in ("birthday month", "birthday day"):
		values = st.integers(1, 12).map(str)
	else:
		values = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=8)
	padded = st.builds(
		lambda pad, v, end: pad + v + end,
		st.sampled_from(("", " ", "\t")),
		values,
		st.sampled_from(("", " ")),
	)
	return st.one_of(st.just(""), st.sampled_from((" ", "\t ")), padded)


@st.composite
def exports(draw: st.DrawFn) -> str:
	columns = draw(st.lists(st.sampled_from(COLUMNS), min_size=1, max_size=len(COLUMNS)))
	header = [draw(st.sampled_from((c, c.upper(), f" {c} "))) for c in columns]
	rows = []
	for _ in range(draw(st.integers(0, 5))):
		row = [draw(cells_for(c)) for c in columns]
		cut = draw(st.sampled_from((None, None, None, "short", "long")))
		if cut == "short":
			row = row[: draw(st.integers(1, len(row)))]
		elif cut == "long":
			row.append("extra")
		rows.append(row)
	out = io.StringIO()
	csv.writer(out, lineterminator="\r\n").writerows([header, *rows])
	return draw(st.sampled_from(("", "\ufeff"))) + out.getvalue()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=exports(), list_ids=st.sampled_from((LISTS, {})), labels=st.sampled_from((LABELS, {})))
def test_an_export_reads_as_its_cells_by_header_say(text, list_ids, labels):
	"""Whatever columns an export has, in any order, case and padding, with blank, padded, missing or
	extra cells, repeated headers and a BOM, each row reads as a plain reading of its cells by header
	says, read from the text or from a file."""
	reader = ExportReader(list_ids_by_name=list_ids, field_ids_by_label=labels)
	expected = reference_rows(text, list_ids, labels)
	for source in (text, io.StringIO(text.lstrip("\ufeff"), newline="")):
		assert [(r.contact.model_dump(), r.problems) for r in reader.rows(source)] == expected


def test_a_date_beyond_pythons_range_loses_that_date_not_the_export():
	"""`9999-12-31 23:59:59 -0100` is past the last instant Python holds once in UTC: that row is read
	without the date, and the rows after it are read."""
	text = (
		"Email address,Email permission status,Email Opt-In Date,Created At\r\n"
		"far@example.com,Explicit,9999-12-31 23:59:59 -0100,2024-01-02 03:04:05 -0500\r\n"
		"next@example.com,Implicit,2024-01-02 03:04:05 -0500,2024-01-02 03:04:05 -0500\r\n"
	)
	rows = list(ExportReader().rows(text))
	assert [r.contact.email_address.address for r in rows] == ["far@example.com", "next@example.com"]
	assert rows[0].contact.email_address.opt_in_date is None
	assert rows[0].contact.created_at == datetime(2024, 1, 2, 8, 4, 5, tzinfo=timezone.utc)
	assert rows[1].contact.email_address.opt_in_date == datetime(2024, 1, 2, 8, 4, 5, tzinfo=timezone.utc)


def test_list_names_holding_commas_resolve_to_the_longest_name_a_cell_spells():
	"""`Email Lists` joins names with commas and a name may hold one: where a shorter name and a longer
	one both fit, the longer one is the list, whatever the spacing after the commas."""
	list_ids = {"News": "L-news", "News, Weekly": "L-weekly", "Events, 2024": "L-events", "2024": "L-2024"}
	text = "Email address,Email Lists\r\n" + "".join(
		f'{address},"{cell}"\r\n'
		for address, cell in (
			("a@example.com", "News, Weekly, Events, 2024"),
			("b@example.com", "News,Weekly,2024"),
			("c@example.com", "2024, News , Events,2024"),
			("d@example.com", "Weekly, News"),
		)
	)
	rows = list(ExportReader(list_ids_by_name=list_ids).rows(text))
	assert [r.contact.list_memberships for r in rows[:3]] == [
		["L-weekly", "L-events"],
		["L-weekly", "L-2024"],
		["L-2024", "L-news", "L-events"],
	]
	assert rows[3].contact.list_memberships is None
	assert rows[3].problems == ["list names not found in the account: Weekly"]


def test_every_row_keeps_its_own_lists_however_many_mixes_of_lists_an_export_holds():
	"""An account whose contacts are on many lists in many mixes: each row's `Email Lists` cell gives
	that row's lists, past however many distinct cells are kept resolved."""
	names = [f"List {i}" for i in range(14)]
	list_ids = {name: f"L-{i}" for i, name in enumerate(names)}
	mixes = [[n for bit, n in enumerate(names) if mask >> bit & 1] for mask in range(1, 2**13)]
	text = "Email address,Email Lists\r\n" + "".join(
		f'c{i}@example.com,"{", ".join(mix)}"\r\n' for i, mix in enumerate(mixes + mixes[::-1])
	)
	rows = list(ExportReader(list_ids_by_name=list_ids).rows(text))
	assert [r.contact.list_memberships for r in rows] == [
		[list_ids[n] for n in mix] for mix in mixes + mixes[::-1]
	]
