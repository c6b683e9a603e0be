"""The indexes the sync keeps on host tables: one per lookup it makes, each pair still unique.

Every index on a random key (a CC id, an address) costs each new contact a disk read and a page write
once the tables outgrow MariaDB's buffer pool, so none is kept twice."""

from __future__ import annotations

import pytest

import frappe

from cc_sync.cc_sync import indexes
from cc_sync.cc_sync.constants import EMAIL_GROUP, EMAIL_GROUP_MEMBER
from tests.integration.test_frappe_scenarios import addr

MEMBERS = f"tab{EMAIL_GROUP_MEMBER}"
GROUP = "Tier2 Index Group"


def _member_indexes() -> dict[str, tuple[tuple[str, ...], bool]]:
	return indexes._indexes(EMAIL_GROUP_MEMBER)


@pytest.fixture
def group():
	if not frappe.db.exists(EMAIL_GROUP, GROUP):
		frappe.get_doc({"doctype": EMAIL_GROUP, "title": GROUP}).insert(ignore_permissions=True)
	frappe.db.commit()
	yield GROUP
	# Whatever a test did to the table, it leaves it as the app keeps it.
	frappe.db.sql(f"delete from `{MEMBERS}` where email_group = %s", GROUP)
	frappe.db.commit()
	if _member_indexes().get(indexes.MEMBER_INDEX, (None, True))[1] is False:
		frappe.db.sql_ddl(f"alter table `{MEMBERS}` drop index `{indexes.MEMBER_INDEX}`")
	indexes.use_one_member_index()


def test_the_cc_id_has_one_index_and_it_is_unique():
	rows = frappe.db.sql("show index from `tabContact` where Column_name = 'cc_contact_id'", as_dict=True)
	assert [(r.Key_name, r.Non_unique) for r in rows] == [("cc_contact_id", 0)]


def test_member_rows_have_one_unique_index_on_address_and_group():
	have = _member_indexes()
	assert have[indexes.MEMBER_INDEX] == (indexes.MEMBER_COLUMNS, True)
	assert indexes.FRAPPE_MEMBER_UNIQUE not in have
	pairs = [cols for cols, _ in have.values() if set(cols[:2]) == {"email", "email_group"}]
	assert pairs == [indexes.MEMBER_COLUMNS]
	assert ("email_group",) in {cols[:1] for cols, _ in have.values()}  # Frappe's, for newsletters


def test_an_address_still_cannot_join_a_group_twice(group):
	member = {"doctype": EMAIL_GROUP_MEMBER, "email_group": group, "email": addr("twice")}
	frappe.get_doc(member).insert(ignore_permissions=True)
	with pytest.raises(frappe.UniqueValidationError):
		frappe.get_doc(member).insert(ignore_permissions=True)
	frappe.db.rollback()


def test_a_site_with_frappes_index_and_the_old_plain_one_ends_with_the_one_unique_index(group):
	frappe.db.sql_ddl(
		f"""alter table `{MEMBERS}` drop index `{indexes.MEMBER_INDEX}`,
		add index `{indexes.MEMBER_INDEX}` (`email`, `email_group`),
		add unique index `{indexes.FRAPPE_MEMBER_UNIQUE}` (`email_group`, `email`)"""
	)
	indexes.use_one_member_index()
	assert _member_indexes()[indexes.MEMBER_INDEX] == (indexes.MEMBER_COLUMNS, True)
	assert indexes.FRAPPE_MEMBER_UNIQUE not in _member_indexes()
	# Uninstalling gives Frappe its own index back, and the address key goes with the app's index.
	indexes.restore_frappe_member_index()
	have = _member_indexes()
	assert have[indexes.FRAPPE_MEMBER_UNIQUE] == (("email_group", "email"), True)
	assert indexes.MEMBER_INDEX not in have
	assert not frappe.db.has_column(EMAIL_GROUP_MEMBER, indexes.MEMBER_KEY)


