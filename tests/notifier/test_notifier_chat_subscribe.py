"""Self-serve chat subscriptions: a visitor pastes their own Slack, Discord or Teams webhook
URL on /subscribe/ (or a script sends it to the v1 API), Heliograph posts a confirmation with
a confirm link into that channel (real clients: slack_sdk, discord.py, requests, against the
loopback sink), nothing else is posted until it is followed, and every later message carries
the subscriber's manage and unsubscribe links. The URL rule is the staff channels' one."""

from __future__ import annotations

import json
import re

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.urls import reverse
from notifier_helpers import DISCORD_ID, DISCORD_TOKEN, TEAMS_PATH
from sinks import Answer, teams_card_problems

from incidents import services as incidents
from notifier import services
from notifier.messages import message_links, notice_for_test
from notifier.models import Delivery, DeliveryStatus, Subscriber
from statuspage.api.services import api_token_create
from statuspage.services import Actor

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("loopback", "eager")]

# kind → (the path of its URL on the sink, the path the sink receives its messages on)
CHAT = {
    "slack": ("/services/T0/B0/abcdefghijklmnop", "/services/"),
    "discord": (f"/api/webhooks/{DISCORD_ID}/{DISCORD_TOKEN}", "/api/v10/webhooks/"),
    "teams": (TEAMS_PATH, "/workflows/"),
}
CONFIRM = re.compile(r"http://testserver/subscribe/confirm/[\w:.-]+/")
MANAGE = re.compile(r"http://testserver/subscriptions/[\w:.-]+/")
UNSUBSCRIBE = re.compile(r"http://testserver/subscriptions/[\w:.-]+/unsubscribe/")


@pytest.fixture
def subscribe(client, django_capture_on_commit_callbacks):
    def post(**data):
        form = {"scope": "all", **data}
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(reverse("notifier:subscribe"), form)

    return post


def declare(capture, catalogue, actor, name="Runs not starting in us-east-1"):
    with capture(execute=True):
        return incidents.incident_declare(
            name=name,
            body="We are investigating.",
            actor=actor,
            impact="critical",
            component_statuses={catalogue["runs_us"]: "major_outage"},
        )


def text_of(request) -> str:
    """A message as text, links included, whatever the medium's JSON (slashes unescaped)."""
    return json.dumps(request.json(), ensure_ascii=False).replace("\\/", "/")


@pytest.mark.parametrize("kind", list(CHAT))
def test_a_visitor_subscribes_their_channel_confirms_it_and_hears_the_next_update_once(
    kind, subscribe, client, sink, catalogue, actor, django_capture_on_commit_callbacks
):
    url_path, received_at = CHAT[kind]

    page = subscribe(kind=kind, url=f"{sink.url}{url_path}")

    assert page.status_code == 200
    assert "Check your channel" in page.content.decode()
    subscriber = Subscriber.objects.get()
    assert (subscriber.kind, subscriber.email, subscriber.confirmed_at) == (kind, "", None)
    (confirmation,) = sink.requests_to(received_at)
    if kind == "teams":
        assert teams_card_problems(confirmation.body) == []
    text = text_of(confirmation)
    assert "Confirm" in text
    (link,) = set(CONFIRM.findall(text))
    assert not UNSUBSCRIBE.search(text)  # nothing to manage yet
    assert mail.outbox == []  # confirmed in the channel, not by email

    declare(django_capture_on_commit_callbacks, catalogue, actor, name="Before confirming")
    assert len(sink.requests_to(received_at)) == 1  # nothing else until confirmed
    assert not Delivery.objects.filter(subscriber=subscriber).exists()

    confirmed = client.get(link)
    assert "Subscription confirmed" in confirmed.content.decode()
    assert subscriber.url not in confirmed.content.decode()  # the webhook URL is a secret

    incident = declare(django_capture_on_commit_callbacks, catalogue, actor)

    (delivery,) = Delivery.objects.filter(subscriber=subscriber)
    assert (delivery.medium, delivery.status) == (kind, DeliveryStatus.SENT)
    assert delivery.update.incident == incident
    update_message = sink.requests_to(received_at)[1]
    assert len(sink.requests_to(received_at)) == 2  # once
    text = text_of(update_message)
    assert "Runs not starting in us-east-1" in text
    assert MANAGE.search(text) and UNSUBSCRIBE.search(text)
    if kind == "teams":
        assert teams_card_problems(update_message.body) == []
        titles = [a["title"] for a in update_message.json()["attachments"][0]["content"]["actions"]]
        assert titles[-2:] == ["Manage subscription", "Unsubscribe"]

    # The unsubscribe link of the message works, without a login.
    unsubscribe = UNSUBSCRIBE.search(text).group(0)
    assert "Unsubscribed" in client.post(unsubscribe).content.decode()
    subscriber.refresh_from_db()
    assert subscriber.unsubscribed_at is not None


