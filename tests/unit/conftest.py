"""Fixtures shared by the client tests."""

from __future__ import annotations

import random

import pytest
import responses

from cc_sync.constant_contact.auth import StaticTokenProvider
from cc_sync.constant_contact.client import ConstantContactClient
from cc_sync.constant_contact.clock import FakeClock


@pytest.fixture
def rsps():
	"""A `responses` mock that fails the test if a registered answer is never asked for."""
	with responses.RequestsMock() as mock:
		yield mock


@pytest.fixture
def client():
	"""A client on a fake clock with a static token: limits and backoffs cost no real time."""
	return ConstantContactClient(StaticTokenProvider("tok"), clock=FakeClock(), rng=random.Random(3))
