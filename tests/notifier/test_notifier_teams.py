"""Microsoft Teams: Adaptive Cards through a Workflows webhook, sent with `requests` (through
`notifier.outgoing`'s session) to the loopback Teams sink, which refuses a card that breaks
the schema (version, `$schema`, the required fields of every element and action) with 400
as Workflows does. Retries, 429 and permanent errors as for Slack and Discord."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from notifier_helpers import TEAMS_PATH, teams_channel
from sinks import Answer, teams_card_problems

from incidents import services as incidents
from notifier import services
from notifier.integrations import transport_for
from notifier.integrations.teams.transport import build_body
from notifier.messages import notice_for_event, notice_for_test
from notifier.models import Channel, Delivery, DeliveryStatus
from notifier.transports import TransportError
from notifier.validators import check_target
from statuspage.models import AuditEntry
from statuspage.services import component_set_status

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("loopback", "eager")]

WORKFLOW_URLS = [
    "https://prod-27.westus.logic.azure.com:443/workflows/0f1e2d3c4b5a69788796a5b4c3d2e1f0"
    "/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun"
    "&sv=1.0&sig=Zm9vYmFyYmF6cXV4",
    "https://default0f1e2d3c4b5a6978.87.environment.api.powerplatform.com:443/powerautomate"
    "/automations/direct/workflows/0f1e2d3c4b5a69788796a5b4c3d2e1f0/triggers/manual/paths"
    "/invoke?api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=Zm9vYmFy",
]


@pytest.fixture
def vendor_rules(loopback, production):
    """The production rules, after the loopback fixture lifted them."""


def declare(capture, catalogue, actor, **kwargs):
    with capture(execute=True):
        return incidents.incident_declare(
            name="Runs not starting in us-east-1",
            body=kwargs.pop("body", "We are **investigating** runs that do not start."),
            actor=actor,
            impact="critical",
            component_statuses={catalogue["runs_us"]: "major_outage"},
            **kwargs,
        )


def card_of(request) -> dict:
    return request.json()["attachments"][0]["content"]


def test_an_update_reaches_teams_as_an_adaptive_card_the_sink_accepts(
    django_capture_on_commit_callbacks, catalogue, actor, sink
):
    channel = teams_channel(sink, actor)

    incident = declare(django_capture_on_commit_callbacks, catalogue, actor)

    delivery = Delivery.objects.get(update=incident.updates.get())
    assert (delivery.medium, delivery.status, delivery.response_code) == ("teams", "sent", 202)
    (request,) = sink.requests_to("/workflows/")
    assert request.path == TEAMS_PATH  # the whole URL, signature query included
    assert teams_card_problems(request.body) == []
    message = request.json()
    assert message["type"] == "message"
    (attachment,) = message["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    assert (card["type"], card["version"]) == ("AdaptiveCard", "1.4")
    texts = [e["text"] for e in card["body"] if e["type"] == "TextBlock"]
    assert "Runs not starting in us-east-1" in texts
    assert "We are **investigating** runs that do not start." in texts
    facts = {
        f["title"]: f["value"] for e in card["body"] if e["type"] == "FactSet" for f in e["facts"]
    }
    assert facts["Status"] == "Investigating"
    assert facts["Impact"] == "Major outage"  # the page's word for a critical incident
    assert facts["Run execution (us-east-1)"] == "Operational → Major outage"
    (view,) = card["actions"]  # a staff channel: no subscriber links
    assert view["type"] == "Action.OpenUrl"
    assert view["url"].startswith(f"http://testserver/incidents/{incident.public_id}#update-")
    assert Channel.objects.get(pk=channel.pk).last_success_at is not None


def test_the_sink_refuses_a_card_that_breaks_the_schema():
    """The sink's check is what makes the test above mean something."""
    good = {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": [{"type": "TextBlock", "text": "hi"}],
                    "actions": [{"type": "Action.OpenUrl", "title": "x", "url": "https://e.x"}],
                },
            }
        ],
    }
    assert teams_card_problems(json.dumps(good).encode()) == []
    for change, problem in [
        ({"version": "1.6"}, "newer than Teams renders"),
        ({"version": 1.4}, "major.minor"),
        ({"$schema": None}, "$schema"),
        ({"body": []}, "non-empty list"),
        ({"body": [{"type": "TextBlock"}]}, "text is required"),
        ({"body": [{"type": "FactSet", "facts": [{"title": "a"}]}]}, "title and value"),
        ({"actions": [{"type": "Action.OpenUrl", "url": "https://e.x"}]}, "title is required"),
    ]:
        card = {**good["attachments"][0]["content"], **change}
        bad = {**good, "attachments": [{**good["attachments"][0], "content": card}]}
        problems = teams_card_problems(json.dumps(bad).encode())
        assert any(problem in p for p in problems), (change, problems)