def test_asking_again_for_a_subscribed_channel_posts_already_subscribed(subscribe, sink, catalogue):
    url = f"{sink.url}{CHAT['slack'][0]}"
    services.subscriber_add_confirmed(
        kind="slack", url=url, scope="regions", regions=[catalogue["eu"]], actor=Actor.system("t")
    )

    page = subscribe(kind="slack", url=url)

    assert "Check your channel" in page.content.decode()  # the same answer
    (message,) = sink.requests_to("/services/")
    text = text_of(message)
    assert "already receives" in text and MANAGE.search(text) and not CONFIRM.search(text)
    subscriber = Subscriber.objects.get()
    assert subscriber.scope == "regions" and subscriber.is_active


def test_email_is_still_required_for_email_and_webhook_subscribers(subscribe, sink):
    page = subscribe(kind="webhook", url=f"{sink.url}/hook/1")
    assert page.status_code == 400 and "is not a valid email address" in page.content.decode()
    assert not Subscriber.objects.exists()


@pytest.mark.usefixtures("production")
@pytest.mark.parametrize(
    "kind, url, message",
    [
        ("slack", "https://127.0.0.1/services/T0/B0/x", "hooks.slack.com"),
        ("slack", "https://hooks.slack.com.example.net/services/T0/B0/x", "hooks.slack.com"),
        ("discord", "https://discord.example.net/api/webhooks/1234567/" + "a" * 30, "discord.com"),
        ("teams", "https://10.0.0.5" + TEAMS_PATH, "Teams workflow webhook"),
        ("teams", "https://prod-1.westus.logic.azure.com/hooks/x", "ends with /workflows/"),
    ],
)
def test_chat_urls_follow_the_vendor_host_rule_and_nothing_is_posted(
    kind, url, message, subscribe, settings, sink
):
    settings.HELIOGRAPH_ALLOW_PRIVATE_TARGETS = False  # after `loopback` lifted it
    page = subscribe(kind=kind, url=url)
    assert page.status_code == 400
    assert message in page.content.decode()
    assert not Subscriber.objects.exists() and sink.received == []


def test_a_confirmation_the_channel_refuses_is_kept_as_the_subscribers_error(subscribe, sink):
    sink.script("/services/", Answer(404, "channel_not_found"))
    page = subscribe(kind="slack", url=f"{sink.url}{CHAT['slack'][0]}")
    assert "Check your channel" in page.content.decode()  # the visitor learns nothing more
    subscriber = Subscriber.objects.get()
    assert "channel_not_found" in subscriber.last_error and subscriber.confirmed_at is None


def test_the_manage_page_names_the_channel_without_its_webhook_url(client, sink):
    url = f"{sink.url}{CHAT['teams'][0]}"
    subscriber = services.subscriber_add_confirmed(kind="teams", url=url, actor=Actor.system("t"))
    manage = MANAGE.search(_links_of(subscriber)).group(0)
    page = client.get(manage).content.decode()
    assert "Microsoft Teams channel" in page and "sig=" not in page and url not in page


def _links_of(subscriber) -> str:
    return " ".join(link.url for link in message_links(notice_for_test("x"), subscriber))


# --- The v1 API ---------------------------------------------------------------------------


@pytest.fixture
def api(client):
    _, raw = api_token_create(name="bot", scopes=None, actor=Actor.system("test"))

    def call(method, path, body=None):
        return getattr(client, method.lower())(
            f"/v1/pages/{django_settings.PAGE_ID}/{path}",
            data=json.dumps(body) if body is not None else None,
            content_type="application/json",
            HTTP_AUTHORIZATION=f"OAuth {raw}",
        )

    return call


def test_the_api_subscribes_a_teams_channel_with_a_confirmation_in_it(
    api, sink, django_capture_on_commit_callbacks
):
    url = f"{sink.url}{TEAMS_PATH}"
    with django_capture_on_commit_callbacks(execute=True):
        response = api("POST", "subscribers", {"subscriber": {"mode": "teams", "endpoint": url}})

    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["mode"], data["state"], data["email"]) == ("teams", "unconfirmed", None)
    assert data["endpoint"] == sink.url + "/…"  # the host only
    (card,) = sink.requests_to("/workflows/")
    assert CONFIRM.search(text_of(card))
    listed = api("GET", "subscribers?type=teams&state=unconfirmed").json()
    assert [s["id"] for s in listed] == [data["id"]]


def test_the_api_refuses_a_chat_endpoint_on_another_host(api, settings, sink):
    settings.HELIOGRAPH_ALLOW_PRIVATE_TARGETS = False
    response = api(
        "POST",
        "subscribers",
        {"subscriber": {"mode": "slack", "endpoint": "https://example.com/services/x"}},
    )
    assert response.status_code == 422
    assert response.json()["message"].startswith("endpoint: A Slack incoming webhook URL")


def test_the_api_adds_a_confirmed_sms_subscriber_from_a_national_number(api, sms):
    response = api(
        "POST",
        "subscribers",
        {
            "subscriber": {
                "phone_number": "0151 12345678",
                "phone_country": "DE",
                "skip_confirmation_notification": True,
            }
        },
    )
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["mode"], data["phone_number"], data["phone_country"]) == (
        "sms",
        "+4915112345678",
        "DE",
    )
    assert data["state"] == "active" and sms.texts() == []
    bad = api("POST", "subscribers", {"subscriber": {"mode": "sms", "phone_number": "12"}})
    assert bad.status_code == 422 and bad.json()["message"].startswith("phone_number:")
