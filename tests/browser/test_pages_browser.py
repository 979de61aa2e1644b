"""Issue 12 in Chromium: every page fits a 360 px phone, the key pages pass axe-core with no
serious or critical violation (WCAG 2.2 AA rules) at desktop and phone widths, the console
flows keep what the commander chose, and the screenshots of the key pages are saved.

axe-core comes from npm (tests/browser/package.json, installed by `make test`); it is
injected into each page by Playwright, in a context that bypasses the Content-Security-Policy
(the pages' own policy is checked by test_csp_browser.py).
"""

from __future__ import annotations

import json

import pytest
from browser_helpers import (
    DESKTOP,
    OUTAGE,
    PHONE,
    ROOT,
    console_pages,
    log_in,
    public_pages,
    screenshot_dir,
)

from incidents.models import Incident, IncidentUpdate
from statuspage.models import Component

AXE = ROOT / "tests" / "browser" / "node_modules" / "axe-core" / "axe.min.js"
# The rules of WCAG 2.0, 2.1 and 2.2 at levels A and AA.
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
FAILING_IMPACTS = {"serious", "critical"}


def _context(browser, live_server, viewport, **options):
    context = browser.new_context(base_url=live_server.url, viewport=viewport, **options)
    context.set_default_timeout(15000)
    return context


def _overflow(page) -> list[str]:
    """The elements that stick out of the viewport to the right (what makes a phone scroll
    sideways), or [] when the page is no wider than the screen."""
    if page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"):
        return []
    return page.evaluate(
        """() => [...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5)
            .slice(0, 5)
            .map(e => e.tagName.toLowerCase() + (e.className ? '.' + e.className : '')
                      + ' right=' + Math.round(e.getBoundingClientRect().right))"""
    )


def test_no_page_is_wider_than_a_360_px_phone(browser, live_server, site):
    """Finding 4 and 'phone first': every public, subscriber, docs and console page at
    360 px, with no horizontal scrolling of the page (a wide table scrolls inside its card)."""
    wide: dict[str, list[str]] = {}
    anonymous = _context(browser, live_server, PHONE)
    page = anonymous.new_page()
    for url in public_pages(site):
        page.goto(url)
        if found := _overflow(page):
            wide[url] = found
    anonymous.close()

    staff = _context(browser, live_server, PHONE)
    page = staff.new_page()
    log_in(page)
    for url in console_pages(site):
        response = page.goto(url)
        assert response is not None and response.status == 200, (url, response.status)
        if found := _overflow(page):
            wide[url] = found
    staff.close()
    assert wide == {}, json.dumps(wide, indent=1)


def _axe(page) -> list[dict]:
    """axe-core's serious and critical violations of WCAG 2.2 AA rules on the open page."""
    page.add_script_tag(content=AXE.read_text())
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_TAGS
    )
    return [
        {
            "rule": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [n["target"] for n in v["nodes"]][:5],
        }
        for v in result["violations"]
        if v["impact"] in FAILING_IMPACTS
    ]


@pytest.mark.parametrize(
    ("viewport", "scheme"),
    [(DESKTOP, "light"), (PHONE, "light"), (PHONE, "dark")],
    ids=["desktop", "phone", "phone-dark"],
)
def test_axe_finds_no_serious_or_critical_violation(browser, live_server, site, viewport, scheme):
    """Finding 10: the page, an incident page, the history, the subscribe page, and the
    console's dashboard, declare form and incident page; in dark mode too (the colours of
    prefers-color-scheme: dark must keep their contrast)."""
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `make test` (npm ci in tests/browser).")
    found: dict[str, list[dict]] = {}
    checked = 0
    for login, urls in (
        (
            False,
            ["/", f"/incidents/{site['outage'].public_id}", "/history", "/subscribe/"],
        ),
        (
            True,
            [
                "/console/",
                "/console/declare/",
                f"/console/incidents/{site['outage'].public_id}/",
            ],
        ),
    ):
        context = _context(browser, live_server, viewport, bypass_csp=True, color_scheme=scheme)
        page = context.new_page()
        if login:
            log_in(page)
        for url in urls:
            page.goto(url)
            checked += 1
            if violations := _axe(page):
                found[url] = violations
        context.close()
    assert checked == 7
    assert found == {}, json.dumps(found, indent=1)


