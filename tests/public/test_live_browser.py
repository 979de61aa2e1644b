"""The exported page in headless Chromium, served from the tree by nginx with the app down:
it updates itself when api/v2/summary.json changes (no reload), and an old page says it may
be out of date."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone
from edge_servers import Nginx, free_port

from incidents.services import incident_declare
from statuspage.public.snapshot import snapshot_publish

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def edge(settings, tmp_path, catalogue):
    """The tree, served by nginx; the app's address has nothing listening (the app is down)."""
    settings.SNAPSHOT_DIR = tmp_path / "snapshot"
    site = tmp_path / "site"
    settings.PUBLISH_TARGETS = [f"file://{site}"]
    snapshot_publish()
    nginx = Nginx(root=site, app=f"127.0.0.1:{free_port()}")
    yield nginx
    nginx.stop()


def wait_in_page(page, predicate: str, timeout: float = 10.0) -> None:
    """Poll `predicate` (a function) from here: Playwright's own polling runs inside the page,
    where the fake clock freezes it and the Content-Security-Policy forbids its eval."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(predicate):
        if time.monotonic() > deadline:
            raise AssertionError(f"{predicate} still false after {timeout} s")
        time.sleep(0.05)


def first_check_done(page) -> None:
    """The script asks for both documents as soon as it runs, and counts its looks."""
    wait_in_page(page, "() => Number(document.documentElement.dataset.liveChecks) >= 1")


def test_the_page_updates_itself_when_the_summary_changes(browser, edge, actor, catalogue):
    page = browser.new_page()
    page.clock.install()
    page.goto(f"{edge.url}/")
    assert page.locator("h1").first.inner_text() == "All Systems Operational"
    first_check_done(page)
    page.evaluate("window.heliographNotReloaded = true")

    incident_declare(
        name="Queue backlog growing",
        body="Runs wait longer than usual to start.",
        actor=actor,
        impact="critical",
        component_statuses={catalogue["runs_us"]: "major_outage"},
    )  # published into the tree after commit
    # nginx keeps the tree's open files for open_file_cache_valid (1 s, the shipped config):
    # the next look must come after that, as it does in real life (30 s later).
    time.sleep(1.2)
    page.clock.run_for(31_000)  # the next look, 30 s later
    wait_in_page(
        page, "() => document.querySelector('main').textContent.includes('Queue backlog growing')"
    )
    assert page.locator("h1").first.inner_text() == "Major System Outage"
    assert page.evaluate("window.heliographNotReloaded") is True  # swapped in, not reloaded
    assert page.locator("#live-stale").count() == 0
    page.close()


def test_an_old_page_says_it_may_be_out_of_date(browser, edge, settings):
    fresh = browser.new_page()
    fresh.goto(f"{edge.url}/")
    first_check_done(fresh)
    fresh.wait_for_timeout(300)
    assert fresh.locator(".stale").count() == 0
    fresh.close()

    # The same page, read when the last publish is older than SNAPSHOT_STALE_AFTER (nothing
    # has published since: the app, beat and the workers are gone).
    later = timezone.now() + timedelta(seconds=settings.SNAPSHOT_STALE_AFTER + 120)
    page = browser.new_page()
    page.clock.install(time=later)
    page.goto(f"{edge.url}/")
    notice = page.locator("#live-stale")
    notice.wait_for(timeout=10_000)
    assert notice.inner_text().startswith("This page may be out of date since")
    assert notice.get_attribute("role") == "alert"
    # It works without JavaScript too: the page itself is complete.
    page.close()
    plain = browser.new_page(java_script_enabled=False)
    plain.goto(f"{edge.url}/")
    assert plain.locator("h1").first.inner_text() == "All Systems Operational"
    assert plain.locator("#live-stale").count() == 0
    plain.close()