def test_a_long_update_is_cut_with_a_link_and_the_card_stays_under_the_size_limit(
    django_capture_on_commit_callbacks, catalogue, actor, sink
):
    teams_channel(sink, actor)

    declare(django_capture_on_commit_callbacks, catalogue, actor, body="x" * 20000)

    (request,) = sink.requests_to("/workflows/")
    assert teams_card_problems(request.body) == []
    assert len(request.body) < 28 * 1024
    text = [e["text"] for e in card_of(request)["body"] if e["type"] == "TextBlock"][-1]
    assert text.endswith("#update-" + text.rsplit("#update-", 1)[1])
    assert "… [Read the full update](http://testserver/incidents/" in text


def test_a_429_waits_retry_after_then_the_card_goes_out(
    django_capture_on_commit_callbacks, catalogue, actor, sink
):
    channel = teams_channel(sink, actor)
    sink.script("/workflows/", Answer(429, "", headers={"Retry-After": "7"}))

    incident = declare(django_capture_on_commit_callbacks, catalogue, actor)

    delivery = Delivery.objects.get(update=incident.updates.get())
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.response_code == 429
    assert "retry after 7 s" in delivery.last_error
    wait = (delivery.next_attempt_at - delivery.updated_at).total_seconds()
    assert 6 <= wait <= 8
    channel.refresh_from_db()
    assert channel.broken_at is None

    services.deliveries_send(delivery_ids=[delivery.pk])  # it is not due yet: nothing
    assert len(sink.requests_to("/workflows/")) == 1


@pytest.mark.parametrize("status", [404, 410, 403])
def test_a_removed_workflow_breaks_the_channel_and_tells_staff(
    django_capture_on_commit_callbacks, catalogue, actor, sink, status
):
    channel = teams_channel(sink, actor)
    sink.script("/workflows/", Answer(status, {"error": {"code": "WorkflowNotFound"}}))

    incident = declare(django_capture_on_commit_callbacks, catalogue, actor)

    delivery = Delivery.objects.get(update=incident.updates.get())
    assert delivery.status == DeliveryStatus.DEAD
    channel.refresh_from_db()
    assert channel.broken_at is not None
    assert f"Teams answered {status}" in channel.last_error
    assert AuditEntry.objects.filter(action="notifier.channel_broken").exists()


def test_a_server_error_is_retried_not_permanent(actor, sink):
    channel = teams_channel(sink, actor)
    sink.script("/workflows/", Answer(502, "bad gateway"))
    with pytest.raises(TransportError) as raised:
        transport_for(channel).send(notice_for_test(channel.name))
    assert not raised.value.permanent and raised.value.status_code == 502


def test_a_redirect_is_permanent_and_not_followed(actor, sink):
    channel = teams_channel(sink, actor)
    sink.script("/workflows/", Answer(302, "", headers={"Location": f"{sink.url}/elsewhere"}))
    with pytest.raises(TransportError) as raised:
        transport_for(channel).send(notice_for_test(channel.name))
    assert raised.value.permanent and "redirect" in raised.value.message
    assert sink.requests_to("/elsewhere") == []