def test_axe_sees_a_violation_when_there_is_one(browser, live_server, site):
    """The control: an image without a text alternative and an unlabelled field are
    reported (so an empty result above means the check ran)."""
    context = _context(browser, live_server, DESKTOP, bypass_csp=True)
    page = context.new_page()
    page.goto("/history")
    page.evaluate(
        """() => document.querySelector('main').insertAdjacentHTML('beforeend',
            '<img src="/static/statuspage/icons/favicon.svg"><input type="text">')"""
    )
    rules = {v["rule"] for v in _axe(page)}
    context.close()
    assert {"image-alt", "label"} <= rules


def test_screenshots_of_the_key_pages(browser, live_server, site):
    """Saved for CI's artefacts (and to refresh the README's): desktop and phone."""
    out = screenshot_dir()
    shots = []
    for name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        context = _context(browser, live_server, viewport)
        page = context.new_page()
        for label, url in (
            ("page", "/"),
            ("incident", f"/incidents/{site['june'].public_id}"),
            ("history", "/history"),
            ("subscribe", "/subscribe/"),
        ):
            page.goto(url)
            path = out / f"{label}-{name}.png"
            page.screenshot(path=str(path), full_page=True)
            shots.append(path)
        log_in(page)
        for label, url in (
            ("console-dashboard", "/console/"),
            ("console-declare", "/console/declare/"),
            ("console-incident", f"/console/incidents/{site['outage'].public_id}/"),
        ):
            page.goto(url)
            path = out / f"{label}-{name}.png"
            page.screenshot(path=str(path), full_page=True)
            shots.append(path)
        context.close()
    assert all(path.stat().st_size > 10_000 for path in shots)


def test_the_phone_page_leads_with_what_is_broken(browser, live_server, site):
    """Finding 5: on a phone the API's broken row comes first and the operational rows fold
    behind 'Show all services'; the bars show 30 days with the 30-day figure."""
    context = _context(browser, live_server, PHONE)
    page = context.new_page()
    page.goto("/")
    assert page.locator("h1").first.inner_text() == "Major System Outage"
    assert "API (us-east-1) has a major outage." in page.locator(".banner").inner_text()
    rows = page.locator(".matrix tbody tr:visible")
    assert rows.count() == 2  # the Platform group's header and the API
    assert "API" in rows.nth(1).inner_text() and "Major outage" in rows.nth(1).inner_text()
    assert "1 of 7 services affected" in page.locator(".phone-summary").inner_text()
    page.click("text=Show all services")
    assert page.locator(".matrix tbody tr:visible").count() == 7 + 2  # services and groups
    row = page.locator(".uptime-row").first
    assert row.locator("ol.bars li:visible").count() == 30
    assert page.locator("#uptime-title").inner_text() == "Uptime over the last 30 days"
    context.close()


def test_uptime_days_can_be_focused_and_open_their_incident(browser, live_server, site):
    """Finding 7: a day with an incident is a link to it (keyboard and touch); its figure
    shows when focused."""
    context = _context(browser, live_server, DESKTOP)
    page = context.new_page()
    page.goto("/")
    row = page.locator(".uptime-row", has_text="API").first
    link = row.locator("ol.bars li a").last
    link.focus()
    tip = link.locator("i")
    assert tip.is_visible()
    assert "%" in tip.inner_text() and OUTAGE in tip.inner_text()
    link.press("Enter")
    page.wait_for_url(f"**/incidents/{site['outage'].public_id}")
    # Newest first, with the other order one link away.
    first = page.locator("table.timeline tbody:visible tr").first.inner_text()
    assert "Identified" in first
    page.click("text=Show oldest first")
    assert "Investigating" in page.locator("table.timeline tbody:visible tr").first.inner_text()
    context.close()


