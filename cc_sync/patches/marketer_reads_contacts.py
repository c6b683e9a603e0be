"""The Constant Contact User role reads Contact and Lead, so a marketer's workspace cards count them
(they showed 0: the role could not read what they count). Sites installed from now on get it on install."""

from cc_sync.cc_sync.desk_setup import grant_marketer_reads


def execute() -> None:
	grant_marketer_reads()
