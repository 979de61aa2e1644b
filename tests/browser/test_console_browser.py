"""A staff user declares an incident in the console, in a real browser, and the public page
shows it. Debian's Chromium driven by Playwright (sync API) against pytest-django's live server.

Also measures that a declaration takes few steps and little time once the commander is on
the dashboard (the design goal: a new commander declares an incident in under 30 seconds).
"""

from __future__ import annotations

import time

import pytest
from django.contrib.auth.models import Permission

from incidents import services
from incidents.models import Incident, IncidentTemplate
from statuspage.models import Component
from statuspage.services import Actor, region_create, service_create

PASSWORD = "pw-commander-browser-1"


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


@pytest.fixture
def world(transactional_db, django_user_model):
    actor = Actor.system("test")
    us = region_create(slug="us-east-1", name="US East (N. Virginia)", actor=actor, position=1)
    eu = region_create(slug="eu-central-1", name="EU Central (Frankfurt)", actor=actor, position=2)
    runs = service_create(name="Run execution", regions=[us, eu], actor=actor, position=1)
    service_create(name="API", actor=actor, position=2)
    user = django_user_model.objects.create_user("commander", "ic@example.com", PASSWORD)
    user.is_staff = True
    user.save()
    user.user_permissions.add(Permission.objects.get(codename="run_console"))
    template = IncidentTemplate.objects.create(
        name="Region down: runs not starting",
        title="Runs not starting in us-east-1",
        status="investigating",
        impact="critical",
        component_status="major_outage",
        body="New runs are **not starting** in this region.",
    )
    return {
        "runs_us": runs.components.get(region=us),
        "runs_eu": runs.components.get(region=eu),
        "template": template,
    }


def log_in(page) -> None:
    page.goto("/console/")
    assert "/console/login/" in page.url
    page.fill("#id_username", "commander")
    page.fill("#id_password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url("**/console/")


def test_declare_in_console_then_public_page_shows_it(page, world):
    runs_us = world["runs_us"]
    log_in(page)

    # From the dashboard: the steps a commander takes, counted and timed.
    steps = []
    started = time.monotonic()
    page.click("text=Declare incident >> nth=0")
    steps.append("open the form")
    page.wait_for_url("**/console/declare/")
    page.fill("#id_name", "Runs not starting in us-east-1 (browser)")
    steps.append("name")
    page.select_option("#id_impact", "critical")
    steps.append("impact")
    page.select_option(f"select[name=c_{runs_us.public_id}]", "major_outage")
    steps.append("component status")
    page.fill("#id_body", "New runs are **not starting**. <script>window.pwned=1</script>")
    steps.append("first update")
    # Markdown preview, rendered and sanitized by the server.
    page.click("#declare-form button[data-preview]")
    page.wait_for_selector("#declare-preview strong")
    assert page.inner_text("#declare-preview strong") == "not starting"
    assert page.eval_on_selector("#declare-preview", "el => el.innerHTML").find("<script") == -1
    page.click("#declare-form button[type=submit]")
    steps.append("submit")
    page.wait_for_url("**/console/incidents/*/")
    elapsed = time.monotonic() - started

    print(f"\ndeclaration from the dashboard: {len(steps)} steps, {elapsed:.2f} s")
    assert len(steps) <= 6, steps
    assert elapsed < 30, elapsed
    assert page.inner_text("h1") == "Runs not starting in us-east-1 (browser)"
    assert "Incident declared" in page.inner_text(".messages")
    assert "Operational → Major outage" in page.inner_text(".timeline")

    incident = Incident.objects.get(name="Runs not starting in us-east-1 (browser)")
    assert incident.impact == "critical"
    assert Component.objects.get(pk=runs_us.pk).status == "major_outage"

    # The public page (built from the snapshot published after commit) shows it.
    page.goto("/")
    body = page.inner_text("body")
    assert "Runs not starting in us-east-1 (browser)" in body
    assert "Major System Outage" in body  # the banner, from a critical open incident
    # The component's own cell (not the legend) says so, in text.
    row = page.locator("table.matrix tbody tr").filter(has_text="Run execution")
    assert "Major outage" in row.inner_text()
    assert "Major outage" not in (
        page.locator("table.matrix tbody tr").filter(has_text="API").inner_text()
    )
    assert page.evaluate("window.pwned") is None


def test_template_and_whole_region_helper_prefill_instantly(page, world):
    log_in(page)
    page.goto("/console/declare/")
    url_before = page.url
    page.select_option("#template-picker", str(world["template"].pk))
    # Filled by JavaScript, without a page load.
    assert page.url == url_before
    assert page.input_value("#id_name") == "Runs not starting in us-east-1"
    assert page.input_value("#id_impact") == "critical"
    assert "not starting" in page.input_value("#id_body")
    # "Whole region" sets every component of the column at once.
    page.select_option("#id_r_us-east-1", "major_outage")
    assert page.input_value(f"select[name=c_{world['runs_us'].public_id}]") == "major_outage"
    assert page.input_value(f"select[name=c_{world['runs_eu'].public_id}]") == ""
    page.click("#declare-form button[type=submit]")
    page.wait_for_url("**/console/incidents/*/")
    assert Component.objects.get(pk=world["runs_us"].pk).status == "major_outage"
    assert Component.objects.get(pk=world["runs_eu"].pk).status == "operational"


def test_form_error_keeps_what_was_typed(page, world):
    log_in(page)
    page.goto("/console/declare/")
    page.fill("#id_body", "Typed under stress")
    page.select_option(f"select[name=c_{world['runs_eu'].public_id}]", "partial_outage")
    page.click("#declare-form button[type=submit]")
    page.wait_for_selector("#err-name")
    assert "Name: This field is required." in page.inner_text("#err-name")
    assert page.input_value("#id_body") == "Typed under stress"
    assert page.input_value(f"select[name=c_{world['runs_eu'].public_id}]") == "partial_outage"
    assert not Incident.objects.exists()


def test_update_and_resolve_in_console_then_public_page_is_clear(page, world):
    runs_us = world["runs_us"]
    incident = services.incident_declare(
        name="Slow dequeuing (browser)",
        body="Investigating",
        impact="minor",
        component_statuses={runs_us: "degraded_performance"},
        actor=Actor.system("test"),
    )
    log_in(page)
    page.goto(f"/console/incidents/{incident.public_id}/")
    page.select_option("#update-form select[name=status]", "monitoring")
    page.fill("#update-form textarea[name=body]", "A fix is deployed; watching.")
    page.click("#update-form button[type=submit]")
    page.wait_for_selector(".messages")
    assert "Update posted" in page.inner_text(".messages")
    assert "A fix is deployed; watching." in page.inner_text(".timeline")

    page.fill("#resolve-form textarea[name=body]", "Dequeuing is back to normal.")
    # Resolving asks once (issue 12): the commander confirms.
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#resolve-form button[type=submit]")
    page.wait_for_selector("text=it takes no more updates")
    incident.refresh_from_db()
    assert incident.status == "resolved"
    assert Component.objects.get(pk=runs_us.pk).status == "operational"

    page.goto("/")
    assert "All Systems Operational" in page.inner_text("body")
    row = page.locator("table.matrix tbody tr").filter(has_text="Run execution")
    assert "Degraded" not in row.inner_text()
