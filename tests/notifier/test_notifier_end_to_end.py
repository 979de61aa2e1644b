"""Done-when: an update posted in the staff console reaches a Slack, a Discord, an email and a
webhook sink on loopback, with the right content, and only when the commander asks for it."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone
from notifier_helpers import discord_channel, slack_channel, webhook_channel

from incidents.models import Incident
from notifier.models import Delivery, DeliveryStatus, Subscriber

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("loopback", "eager")]


@pytest.fixture
def commander_client(client, django_user_model):
    user = django_user_model.objects.create_user("ic", "ic@example.com", "pw-ic-1234567")
    user.is_staff = True
    user.save()
    user.user_permissions.add(Permission.objects.get(codename="run_console"))
    client.force_login(user)
    return client


def test_console_updates_reach_every_medium(
    commander_client, django_capture_on_commit_callbacks, catalogue, actor, sink, smtp
):
    slack_channel(sink, actor)
    discord_channel(sink, actor)
    webhook_channel(sink, actor, path="/hook/support")
    Subscriber.objects.create(kind="email", email="ada@example.com", confirmed_at=timezone.now())
    runs_us = catalogue["runs_us"]

    with django_capture_on_commit_callbacks(execute=True):
        response = commander_client.post(
            "/console/declare/",
            {
                "name": "Runs not starting in us-east-1",
                "impact": "critical",
                "status": "investigating",
                f"c_{runs_us.public_id}": "major_outage",
                "body": "New runs are **not starting**.",
                "notify": "on",
            },
        )
    assert response.status_code == 302
    incident = Incident.objects.get()
    assert Delivery.objects.filter(status=DeliveryStatus.SENT).count() == 4
    assert "New runs are" in sink.requests_to("/services/")[0].json()["text"]
    embed = sink.requests_to("/api/v10/webhooks/")[0].json()["embeds"][0]
    assert embed["title"] == "[Investigating] Runs not starting in us-east-1"
    hook = sink.requests_to("/hook/support")[0].json()
    assert hook["incident"]["id"] == incident.public_id
    assert hook["incident"]["incident_updates"][0]["affected_components"][0]["new_status"] == (
        "major_outage"
    )
    (mail,) = smtp.to("ada@example.com")
    assert "<strong>not starting</strong>" in mail.message.get_body(("html",)).get_content()

    # An update posted without "notify" reaches nobody.
    with django_capture_on_commit_callbacks(execute=True):
        commander_client.post(
            f"/console/incidents/{incident.public_id}/update/",
            {"status": "identified", "body": "Quiet note."},
        )
    assert Delivery.objects.count() == 4
    # With it, the next update follows on every medium.
    with django_capture_on_commit_callbacks(execute=True):
        commander_client.post(
            f"/console/incidents/{incident.public_id}/update/",
            {"status": "monitoring", "body": "A fix is rolling out.", "notify": "on"},
        )
    assert Delivery.objects.filter(status=DeliveryStatus.SENT).count() == 8
    assert "A fix is rolling out." in sink.requests_to("/services/")[1].json()["text"]
    assert len(smtp.to("ada@example.com")) == 2
