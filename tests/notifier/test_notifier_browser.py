"""A visitor subscribes, confirms, changes preferences and unsubscribes in a real browser
(Debian's Chromium driven by Playwright against pytest-django's live server): the pages work
with their CSRF cookies, and the signed links work without any login. The same for a chat
channel of each medium (the confirm link read from the message the loopback sink received)
and for a phone number (the code read from the text the Twilio sink received)."""

from __future__ import annotations

import os
import re

import pytest
from django.core import mail
from notifier_helpers import DISCORD_ID, DISCORD_TOKEN, TEAMS_PATH

from incidents import services as incidents
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


def _chromium(playwright):
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium to run the browser tests.")
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)


# kind → (the path of the channel's webhook on the sink, where the sink receives its messages)
CHAT = {
    "slack": ("/services/T0/B0/abcdefghijklmnop", "/services/"),
    "discord": (f"/api/webhooks/{DISCORD_ID}/{DISCORD_TOKEN}", "/api/v10/webhooks/"),
    "teams": (TEAMS_PATH, "/workflows/"),
}


@pytest.mark.usefixtures("eager")
@pytest.mark.parametrize("kind", list(CHAT))
def test_a_visitor_subscribes_their_chat_channel_and_confirms_from_it_in_a_browser(
    kind, live_server, settings, loopback
):
    sink = loopback["sink"]
    settings.SITE_URL = live_server.url
    actor = Actor.system("test")
    us = region_create(slug="us-east-1", name="US East", actor=actor)
    runs = service_create(name="Run execution", regions=[us], actor=actor)
    url_path, received_at = CHAT[kind]

    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = _chromium(playwright)
        page = browser.new_page()
        page.goto(f"{live_server.url}/subscribe/")
        page.check(f"input[name=kind][value={kind}]")
        page.fill("input[name=url]", f"{sink.url}{url_path}")
        page.click("button[type=submit]")
        assert page.locator("h1").inner_text() == "Check your channel"
        (posted,) = sink.requests_to(received_at)
        text = posted.body.decode().replace("\\/", "/")
        link = re.search(rf"{re.escape(live_server.url)}/subscribe/confirm/[\w:.-]+/", text)

        page.goto(link.group(0))
        assert page.locator("h1").inner_text() == "Subscription confirmed"
        page.click("text=Choose what you receive")
        shown = page.locator("main p").first.inner_text()
        assert "channel of the webhook" in shown and url_path not in shown
        browser.close()

    subscriber = Subscriber.objects.get()
    assert subscriber.kind == kind and subscriber.is_active
    incidents.incident_declare(
        name="Runs not starting",
        body="Investigating.",
        actor=actor,
        impact="major",
        component_statuses={runs.components.get(): "major_outage"},
    )
    assert len(sink.requests_to(received_at)) == 2  # the confirmation, then the update once


@pytest.mark.usefixtures("eager")
def test_a_visitor_subscribes_a_phone_and_types_the_texted_code_in_a_browser(
    live_server, settings, sms
):
    settings.SITE_URL = live_server.url

    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = _chromium(playwright)
        page = browser.new_page()
        page.goto(f"{live_server.url}/subscribe/")
        page.check("input[name=kind][value=sms]")
        page.fill("input[name=phone]", "+49 151 1234 5678")
        page.click("button[type=submit]")
        assert page.locator("h1").inner_text() == "Type the code we texted you"
        (text,) = sms.texts()
        code = text["Body"][:6]
        page.fill("input[name=code]", "000000" if code != "000000" else "111111")
        page.click("button:has-text('Confirm')")
        assert "That code is not right" in page.content()
        page.fill("input[name=code]", code)
        page.click("button:has-text('Confirm')")
        assert page.locator("h1").inner_text() == "Subscription confirmed"
        browser.close()

    subscriber = Subscriber.objects.get()
    assert (subscriber.phone, subscriber.code_attempts) == ("+4915112345678", 1)
    assert subscriber.is_active