def test_the_test_message_button_sends_a_card(actor, sink):
    channel = teams_channel(sink, actor)
    result = services.channel_send_test(channel=channel, actor=actor)
    assert result.status_code == 202
    (request,) = sink.requests_to("/workflows/")
    assert teams_card_problems(request.body) == []
    assert "Test message from" in card_of(request)["body"][0]["text"]


@pytest.mark.usefixtures("vendor_rules")
@pytest.mark.parametrize("url", WORKFLOW_URLS)
def test_it_accepts_microsoft_workflow_urls(url):
    assert check_target(url, kind="teams") == url


@pytest.mark.usefixtures("vendor_rules")
@pytest.mark.parametrize(
    "url",
    [
        WORKFLOW_URLS[0].replace("https://", "http://"),  # not https
        WORKFLOW_URLS[0].replace(":443/", ":8443/"),  # not the default port
        WORKFLOW_URLS[0].replace("https://", "https://user@"),  # a user name
        WORKFLOW_URLS[0].replace("logic.azure.com", "logic.azure.com.example.net"),
        WORKFLOW_URLS[0].replace("prod-27.westus.logic.azure.com", "127.0.0.1"),
        "https://evil-logic.azure.com/workflows/0f1e2d3c4b5a6978/triggers/manual/paths/invoke",
        "https://prod-27.westus.logic.azure.com/workflows/0f1e2d3c/triggers/manual/run",
        "https://example.webhook.office.com/webhookb2/abc/IncomingWebhook/def/ghi",
    ],
)
def test_it_refuses_urls_that_are_not_microsoft_workflows(url):
    with pytest.raises(ValidationError):
        check_target(url, kind="teams")


@pytest.mark.usefixtures("vendor_rules")
def test_a_staff_channel_on_another_host_is_refused_and_nothing_is_written(actor):
    with pytest.raises(ValidationError) as raised:
        services.channel_create(
            kind="teams",
            name="x",
            url="https://127.0.0.1/workflows/0f1e2d3c4b5a/triggers/manual/paths/invoke",
            actor=actor,
        )
    assert "Microsoft Teams workflow webhook" in raised.value.message_dict["url"][0]
    assert not Channel.objects.exists()


def test_the_card_of_a_component_change_and_of_a_maintenance_are_valid(catalogue, actor):
    """Every kind of notice makes a card the sink accepts (built without sending)."""
    channel = Channel(kind="teams", name="x", url="https://x")
    change = component_set_status(
        component=catalogue["api_global"], status="degraded_performance", actor=actor
    )
    body = build_body(notice_for_event(f"c{change.pk}"), channel)
    assert teams_card_problems(body) == []
    start = timezone.now() + timedelta(days=1)
    maintenance = incidents.maintenance_schedule(
        name="Database upgrade",
        body="Upgrading.",
        scheduled_for=start,
        scheduled_until=start + timedelta(hours=2),
        components=[catalogue["runs_us"]],
        actor=actor,
    )
    notice = notice_for_event(f"u{maintenance.updates.get().pk}")
    card = json.loads(build_body(notice, channel))["attachments"][0]["content"]
    facts = {
        f["title"]: f["value"] for e in card["body"] if e["type"] == "FactSet" for f in e["facts"]
    }
    assert facts["Window"].endswith("UTC")


def test_a_teams_channel_marked_for_staff_alerts_gets_them_as_cards(
    actor, sink, django_capture_on_commit_callbacks
):
    teams_channel(sink, actor, staff_alerts=True)
    with django_capture_on_commit_callbacks(execute=True):
        services.staff_notice_post(
            key="alert:1:firing",
            title="Queue depth: critical (500)",
            body="Check the workers.",
            email=False,
        )
    (request,) = sink.requests_to("/workflows/")
    assert teams_card_problems(request.body) == []
    assert "Queue depth: critical (500)" in card_of(request)["body"][0]["text"]
    with pytest.raises(ValidationError):
        services.channel_create(
            kind="webhook", name="hook", url=f"{sink.url}/h", actor=actor, staff_alerts=True
        )
