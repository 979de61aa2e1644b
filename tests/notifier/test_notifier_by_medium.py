"""The console's notifications page by medium: channels and subscribers of each medium with
their counts, and per medium what was sent (the last 7 days and per update)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from notifier_helpers import slack_channel, teams_channel

from incidents import services as incidents
from notifier import selectors, services
from notifier.models import Channel, Delivery, Subscriber, SubscriberKind

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("loopback", "eager")]


@pytest.fixture
def admin_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("boss", "boss@example.com", "pw-boss-12345")
    client.force_login(user)
    return client


def cells(html: str, table: str, medium: str) -> list[str]:
    body = re.search(rf'<table id="{table}">(.*?)</table>', html, re.S).group(1)
    row = re.search(rf'<tr data-medium="{medium}">(.*?)</tr>', body, re.S).group(1)
    return [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td>(.*?)</td>", row, re.S)]


def test_the_page_counts_channels_and_subscribers_by_medium_and_what_was_sent(
    admin_client, catalogue, actor, sink, sms, django_capture_on_commit_callbacks
):
    teams_channel(sink, actor)
    teams_channel(sink, actor, name="off", enabled=False)
    slack_channel(sink, actor)
    now = timezone.now()
    for phone in ("+4915112345678", "+4915112345679"):
        Subscriber.objects.create(kind=SubscriberKind.SMS, phone=phone, confirmed_at=now)
    Subscriber.objects.create(kind=SubscriberKind.SMS, phone="+819012345678")  # unconfirmed
    Subscriber.objects.create(
        kind=SubscriberKind.TEAMS, url=f"{sink.url}/x", confirmed_at=now, unsubscribed_at=now
    )
    with django_capture_on_commit_callbacks(execute=True):
        incidents.incident_declare(
            name="Runs not starting",
            body="Investigating.",
            actor=actor,
            impact="critical",
            component_statuses={catalogue["runs_us"]: "major_outage"},
        )

    html = admin_client.get("/console/notifications/").content.decode()

    assert cells(html, "by-medium", "teams") == ["Microsoft Teams", "1 / 2", "0", "0", "1", "0"]
    assert cells(html, "by-medium", "sms") == ["SMS", "—", "2", "1", "0", "0"]
    assert cells(html, "by-medium", "slack") == ["Slack", "1 / 1", "0", "0", "0", "0"]
    assert cells(html, "sent-by-medium", "sms") == ["SMS", "2", "0", "0", "0", "0", "0"]
    assert cells(html, "sent-by-medium", "teams") == [
        "Microsoft Teams",
        "1",
        "0",
        "0",
        "0",
        "0",
        "0",
    ]
    assert cells(html, "sent-by-medium", "email") == ["Email", "0", "0", "0", "0", "0", "0"]
    assert "Microsoft Teams 1 · SMS 2" in html  # the update's row: sent by medium
    assert "Slack 1" in html

    listed = admin_client.get("/console/notifications/subscribers/?medium=sms").content.decode()
    assert "+4915112345678" in listed and "+819012345678" in listed
    assert f"{sink.url}/x" not in listed


def test_sent_per_medium_covers_the_last_days_only(catalogue, actor, sink):
    channel = slack_channel(sink, actor)
    old, new = (
        Delivery.objects.create(
            event_key=key,
            recipient_key=f"h{channel.pk}",
            medium="slack",
            channel=channel,
            status="sent",
            next_attempt_at=timezone.now(),
        )
        for key in ("u1", "u2")
    )
    Delivery.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=8))
    (slack,) = [row for row in selectors.deliveries_by_medium(days=7) if row["medium"] == "slack"]
    assert slack["sent"] == 1 and slack["total"] == 1


def test_the_counts_follow_the_one_active_rule(catalogue, actor, sink):
    channel = teams_channel(sink, actor)
    services.recipient_mark_broken(recipient=channel, error="gone")
    subscriber = Subscriber.objects.create(
        kind=SubscriberKind.SLACK, url=f"{sink.url}/services/a", confirmed_at=timezone.now()
    )
    rows = {row["medium"]: row for row in selectors.recipients_by_medium()}
    teams = rows["teams"]["channels"]
    assert (teams["active"], teams["total"]) == (0, 1)
    assert rows["slack"]["subscribers"]["confirmed"] == Subscriber.objects.active().count() == 1
    services.subscriber_unsubscribe(subscriber=subscriber)
    rows = {row["medium"]: row for row in selectors.recipients_by_medium()}
    assert rows["slack"]["subscribers"]["confirmed"] == 0
    assert Channel.objects.active().count() == 0
