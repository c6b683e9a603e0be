"""A run's log names its retries per stream: which call was sent again, what CC answered, and how long the
client waited first. They used to show only as a higher call count."""

from __future__ import annotations

from cc_sync.constant_contact.transport import Retry
from cc_sync.sync.streams import STREAM_CHANGES, STREAM_OPTOUTS
from tests.world import make_world


def test_a_retried_call_is_named_on_the_stream_that_made_it():
	w = make_world(rate_limit=None)
	w.emu.add_contact("ann@example.com")
	w.emu.inject("503", count=1, path_prefix="/v3/contacts")
	with w.emu.mocked():
		report = w.run(STREAM_CHANGES)
	[retry] = report.streams[STREAM_CHANGES].retries
	assert isinstance(retry, Retry)
	assert retry.call == "GET /v3/contacts"
	assert "HTTP 503" in retry.answer and "service_unavailable" in retry.answer
	assert retry.waited > 0
	assert report.streams[STREAM_CHANGES].retries_text() == str(retry)
	assert str(retry).startswith("GET /v3/contacts: HTTP 503") and str(retry).endswith(" s")
	assert "ann@example.com" not in str(retry)  # the query, which may hold an address, is left out


def test_each_stream_names_only_its_own_retries():
	w = make_world(rate_limit=None)
	w.emu.add_contact("ann@example.com")
	w.emu.inject("timeout", count=1, path_prefix="/v3/contacts")
	with w.emu.mocked():
		report = w.run(STREAM_OPTOUTS, STREAM_CHANGES)
	[retry] = report.streams[STREAM_OPTOUTS].retries
	assert retry.call == "GET /v3/contacts" and retry.answer.startswith("no answer")
	assert report.streams[STREAM_CHANGES].retries == []
	assert report.streams[STREAM_CHANGES].retries_text() is None
