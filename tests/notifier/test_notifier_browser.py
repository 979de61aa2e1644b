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


@pytest.mark.usefixtures("eager")
def test_subscribe_confirm_manage_and_unsubscribe_in_a_browser(live_server, settings):
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium to run the browser tests.")
    settings.SITE_URL = live_server.url
    actor = Actor.system("test")
    us = region_create(slug="us-east-1", name="US East", actor=actor)
    eu = region_create(slug="eu-central-1", name="EU", actor=actor)
    service_create(name="Run execution", regions=[us, eu], actor=actor)

    # No ORM call from this thread while Playwright's event loop runs in it (Django would
    # open a second connection for that context and keep the test database busy).
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = browser.new_page()
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
        # Choosing "chosen regions" opens the region list by itself (issue 12, finding 8).
        assert page.locator(f"input[name=regions][value='{eu.pk}']").is_visible()
        page.check(f"input[name=regions][value='{eu.pk}']")
        page.click("text=Save preferences")
        assert "Your preferences are saved." in page.content()
        page.click("button:has-text('Unsubscribe')")
        assert page.locator("h1").inner_text() == "Unsubscribed"
        browser.close()

    subscriber = Subscriber.objects.get()
    assert subscriber.confirmed_at is not None and subscriber.unsubscribed_at is not None
    assert subscriber.scope == Scope.REGIONS and list(subscriber.regions.all()) == [eu]
