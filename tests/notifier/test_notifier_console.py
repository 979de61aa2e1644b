"""Staff console pages of notifications, and URL validation of channels."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from notifier_helpers import DISCORD_ID, DISCORD_TOKEN, slack_channel, webhook_channel
from sinks import Answer

from incidents import services as incidents
from notifier import services
from notifier.models import Channel, Delivery, DeliveryStatus
from notifier.validators import check_target, discord_webhook_parts
from statuspage.models import AuditEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("boss", "boss@example.com", "pw-boss-12345")
    client.force_login(user)
    return client


# --- URL validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url, reason",
    [
        ("http://example.com/hook", "must use https"),
        ("https://127.0.0.1/hook", "loopback"),
        ("https://10.1.2.3/hook", "private"),
        ("https://169.254.169.254/latest/meta-data", "link-local"),
        ("https://[::1]/hook", "loopback"),
        ("https://localhost/hook", "loopback"),
        ("https://no-such-host.invalid/hook", "does not resolve"),
        ("not a url", "not a valid URL"),
    ],
)
def test_webhook_urls_must_be_https_and_public(url, reason):
    with pytest.raises(ValidationError, match=reason):
        check_target(url, kind="webhook")


def test_public_webhook_urls_are_accepted():
    assert (
        check_target("https://93.184.215.14/hook", kind="webhook") == "https://93.184.215.14/hook"
    )


def test_slack_and_discord_urls_must_be_on_their_hosts():
    check_target("https://hooks.slack.com/services/T0/B0/abc", kind="slack")
    with pytest.raises(ValidationError, match="hooks.slack.com"):
        check_target("https://evil.example.com/services/T0/B0/abc", kind="slack")
    discord = f"https://discord.com/api/webhooks/{DISCORD_ID}/{DISCORD_TOKEN}"
    assert check_target(discord, kind="discord") == discord
    assert discord_webhook_parts(discord) == (int(DISCORD_ID), DISCORD_TOKEN)
    with pytest.raises(ValidationError, match="discord.com"):
        check_target(
            f"https://example.com/api/webhooks/{DISCORD_ID}/{DISCORD_TOKEN}", kind="discord"
        )
    with pytest.raises(ValidationError, match="looks like"):
        check_target("https://discord.com/api/channels/1/messages", kind="discord")


def test_allow_private_targets_lifts_the_host_checks(settings):
    settings.HELIOGRAPH_ALLOW_PRIVATE_TARGETS = True
    assert check_target("http://127.0.0.1:8080/hook", kind="webhook")
    assert check_target("http://127.0.0.1:8080/services/x", kind="slack")


def test_a_private_channel_url_is_refused_when_saved_and_nothing_is_written(actor):
    with pytest.raises(ValidationError) as exc:
        services.channel_create(kind="webhook", name="x", url="https://192.168.1.5/h", actor=actor)
    assert "private" in exc.value.message_dict["url"][0]
    with pytest.raises(ValidationError) as exc:
        services.channel_create(kind="slack", name="x", token="xoxb-1", actor=actor)
    assert "channel id" in exc.value.message_dict["target"][0]
    assert Channel.objects.count() == 0


# --- Console pages ----------------------------------------------------------------------------


def test_console_needs_login_staff_and_permission(client, django_user_model, staff_user):
    response = client.get("/console/notifications/")
    assert response.status_code == 302 and "/console/login/" in response["Location"]
    plain = django_user_model.objects.create_user("visitor", "v@example.com", "pw-visitor-123")
    client.force_login(plain)
    assert client.get("/console/notifications/").status_code == 403
    client.force_login(staff_user)
    assert client.get("/console/notifications/").status_code == 403
    staff_user.user_permissions.add(Permission.objects.get(codename="view_delivery"))
    assert client.get("/console/notifications/").status_code == 200
    # Viewing is not editing.
    assert client.get("/console/notifications/channels/new/").status_code == 403


def test_staff_add_a_channel_and_bad_urls_are_refused_with_the_reason(admin_client, settings):
    response = admin_client.post(
        "/console/notifications/channels/new/",
        {"kind": "webhook", "name": "ops", "url": "https://10.0.0.1/hook", "scope": "all"},
    )
    assert response.status_code == 200
    assert "private, loopback or link-local" in response.content.decode()
    assert Channel.objects.count() == 0
    settings.HELIOGRAPH_ALLOW_PRIVATE_TARGETS = True
    response = admin_client.post(
        "/console/notifications/channels/new/",
        {"kind": "slack", "name": "ops", "url": "http://127.0.0.1:9/services/x", "scope": "all"},
    )
    channel = Channel.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/{channel.pk}/")
    assert AuditEntry.objects.filter(action="channel.create").exists()


@pytest.mark.usefixtures("loopback")
def test_it_adds_a_channel_disabled_when_its_enabled_box_is_unticked(admin_client):
    form = {"kind": "webhook", "url": "http://127.0.0.1:9/h", "scope": "all"}
    admin_client.post("/console/notifications/channels/new/", {**form, "name": "paused"})
    admin_client.post(
        "/console/notifications/channels/new/", {**form, "name": "on", "enabled": "on"}
    )
    assert dict(Channel.objects.values_list("name", "enabled")) == {"paused": False, "on": True}


@pytest.mark.usefixtures("loopback")
def test_send_test_message_reaches_the_channel_and_shows_health(admin_client, sink, actor):
    channel = slack_channel(sink, actor, name="support")
    response = admin_client.post(f"/console/notifications/channels/{channel.pk}/test/", follow=True)
    assert "Test message sent." in response.content.decode()
    (request,) = sink.requests_to("/services/")
    assert "test message" in request.json()["text"].lower()
    channel.refresh_from_db()
    assert channel.last_success_at is not None

    sink.script("/services/", Answer(404, "channel_not_found"))
    response = admin_client.post(f"/console/notifications/channels/{channel.pk}/test/", follow=True)
    page = response.content.decode()
    assert "The test message was not sent" in page and "channel_not_found" in page
    channel.refresh_from_db()
    assert "channel_not_found" in channel.last_error


@pytest.mark.usefixtures("loopback", "eager")
def test_per_update_counts_show_errors_and_retry_dead(
    admin_client, sink, actor, catalogue, django_capture_on_commit_callbacks
):
    webhook_channel(sink, actor, path="/hook/ok")
    broken = slack_channel(sink, actor, name="archived")
    flaky = webhook_channel(sink, actor, path="/hook/flaky")
    sink.script("/services/", Answer(410, "channel_is_archived"))
    sink.script("/hook/flaky", Answer(500, "down"))
    with django_capture_on_commit_callbacks(execute=True):
        incident = incidents.incident_declare(name="Runs down", body="Sorry.", actor=actor)
    update = incident.updates.get()
    Delivery.objects.filter(channel=flaky).update(status=DeliveryStatus.DEAD)

    index = admin_client.get("/console/notifications/").content.decode()
    assert "1 channel broken" in index and "channel_is_archived" in index
    page = admin_client.get(f"/console/notifications/updates/{update.public_id}/").content.decode()
    assert 'data-medium="webhook"><td>Webhook</td><td>1</td>' in page  # one sent
    assert "channel_is_archived" in page and "Retry 1 dead delivery" in page
    assert "2 dead in all" in page

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            f"/console/notifications/updates/{update.public_id}/retry-dead/", follow=True
        )
    # The broken channel is not retried; the flaky webhook is, and now succeeds.
    assert "1 dead deliveries queued again." in response.content.decode()
    assert Delivery.objects.get(channel=flaky).status == DeliveryStatus.SENT
    assert Delivery.objects.get(channel=broken).status == DeliveryStatus.DEAD


def test_subscribers_page_lists_them(admin_client):
    services.subscriber_subscribe(email="ada@example.com")
    page = admin_client.get("/console/notifications/subscribers/?state=unconfirmed")
    assert page.status_code == 200 and "ada@example.com" in page.content.decode()


def test_admin_lists_every_notifier_model(admin_client, actor, settings):
    settings.HELIOGRAPH_ALLOW_PRIVATE_TARGETS = True
    channel = services.channel_create(
        kind="webhook", name="x", url="http://127.0.0.1:9/h", actor=actor
    )
    services.subscriber_subscribe(email="ada@example.com")
    incident = incidents.incident_declare(name="x", body="y", actor=actor)
    delivery = Delivery.objects.get(update__incident=incident)
    for model in ("subscriber", "channel", "delivery", "slackthread"):
        assert admin_client.get(f"/admin/notifier/{model}/").status_code == 200
    assert admin_client.get(f"/admin/notifier/channel/{channel.pk}/change/").status_code == 200
    assert admin_client.get(f"/admin/notifier/delivery/{delivery.pk}/change/").status_code == 200
    subscriber = services.Subscriber.objects.get()
    assert (
        admin_client.get(f"/admin/notifier/subscriber/{subscriber.pk}/change/").status_code == 200
    )


def test_retry_after_accepts_seconds_and_http_dates():
    from email.utils import format_datetime

    from django.utils import timezone

    from notifier.transports import parse_retry_after

    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(1.234) == 1.234
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after("soon", default=5.0) == 5.0
    in_a_minute = format_datetime(timezone.now() + timezone.timedelta(seconds=60), usegmt=True)
    assert 55 <= parse_retry_after(in_a_minute) <= 60


def test_each_medium_has_its_own_channel_form(admin_client, actor, settings):
    slack = admin_client.get("/console/notifications/channels/new/?kind=slack").content.decode()
    assert 'name="token"' in slack and 'name="target"' in slack
    discord = admin_client.get("/console/notifications/channels/new/?kind=discord").content
    assert b'name="token"' not in discord and b"discord.com/api/webhooks" in discord
    settings.HELIOGRAPH_ALLOW_PRIVATE_TARGETS = True
    response = admin_client.post(
        "/console/notifications/channels/new/",
        {
            "kind": "discord",
            "name": "community",
            "url": "https://discord.com/api/webhooks/1/too-short",
            "scope": "all",
        },
    )
    assert "looks like https://discord.com/api/webhooks" in response.content.decode()
    assert Channel.objects.count() == 0
    channel = services.channel_create(
        kind="webhook", name="hook", url="http://127.0.0.1:9/h", actor=actor
    )
    page = admin_client.get(f"/console/notifications/channels/{channel.pk}/").content.decode()
    assert channel.secret in page and 'value="http://127.0.0.1:9/h"' in page
    response = admin_client.post(
        f"/console/notifications/channels/{channel.pk}/",
        {"kind": "webhook", "name": "renamed", "url": "http://127.0.0.1:9/h", "scope": "all"},
    )
    assert response.status_code == 302
    channel.refresh_from_db()
    assert channel.name == "renamed" and not channel.enabled  # the box was unticked
