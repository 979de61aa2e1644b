"""Suite-wide guard: with HELIOGRAPH_REQUIRE_SERVICES=1 (set by .ci/run) the tests must run on
PostgreSQL and Redis, and a skipped test counts as a failure, so nothing that needs those
servers can silently drop out of CI."""

from __future__ import annotations

import os

import pytest

REQUIRED = os.environ.get("HELIOGRAPH_REQUIRE_SERVICES") == "1"


def pytest_configure(config: pytest.Config) -> None:
    if not REQUIRED:
        return
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        raise pytest.UsageError("HELIOGRAPH_REQUIRE_SERVICES=1 needs DATABASE_URL on PostgreSQL")
    if not os.environ.get("REDIS_URL", "").startswith("redis://"):
        raise pytest.UsageError("HELIOGRAPH_REQUIRE_SERVICES=1 needs REDIS_URL")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    if REQUIRED and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where nothing may be skipped: {report.longrepr}"
