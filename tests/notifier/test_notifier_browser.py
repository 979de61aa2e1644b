"""A visitor subscribes, confirms, changes preferences and unsubscribes in a real browser
(Debian's Chromium driven by Playwright against pytest-django's live server): the pages work
with their CSRF cookies, and the signed links work without any login."""

from __future__ import annotations

import os
import re

import pytest
from django.core import mail

from notifier.models import Scope, Subscriber
from statuspage.services import Actor, region_create, service_create

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


@pytest.fixture
def page(monkeypatch):
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium to run the browser tests.")
    # Playwright's sync API runs an event loop in this thread; the ORM calls are safe here.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield browser.new_page()
        browser.close()


@pytest.mark.usefixtures("eager")
def test_subscribe_confirm_manage_and_unsubscribe_in_a_browser(live_server, page, settings):
    settings.HELIOGRAPH_SITE_URL = live_server.url
    settings.SITE_URL = live_server.url
    actor = Actor.system("test")
    us = region_create(slug="us-east-1", name="US East", actor=actor)
    eu = region_create(slug="eu-central-1", name="EU", actor=actor)
    service_create(name="Run execution", regions=[us, eu], actor=actor)

    page.goto(f"{live_server.url}/subscribe/")
    page.fill("input[name=email]", "ada@example.com")
    page.click("button[type=submit]")
    assert page.locator("h1").inner_text() == "Check your inbox"
    (message,) = mail.outbox
    link = re.search(r"(http://\S+/subscribe/confirm/\S+/)", message.body).group(1)

    page.goto(link)
    assert page.locator("h1").inner_text() == "Subscription confirmed"
    page.click("text=Choose what you receive")
    page.check("input[name=scope][value=regions]")
    page.locator("summary", has_text="Regions").click()
    page.check(f"input[name=regions][value='{eu.pk}']")
    page.click("text=Save preferences")
    assert "Your preferences are saved." in page.content()
    subscriber = Subscriber.objects.get()
    assert subscriber.is_active and subscriber.scope == Scope.REGIONS
    assert list(subscriber.regions.all()) == [eu]

    page.click("button:has-text('Unsubscribe')")
    assert page.locator("h1").inner_text() == "Unsubscribed"
    subscriber.refresh_from_db()
    assert subscriber.unsubscribed_at is not None
