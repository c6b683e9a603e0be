"""Tier 2: the tests in this directory run against a real Frappe v15 site with cc_sync installed.

Name the site with `--site <name>` or `CC_SYNC_SITE=<name>`, and run pytest with the bench's Python
(from `frappe-bench/sites`); the bench is found from `CC_SYNC_BENCH` or from where frappe is installed.
Without a site, every test here is skipped with one line, and frappe is never imported, so the tier 1
environment collects this directory cleanly. With `CC_SYNC_REQUIRE_SITE=1` (CI, `dev/site test`) a
missing site, or any skipped test here, fails the run instead.

Frappe writes its logs to `../logs` from the working directory, so the session changes into the
bench's `sites` folder before connecting, whatever folder pytest was started from.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

SKIP_REASON = "tier 2: no Frappe site (set CC_SYNC_SITE or --site)"


def _site_required() -> bool:
	return os.environ.get("CC_SYNC_REQUIRE_SITE", "") not in ("", "0")


def pytest_addoption(parser: pytest.Parser) -> None:
	try:
		parser.addoption("--site", action="store", default=None, help="Frappe site for the tier 2 tests")
	except ValueError:  # already added by another conftest
		pass


def _site_name(config: pytest.Config) -> str | None:
	try:
		option = config.getoption("--site")
	except ValueError:
		option = None
	return option or os.environ.get("CC_SYNC_SITE") or None


def _sites_path(site: str) -> Path | None:
	"""The bench's sites folder holding `site`, or None when frappe or the site is not there."""
	if importlib.util.find_spec("frappe") is None:
		return None
	candidates = []
	if os.environ.get("CC_SYNC_BENCH"):
		candidates.append(Path(os.environ["CC_SYNC_BENCH"]) / "sites")
	candidates.append(Path.cwd())
	origin = importlib.util.find_spec("frappe").origin
	if origin:
		# <bench>/apps/frappe/frappe/__init__.py
		candidates.append(Path(origin).resolve().parents[3] / "sites")
	for sites in candidates:
		if (sites / site / "site_config.json").is_file():
			return sites.resolve()
	return None


def _locate(config: pytest.Config) -> tuple[str, Path] | None:
	site = _site_name(config)
	if not site:
		return None
	sites = _sites_path(site)
	return (site, sites) if sites else None


HERE = Path(__file__).resolve().parent


class Tier2Unavailable(pytest.Item):
	"""Stands in for the whole directory when no site is available, so the skip is one line."""

	def __init__(self, *, modules: int, **kwargs) -> None:
		super().__init__(**kwargs)
		self.modules = modules

	def runtest(self) -> None:
		if _site_required():
			pytest.fail(
				f"{SKIP_REASON}, and CC_SYNC_REQUIRE_SITE is set; {self.modules} test modules not run"
			)
		pytest.skip(f"{SKIP_REASON}; {self.modules} test modules not run")

	def reportinfo(self):
		return self.path, None, "tier 2"


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
	"""Without a site, the test modules here are not even imported (they need frappe)."""
	path = Path(collection_path)
	if path.suffix == ".py" and path.name.startswith("test_") and path.parent == HERE:
		if _locate(config) is None:
			config.stash[_IGNORED] = config.stash.get(_IGNORED, 0) + 1
			return True
	return None


_IGNORED = pytest.StashKey[int]()


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list) -> None:
	ignored = config.stash.get(_IGNORED, 0)
	if ignored:
		items.append(Tier2Unavailable.from_parent(session, name="tests/integration", modules=ignored))


@pytest.fixture(scope="session", autouse=True)
def frappe_site(request: pytest.FixtureRequest):
	"""Connect to the site once per session; skip everything here when there is none."""
	located = _locate(request.config)
	if located is None:
		pytest.skip(SKIP_REASON)
	site, sites_path = located
	os.chdir(sites_path)
	import frappe

	frappe.init(site=site, sites_path=str(sites_path))
	frappe.connect()
	frappe.flags.in_test = True
	frappe.set_user("Administrator")
	from tests.integration import frappe_site as helpers

	with _site_lock(sites_path / site):
		lead = helpers.ensure_test_setup()
	reporter = request.config.pluginmanager.get_plugin("terminalreporter")
	if reporter:
		reporter.write_line(f"tier 2 on site {site} ({sites_path}); Lead: {lead}")
	yield site
	frappe.db.rollback()
	frappe.destroy()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
	"""Where a site is required, a skipped tier-2 test is a failure: it proved nothing."""
	if not _site_required():
		return
	reporter = session.config.pluginmanager.get_plugin("terminalreporter")
	skipped = [
		r for r in (reporter.stats.get("skipped", []) if reporter else []) if "integration/" in r.nodeid
	]
	if skipped:
		for report in skipped:
			reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
			print(f"\ntier 2 skipped, which CC_SYNC_REQUIRE_SITE forbids: {report.nodeid}: {reason}")
		session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _site_lock(site_path: Path):
	"""One test at a time per site, across pytest sessions: they share the site's rows."""
	from filelock import FileLock

	(site_path / "locks").mkdir(exist_ok=True)
	return FileLock(str(site_path / "locks" / "cc_sync_tier2.lock"), timeout=900)


@pytest.fixture(autouse=True)
def clean_site(frappe_site):
	"""Every test starts and ends without the rows the tier 2 tests create (their test email domains)."""
	import frappe

	from tests.integration import frappe_site as helpers

	with _site_lock(Path(frappe.get_site_path()).resolve()):
		state = helpers.begin_test()
		yield
		helpers.end_test(state)


@pytest.fixture
def settings_kept():
	"""The settings as they were before the test, with no push target rows the test added."""
	import frappe

	from cc_sync.cc_sync.constants import SETTINGS
	from tests.integration.app_helpers import settings_restored

	with settings_restored():
		yield
	frappe.db.sql("delete from `tabConstant Contact Push Target` where parent = %s", SETTINGS)
	frappe.db.commit()