def test_subscribe_shows_only_the_chosen_mediums_fields(browser, live_server, site):
    """Finding 8: the webhook URL only for a webhook; 'chosen regions' opens the list."""
    context = _context(browser, live_server, PHONE)
    page = context.new_page()
    page.goto("/subscribe/")
    url = page.locator("input[name=url]")
    region = page.locator("input[name=regions]").first
    assert not url.is_visible() and not region.is_visible()
    page.check("input[name=kind][value=webhook]")
    assert url.is_visible()
    page.check("input[name=scope][value=regions]")
    assert region.is_visible()
    assert page.locator("link[rel=icon]").count() == 1
    context.close()


def test_the_region_helper_never_overwrites_a_cell_already_set(browser, live_server, site):
    """Finding 2: Run execution/eu-central-1 set to partial outage, then the eu-central-1
    helper to degraded: the partial outage stays, the cells left at 'no change' follow."""
    context = _context(browser, live_server, DESKTOP)
    page = context.new_page()
    log_in(page)
    page.goto("/console/declare/")
    runs_eu = Component.objects.get(service__slug="run-execution", region__slug="eu-central-1")
    scheduled_eu = Component.objects.get(
        service__slug="scheduled-runs", region__slug="eu-central-1"
    )
    page.select_option(f"select[name=c_{runs_eu.public_id}]", "partial_outage")
    page.select_option("#id_r_eu-central-1", "degraded_performance")
    assert page.input_value(f"select[name=c_{runs_eu.public_id}]") == "partial_outage"
    assert page.input_value(f"select[name=c_{scheduled_eu.public_id}]") == ("degraded_performance")
    # The helper takes back what it filled, never the commander's choice.
    page.select_option("#id_r_eu-central-1", "")
    assert page.input_value(f"select[name=c_{scheduled_eu.public_id}]") == ""
    assert page.input_value(f"select[name=c_{runs_eu.public_id}]") == "partial_outage"
    # The impact follows the components, said live: partial outage → major.
    assert "Major (partial outage)" in page.locator("#id_impact option[value='']").inner_text()
    page.select_option("#id_r_eu-central-1", "degraded_performance")
    page.fill("#id_name", "Runs slow in eu-central-1")
    page.fill("#id_body", "Slow dequeuing.")
    page.click("#declare-form button[type=submit]")
    page.wait_for_url("**/console/incidents/*/")
    runs_eu.refresh_from_db()
    scheduled_eu.refresh_from_db()
    assert runs_eu.status == "partial_outage"
    assert scheduled_eu.status == "degraded_performance"
    assert Incident.objects.get(name="Runs slow in eu-central-1").impact == "major"
    context.close()


def test_a_stale_tab_keeps_the_text_and_resolve_asks_once(browser, live_server, site):
    """Finding 3 with two real tabs, and 'resolve asks once'."""
    context = _context(browser, live_server, DESKTOP)
    tab_a = context.new_page()
    log_in(tab_a)
    tab_b = context.new_page()
    url = f"/console/incidents/{site['outage'].public_id}/"
    tab_a.goto(url)
    tab_b.goto(url)
    tab_b.fill("#update-form textarea[name=body]", "Typed in tab B, must not be lost.")
    asked = []
    tab_a.on("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    tab_a.fill("#resolve-form textarea[name=body]", "Resolved in tab A.")
    tab_a.click("#resolve-form button[type=submit]")
    tab_a.wait_for_selector("#closed-note")
    assert len(asked) == 1 and "Resolve" in asked[0]
    count = IncidentUpdate.objects.count()
    tab_b.click("#update-form button[type=submit]")
    tab_b.wait_for_selector("#stale-notice")
    assert "became resolved" in tab_b.inner_text("#stale-notice")
    assert tab_b.input_value("#kept-text") == "Typed in tab B, must not be lost."
    assert IncidentUpdate.objects.count() == count
    context.close()