def test_a_pair_held_twice_keeps_a_plain_index_and_says_why(group):
	frappe.db.sql_ddl(f"alter table `{MEMBERS}` drop index `{indexes.MEMBER_INDEX}`")
	for name in ("tier2dup1", "tier2dup2"):
		frappe.db.sql(
			f"""insert into `{MEMBERS}` (name, creation, modified, owner, modified_by, email_group, email)
			values (%s, now(), now(), 'Administrator', 'Administrator', %s, %s)""",
			(name, group, addr("dup")),
		)
	frappe.db.commit()
	logged = frappe.db.count("Error Log")
	indexes.use_one_member_index()
	assert _member_indexes()[indexes.MEMBER_INDEX] == (indexes.MEMBER_COLUMNS, False)
	assert frappe.db.count("Error Log") == logged + 1
	# A later migrate leaves it so, without another error; uninstalling cannot restore Frappe's index
	# over the duplicate either, and says so instead of stopping the uninstall.
	indexes.use_one_member_index()
	assert frappe.db.count("Error Log") == logged + 1
	indexes.restore_frappe_member_index()
	assert indexes.FRAPPE_MEMBER_UNIQUE not in _member_indexes()
	assert frappe.db.count("Error Log") == logged + 2


def test_the_migrate_moves_a_site_of_the_earlier_index_to_the_address_key_keeping_every_row(group, capsys):
	"""A site as the app left it before: unique (email, email_group) and no key column. The patch gives
	it the exact key, keeps every row, and says what it did; a second migrate has nothing to say."""
	from cc_sync.patches import exact_member_key

	frappe.db.sql_ddl(
		f"""alter table `{MEMBERS}` drop index `{indexes.MEMBER_INDEX}`, drop column `{indexes.MEMBER_KEY}`,
		add unique index `{indexes.MEMBER_INDEX}` (`email`, `email_group`)"""
	)
	frappe.cache.hdel("table_columns", MEMBERS)
	for local in ("kept-a", "kept-b", "Kept-C"):
		frappe.get_doc({"doctype": EMAIL_GROUP_MEMBER, "email_group": group, "email": addr(local)}).insert(
			ignore_permissions=True
		)
	frappe.db.commit()
	before = frappe.db.count(EMAIL_GROUP_MEMBER)
	exact_member_key.execute()
	said = capsys.readouterr().out
	assert f"{before:,} of {before:,} rows kept" in said
	assert "in place of (email, email_group)" in said
	assert frappe.db.count(EMAIL_GROUP_MEMBER) == before
	assert _member_indexes()[indexes.MEMBER_INDEX] == (indexes.MEMBER_COLUMNS, True)
	exact_member_key.execute()
	assert capsys.readouterr().out == ""


def test_uninstall_goes_on_when_a_group_holds_two_people_frappes_index_calls_one(group):
	"""rené@ and rene@ in one group: Frappe's unique (email_group, email) cannot hold both, so uninstalling
	keeps the app's index and its key column, says why in the Error Log, and does not stop."""
	for local in ("rené-un", "rene-un"):
		frappe.db.sql(
			f"""insert into `{MEMBERS}` (name, creation, modified, owner, modified_by, email_group, email)
			values (%s, now(), now(), 'Administrator', 'Administrator', %s, %s)""",
			(frappe.generate_hash(length=12), group, addr(local)),
		)
	frappe.db.commit()
	logged = frappe.db.count("Error Log")
	indexes.restore_frappe_member_index()
	assert frappe.db.count("Error Log") == logged + 1
	assert _member_indexes()[indexes.MEMBER_INDEX] == (indexes.MEMBER_COLUMNS, True)
	assert frappe.db.has_column(EMAIL_GROUP_MEMBER, indexes.MEMBER_KEY)
	assert indexes.FRAPPE_MEMBER_UNIQUE not in _member_indexes()
