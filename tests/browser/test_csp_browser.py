"""No page logs a Content-Security-Policy violation in Chromium: the public page, an incident
page, the subscriber pages, the console (dashboard, declare form with its preview and template
picker, incident, credits, notifications, metrics), the admin (login, index, a change list and
a change form), the lockout page and /v1/docs. Debian's Chromium driven by Playwright.

Violations are caught twice: Chromium's console message ("Refused to … because it violates
the following Content Security Policy directive"), and the page's `securitypolicyviolation`
events, recorded by a listener installed before any page script runs. A control test makes
sure the listener does see a violation when there is one.
"""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from incidents.credits.models import CreditReportLine
from incidents.models import Incident
from notifier.services import subscriber_add_confirmed
from notifier.tokens import make_token
from statuspage.services import Actor

PASSWORD = "pw-root-browser-1"
RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__csp.push(e.violatedDirective + " " + (e.blockedURI || "inline") + " " + e.sourceFile
    + ":" + e.lineNumber);
});
"""


class Watched:
    """A page whose CSP violations (console messages and events) are collected."""

    def __init__(self, page):
        self.page = page
        self.console: list[str] = []
        page.on("console", self._on_console)
        page.add_init_script(RECORD_VIOLATIONS)

    def _on_console(self, message) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            self.console.append(message.text)

    def visit(self, url: str) -> None:
        response = self.page.goto(url)
        assert response is not None and response.status < 400, (url, response and response.status)
        assert "Content-Security-Policy" in {k.title(): v for k, v in response.headers.items()}
        self.page.wait_for_load_state("load")

    def violations(self) -> list[str]:
        return self.console + self.page.evaluate("window.__csp || []")


@pytest.fixture
def demo(transactional_db, settings, tmp_path, django_user_model):
    """The demo data (incidents, credits report, metrics, published snapshot) and a superuser."""
    settings.SNAPSHOT_DIR = tmp_path / "snapshot"
    settings.HELIOGRAPH_ADMIN_PASSWORD = ""
    call_command("load_demo", stdout=StringIO())
    django_user_model.objects.create_superuser("root", "root@example.com", PASSWORD)
    subscriber = subscriber_add_confirmed(email="reader@example.com", actor=Actor.system("test"))
    return {
        "incident": Incident.objects.filter(kind="incident").order_by("started_at").first(),
        "line": CreditReportLine.objects.select_related("report").first(),
        "manage_token": make_token("manage", subscriber.public_id),
    }


@pytest.fixture
def watched(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15000)
    yield Watched(page)
    context.close()


def log_in(watched: Watched, url: str = "/console/login/") -> None:
    watched.visit(url)
    watched.page.fill("#id_username", "root")
    watched.page.fill("#id_password", PASSWORD)
    watched.page.click("input[type=submit], button[type=submit] >> nth=-1")
    watched.page.wait_for_load_state("load")


def test_the_listener_sees_a_violation_when_there_is_one(watched, demo):
    """The control: an inline style attribute is refused, and both channels report it."""
    watched.visit("/")
    watched.page.evaluate(
        "document.body.insertAdjacentHTML('beforeend', '<p style=\"color:red\">x</p>')"
    )
    watched.page.wait_for_timeout(300)
    found = watched.violations()
    assert any("style-src" in v for v in found), found


def test_no_public_page_logs_a_violation(watched, demo):
    incident = demo["incident"]
    for url in (
        "/",
        "/history",
        f"/incidents/{incident.public_id}",
        "/subscribe/",
        f"/subscriptions/{demo['manage_token']}/",
        "/v1/docs",
    ):
        watched.visit(url)
    # The subscribe form posted (the answer page), as a visitor would.
    watched.visit("/subscribe/")
    watched.page.fill("input[name=email]", "new-reader@example.com")
    watched.page.click("form button[type=submit]")
    watched.page.wait_for_load_state("load")
    assert watched.violations() == []


def test_no_console_page_logs_a_violation(watched, demo):
    log_in(watched)
    assert watched.page.url.endswith("/console/")
    line = demo["line"]
    for url in (
        "/console/",
        f"/console/incidents/{demo['incident'].public_id}/",
        "/console/incidents/",
        "/console/maintenance/new/",
        "/console/components/",
        "/console/audit/",
        "/console/metrics/",
        "/console/credits/",
        f"/console/credits/reports/{line.report_id}/",
        "/console/notifications/",
        "/console/notifications/subscribers/",
        "/console/notifications/channels/new/?kind=webhook",
    ):
        watched.visit(url)
    # A credit line, and its note's copy button (it was an inline onclick): it selects the note.
    watched.visit(f"/console/credits/reports/{line.report_id}/accounts/{line.account_external_id}/")
    watched.page.click("button[data-copy]")
    selected = watched.page.evaluate(
        "(t => t.selectionEnd - t.selectionStart)(document.getElementById('note'))"
    )
    assert selected == len(watched.page.input_value("#note")) > 0
    # The declare form: its inline script runs (template picker, grid, Markdown preview).
    watched.visit("/console/declare/")
    picker = watched.page.locator("select[data-template-for]")
    if picker.count():
        value = picker.locator("option").nth(1).get_attribute("value")
        picker.select_option(value)
        assert watched.page.input_value("#id_name") != ""
    watched.page.fill("#id_body", "Runs are **delayed**.")
    watched.page.click("#declare-form button[data-preview]")
    watched.page.wait_for_selector("#declare-preview strong")
    assert watched.violations() == []


def test_no_admin_page_logs_a_violation(watched, demo):
    watched.visit("/admin/login/")
    log_in(watched, "/admin/login/")
    assert watched.page.url.endswith("/admin/")
    for url in (
        "/admin/",
        "/admin/incidents/incident/",
        f"/admin/incidents/incident/{demo['incident'].pk}/change/",
        "/admin/axes/accessattempt/",
        "/admin/api/apitoken/",
    ):
        watched.visit(url)
    assert watched.violations() == []


def test_the_lockout_page_logs_no_violation(watched, demo, settings):
    watched.visit("/console/login/")
    for n in range(settings.AXES_FAILURE_LIMIT):
        watched.page.fill("#id_username", "root")
        watched.page.fill("#id_password", f"wrong-{n}")
        watched.page.click("#login-form button[type=submit]")
        watched.page.wait_for_load_state("load")
    assert "Too many failed logins" in watched.page.inner_text("main")
    assert watched.violations() == []
