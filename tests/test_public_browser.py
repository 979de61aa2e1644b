"""The public page in a real browser (Debian's Chromium via Playwright): styled from our own
static files, readable on a phone (nothing wider than the screen: the matrix stacks), and on a
desktop (the services × regions matrix as a table)."""

from __future__ import annotations

import pytest

from incidents.services import incident_declare
from statuspage.services import region_create, service_create


@pytest.fixture
def page_data(transactional_db, actor, settings, tmp_path):
    settings.SNAPSHOT_DIR = tmp_path / "snapshot"
    regions = [
        region_create(slug="us-east-1", name="US East (N. Virginia)", actor=actor, position=1),
        region_create(slug="eu-central-1", name="EU Central (Frankfurt)", actor=actor, position=2),
        region_create(slug="us-west-2", name="US West (Oregon)", actor=actor, position=3),
    ]
    runs = service_create(
        name="Run execution",
        regions=regions,
        actor=actor,
        position=1,
        description="Dequeuing runs and starting them on workers.",
    )
    for n, name in enumerate(["Scheduled runs", "Container image registry", "Realtime"], 2):
        service_create(name=name, regions=regions, actor=actor, position=n)
    service_create(name="Dashboard", actor=actor, position=9)
    incident_declare(
        name="Runs not starting in us-east-1",
        body="The control plane lost etcd quorum.",
        actor=actor,
        impact="critical",
        component_statuses={runs.components.get(region=regions[0]): "major_outage"},
    )


def test_phone_layout_stacks_and_fits(browser, live_server, page_data):
    page = browser.new_page(viewport={"width": 375, "height": 740})
    page.goto(f"{live_server.url}/")
    assert page.locator("h1").first.inner_text() == "Major System Outage"
    # Nothing is wider than the phone's screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    # The matrix stacks: header row hidden, each cell a labelled line with text (not colour).
    assert page.locator(".matrix thead").evaluate("e => e.getBoundingClientRect().height") <= 1
    cell = page.locator(".matrix td", has_text="Major outage").first
    assert cell.is_visible()
    assert cell.evaluate("e => getComputedStyle(e, '::before').content") == '"us-east-1"'
    # Our stylesheet and icons loaded (no external assets).
    banner_bg = page.locator(".banner").evaluate("e => getComputedStyle(e).backgroundColor")
    assert banner_bg == "rgb(210, 34, 45)"
    icon = page.locator(".matrix .s-major_outage img").first
    assert icon.evaluate("e => e.complete && e.naturalWidth > 0")
    # 30 of the 90 bars are shown on a phone.
    visible = page.locator(".uptime-row").first.locator("ol.bars li:visible")
    assert visible.count() == 30
    page.close()


def test_desktop_layout_shows_the_matrix_table(browser, live_server, page_data):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/")
    headers = page.locator(".matrix thead th").all_inner_texts()
    assert [h.split("\n")[0] for h in headers] == [
        "Service",
        "us-east-1",
        "eu-central-1",
        "us-west-2",
        "Global",
    ]
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    row = page.locator(".matrix tbody tr", has_text="Run execution")
    cells = row.locator("td").all_inner_texts()
    assert cells[:3] == ["Major outage", "Operational", "Operational"]
    assert cells[3].startswith("—") and "regional" in cells[3]  # no global component
    assert page.locator(".uptime-row").first.locator("ol.bars li:visible").count() == 90
    page.close()
