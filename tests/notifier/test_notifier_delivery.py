"""The outbox and the transports, end to end against loopback servers.

The incident service writes the deliveries; after commit the (eager) Celery tasks send them
with the real clients (slack_sdk, discord.py, requests, Django's SMTP backend) to the sinks;
the assertions are on what the sinks received and on the delivery rows.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from notifier_helpers import (
    DISCORD_ID,
    DISCORD_TOKEN,
    discord_channel,
    slack_bot_channel,
    slack_channel,
    webhook_channel,
)
from sinks import Answer

from incidents import services as incidents
from notifier import services
from notifier.models import Channel, Delivery, DeliveryStatus, Scope, Subscriber, SubscriberKind
from statuspage.models import AuditEntry
from statuspage.services import component_set_status

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("loopback", "eager")]


def confirmed_subscriber(email: str, **kwargs) -> Subscriber:
    return Subscriber.objects.create(
        kind=kwargs.pop("kind", SubscriberKind.EMAIL),
        email=email,
        confirmed_at=timezone.now(),
        **kwargs,
    )


def declare(capture, catalogue, actor, *, body="Runs are not starting.", **kwargs):
    with capture(execute=True):
        return incidents.incident_declare(
            name=kwargs.pop("name", "Runs not starting in us-east-1"),
            body=body,
            actor=actor,
            impact=kwargs.pop("impact", "critical"),
            component_statuses=kwargs.pop(
                "component_statuses", {catalogue["runs_us"]: "major_outage"}
            ),
            **kwargs,
        )


def only_delivery(**filters) -> Delivery:
    return Delivery.objects.get(**filters)


def test_an_update_reaches_slack_discord_webhook_and_email(
    django_capture_on_commit_callbacks, catalogue, actor, sink, smtp
):
    slack = slack_channel(sink, actor)
    discord = discord_channel(sink, actor)
    hook = webhook_channel(sink, actor, path="/hook/ops")
    confirmed_subscriber("ada@example.com")

    incident = declare(django_capture_on_commit_callbacks, catalogue, actor)

    update = incident.updates.get()
    assert Delivery.objects.filter(update=update).count() == 4
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SENT}
    assert set(Delivery.objects.values_list("attempts", flat=True)) == {1}

    (slack_request,) = sink.requests_to("/services/")
    body = slack_request.json()
    assert "Runs not starting in us-east-1" in body["text"]
    assert "Runs are not starting." in body["text"]
    assert body["blocks"][0]["type"] == "header"
    assert "[Investigating]" in body["blocks"][0]["text"]["text"]
    flat = json.dumps(body["blocks"])
    # The impact in the page's words: a critical incident wears "Major outage", as its badge.
    assert "Major outage" in flat and "Critical" not in flat
    assert "Run execution (us-east-1)" in flat
    assert f"/incidents/{incident.public_id}" in flat

    (discord_request,) = sink.requests_to(f"/api/v10/webhooks/{DISCORD_ID}/{DISCORD_TOKEN}")
    assert "wait=1" in discord_request.path
    embed = discord_request.json()["embeds"][0]
    assert embed["title"] == "[Investigating] Runs not starting in us-east-1"
    assert embed["color"] == 0xD93F0B
    assert embed["description"] == "Runs are not starting."
    assert embed["url"].endswith(f"/incidents/{incident.public_id}#update-{update.public_id}")

    (hook_request,) = sink.requests_to("/hook/ops")
    payload = hook_request.json()
    assert set(payload) == {"meta", "page", "incident"}
    assert payload["incident"]["id"] == incident.public_id
    assert payload["incident"]["incident_updates"][0]["id"] == update.public_id
    assert payload["page"]["status_indicator"] == "critical"
    expected = hmac.new(hook.secret.encode(), hook_request.body, hashlib.sha256).hexdigest()
    assert hook_request.headers["X-Heliograph-Signature"] == f"sha256={expected}"

    (mail,) = smtp.to("ada@example.com")
    message = mail.message
    assert "Runs not starting in us-east-1" in message["Subject"]
    assert message["List-Unsubscribe"].strip().startswith("<http://testserver/subscriptions/")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Runs are not starting." in text and "Runs are not starting." in html
    assert "/subscriptions/" in text  # manage-preferences link

    for channel in (slack, discord, hook):
        channel.refresh_from_db()
        assert channel.last_success_at is not None and channel.broken_at is None


def test_deliveries_are_written_in_the_transaction_and_sent_only_after_commit(
    django_capture_on_commit_callbacks, catalogue, actor, sink
):
    slack_channel(sink, actor)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        incidents.incident_declare(name="x", body="y", actor=actor)
        assert Delivery.objects.filter(status=DeliveryStatus.PENDING).count() == 1
    assert sink.received == []
    for callback in callbacks:
        callback()
    assert len(sink.requests_to("/services/")) == 1
    assert Delivery.objects.get().status == DeliveryStatus.SENT


def test_a_rolled_back_update_leaves_no_delivery(catalogue, actor, sink):
    slack_channel(sink, actor)
    with pytest.raises(RuntimeError), transaction.atomic():
        incidents.incident_declare(name="x", body="y", actor=actor)
        assert Delivery.objects.count() == 1
        raise RuntimeError("the request failed after the write")
    assert Delivery.objects.count() == 0
    assert sink.received == []


def test_deliveries_are_unique_per_event_and_recipient(catalogue, actor, sink):
    slack_channel(sink, actor)
    confirmed_subscriber("ada@example.com")
    incident = incidents.incident_declare(name="x", body="y", actor=actor)
    update = incident.updates.get()
    services.deliveries_create_for_update(update=update)
    services.deliveries_create_for_update(update=update)
    assert Delivery.objects.filter(update=update).count() == 2


def test_an_update_without_notifications_writes_no_delivery(catalogue, actor, sink):
    slack_channel(sink, actor)
    incidents.incident_declare(name="x", body="y", actor=actor, deliver_notifications=False)
    assert Delivery.objects.count() == 0


def test_only_unconfirmed_unsubscribed_and_broken_subscribers_are_left_out(catalogue, actor):
    confirmed_subscriber("yes@example.com")
    Subscriber.objects.create(kind="email", email="unconfirmed@example.com")
    confirmed_subscriber("gone@example.com", unsubscribed_at=timezone.now())
    confirmed_subscriber("bounced@example.com", broken_at=timezone.now())
    incidents.incident_declare(name="x", body="y", actor=actor)
    assert list(Delivery.objects.values_list("subscriber__email", flat=True)) == ["yes@example.com"]


def test_scope_limits_channels_to_their_regions_services_and_components(
    django_capture_on_commit_callbacks, catalogue, actor, sink
):
    us = webhook_channel(
        sink, actor, path="/hook/us", scope=Scope.REGIONS, regions=[catalogue["us"]]
    )
    eu = webhook_channel(
        sink, actor, path="/hook/eu", scope=Scope.REGIONS, regions=[catalogue["eu"]]
    )
    runs = webhook_channel(
        sink, actor, path="/hook/runs", scope=Scope.SERVICES, services=[catalogue["runs"]]
    )
    api = webhook_channel(
        sink, actor, path="/hook/api", scope=Scope.COMPONENTS, components=[catalogue["api_global"]]
    )
    declare(django_capture_on_commit_callbacks, catalogue, actor)
    reached = set(Delivery.objects.values_list("channel_id", flat=True))
    assert reached == {us.pk, runs.pk}
    assert len(sink.requests_to("/hook/us")) == 1 and sink.requests_to("/hook/eu") == []

    # A global service concerns every region.
    declare(
        django_capture_on_commit_callbacks,
        catalogue,
        actor,
        name="API errors",
        component_statuses={catalogue["api_global"]: "partial_outage"},
    )
    assert {eu.pk, api.pk} <= set(Delivery.objects.values_list("channel_id", flat=True))


def test_component_changes_outside_incidents_reach_only_channels_that_asked(
    django_capture_on_commit_callbacks, catalogue, actor, sink
):
    wants = webhook_channel(sink, actor, path="/hook/changes", component_changes=True)
    webhook_channel(sink, actor, path="/hook/incidents-only")
    with django_capture_on_commit_callbacks(execute=True):
        change = component_set_status(
            component=catalogue["runs_eu"], status="degraded_performance", actor=actor
        )
    assert list(Delivery.objects.values_list("channel_id", flat=True)) == [wants.pk]
    (request,) = sink.requests_to("/hook/changes")
    payload = request.json()
    assert payload["component"]["id"] == catalogue["runs_eu"].public_id
    assert payload["component_update"] == {
        "old_status": "operational",
        "new_status": "degraded_performance",
        "created_at": payload["component_update"]["created_at"],
        "component_type": "Component",
        "id": f"c{change.pk}",
        "component_id": catalogue["runs_eu"].public_id,
    }
    # A change made by an incident update is told by the update, not twice.
    Delivery.objects.all().delete()
    declare(django_capture_on_commit_callbacks, catalogue, actor)
    assert not Delivery.objects.filter(component_change__isnull=False).exists()


# --- Slack ------------------------------------------------------------------------------------


def test_it_waits_exactly_retry_after_on_slack_429(
    django_capture_on_commit_callbacks, catalogue, actor, sink
):
    slack_channel(sink, actor)
    sink.script("/services/", Answer(429, "rate_limited", {"Retry-After": "7"}))
    before = timezone.now()
    declare(django_capture_on_commit_callbacks, catalogue, actor)
    after = timezone.now()
    delivery = only_delivery()
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.response_code == 429
    # Exactly Retry-After from the moment of the answer (no backoff, no jitter).
    assert before + timedelta(seconds=7) <= delivery.next_attempt_at
    assert delivery.next_attempt_at <= after + timedelta(seconds=7)
    # When the time comes, the retry goes through.
    Delivery.objects.update(next_attempt_at=timezone.now())
    assert services.deliveries_send(delivery_ids=[delivery.pk]) == {"sent": 1}
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SENT, 2)
    assert len(sink.requests_to("/services/")) == 2


def test_it_disables_channel_on_404(
    django_capture_on_commit_callbacks, catalogue, actor, sink, smtp, staff_user
):
    channel = slack_channel(sink, actor)
    sink.script("/services/", Answer(404, "channel_not_found"))
    declare(django_capture_on_commit_callbacks, catalogue, actor)
    delivery = only_delivery()
    assert delivery.status == DeliveryStatus.DEAD
    assert "channel_not_found" in delivery.last_error
    channel.refresh_from_db()
    assert channel.broken_at is not None and "channel_not_found" in channel.last_error
    assert AuditEntry.objects.filter(action="notifier.channel_broken").exists()
    (alert,) = smtp.to(staff_user.email)
    assert "Notification channel broken: ops" in alert.message["Subject"]
    # A broken channel gets no further deliveries and is not retried.
    incident = incidents.incident_declare(name="second", body="z", actor=actor)
    assert not Delivery.objects.filter(update__incident=incident).exists()
    assert len(sink.requests_to("/services/")) == 1


def test_it_disables_channel_on_410_channel_is_archived(
    django_capture_on_commit_callbacks, catalogue, actor, sink
):
    channel = slack_channel(sink, actor)
    sink.script("/services/", Answer(410, "channel_is_archived"))
    declare(django_capture_on_commit_callbacks, catalogue, actor)
    assert only_delivery().status == DeliveryStatus.DEAD
    channel.refresh_from_db()
    assert channel.broken_at is not None


def test_it_retries_slack_500_with_backoff_and_jitter(
    django_capture_on_commit_callbacks, catalogue, actor, sink
):
    slack_channel(sink, actor)
    sink.script("/services/", Answer(500, "rollup_error"))
    before = timezone.now()
    declare(django_capture_on_commit_callbacks, catalogue, actor)
    after = timezone.now()
    delivery = only_delivery()
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.response_code == 500 and "rollup_error" in delivery.last_error
    # First retry: 30 s with jitter (between 15 and 30 s).
    assert before + timedelta(seconds=15) <= delivery.next_attempt_at
    assert delivery.next_attempt_at <= after + timedelta(seconds=30)
    assert Channel.objects.get().broken_at is None


def test_backoff_grows_and_gives_up_after_max_attempts(catalogue, actor, sink):
    delays = [services._retry_delay(n) for n in range(1, 8)]
    assert all(a < b for a, b in zip([d * 2 / 3 for d in delays], delays[1:], strict=False))
    slack_channel(sink, actor)
    incidents.incident_declare(name="x", body="y", actor=actor)
    delivery = only_delivery()
    Delivery.objects.update(attempts=services.MAX_ATTEMPTS - 1)
    sink.script("/services/", Answer(500, "rollup_error"))
    services.deliveries_send(delivery_ids=[delivery.pk])
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.DEAD, services.MAX_ATTEMPTS)


def test_a_slow_slack_answer_is_still_delivered_once(
    django_capture_on_commit_callbacks, catalogue, actor, sink
):
    slack_channel(sink, actor)
    sink.script("/services/", Answer(200, "ok", delay=1.0))
    declare(django_capture_on_commit_callbacks, catalogue, actor)
    assert only_delivery().status == DeliveryStatus.SENT
    assert len(sink.requests_to("/services/")) == 1


def test_slack_bot_threads_all_updates_of_an_incident(
    django_capture_on_commit_callbacks, catalogue, actor, sink
):
    slack_bot_channel(sink, actor)
    incident = declare(django_capture_on_commit_callbacks, catalogue, actor)
    with django_capture_on_commit_callbacks(execute=True):
        incidents.incident_post_update(
            incident=incident, status="identified", body="A bad deploy.", actor=actor
        )
    first, second = (r.json() for r in sink.requests_to("/api/chat.postMessage"))
    requests = sink.requests_to("/api/chat.postMessage")
    assert requests[0].headers["Authorization"] == "Bearer xoxb-test-token"
    assert first["channel"] == "C012345" and "thread_ts" not in first
    assert second["thread_ts"] == "1700000000.000001"
    assert "A bad deploy." in second["text"]
    assert Delivery.objects.filter(status=DeliveryStatus.SENT).count() == 2


def test_it_disables_channel_on_revoked_slack_token(
    django_capture_on_commit_callbacks, catalogue, actor, sink
):
    channel = slack_bot_channel(sink, actor)
    sink.script("/api/chat.postMessage", Answer(200, {"ok": False, "error": "token_revoked"}))
    declare(django_capture_on_commit_callbacks, catalogue, actor)
    assert only_delivery().status == DeliveryStatus.DEAD
    channel.refresh_from_db()
    assert channel.broken_at is not None and "token_revoked" in channel.last_error


def test_long_updates_are_truncated_for_slack_with_a_link(
    django_capture_on_commit_callbacks, catalogue, actor, sink
):
    slack_channel(sink, actor)
    incident = declare(django_capture_on_commit_callbacks, catalogue, actor, body="word " * 2000)
    body = sink.requests_to("/services/")[0].json()
    assert len(body["blocks"]) <= 50
    sections = [b["text"]["text"] for b in body["blocks"] if b["type"] == "section" and "text" in b]
    assert all(len(text) <= 3000 for text in sections)
    assert sections[-1].endswith("|Read the full update>")
    assert f"/incidents/{incident.public_id}" in sections[-1]
    assert len(body["text"]) <= 3000 and body["text"].endswith(
        f"#update-{incident.updates.get().public_id}"
    )


# --- Discord ----------------------------------------------------------------------------------


def test_discord_429_with_via_is_waited_out_by_discord_py(
    django_capture_on_commit_callbacks, catalogue, actor, sink
):
    discord_channel(sink, actor)
    sink.script(
        "/api/v10/webhooks/",
        Answer(
            429,
            {"message": "You are being rate limited.", "retry_after": 0.4, "global": False},
            {"Content-Type": "application/json", "Via": "1.1 google", "Retry-After": "1"},
        ),
    )
    declare(django_capture_on_commit_callbacks, catalogue, actor)
    first, second = sink.requests_to("/api/v10/webhooks/")
    assert second.at - first.at >= 0.4
    assert only_delivery().status == DeliveryStatus.SENT


def test_discord_429_without_via_is_retried_after_retry_after(
    django_capture_on_commit_callbacks, catalogue, actor, sink
):
    discord_channel(sink, actor)
    sink.script(
        "/api/v10/webhooks/",
        Answer(
            429,
            {"message": "You are being rate limited.", "retry_after": 12.5, "global": False},
            {"Content-Type": "application/json"},
        ),
    )
    before = timezone.now()
    declare(django_capture_on_commit_callbacks, catalogue, actor)
    after = timezone.now()
    delivery = only_delivery()
    assert delivery.status == DeliveryStatus.FAILED and delivery.response_code == 429
    assert before + timedelta(seconds=12.5) <= delivery.next_attempt_at
    assert delivery.next_attempt_at <= after + timedelta(seconds=12.5)


def test_it_disables_channel_on_discord_404(
    django_capture_on_commit_callbacks, catalogue, actor, sink
):
    channel = discord_channel(sink, actor)
    sink.script(
        "/api/v10/webhooks/",
        Answer(
            404, {"message": "Unknown Webhook", "code": 10015}, {"Content-Type": "application/json"}
        ),
    )
    declare(django_capture_on_commit_callbacks, catalogue, actor)
    delivery = only_delivery()
    assert delivery.status == DeliveryStatus.DEAD and delivery.response_code == 404
    assert "Unknown Webhook" in delivery.last_error
    channel.refresh_from_db()
    assert channel.broken_at is not None


def test_it_disables_channel_on_discord_401(
    django_capture_on_commit_callbacks, catalogue, actor, sink
):
    channel = discord_channel(sink, actor)
    sink.script(
        "/api/v10/webhooks/",
        Answer(
            401, {"message": "401: Unauthorized", "code": 0}, {"Content-Type": "application/json"}
        ),
    )
    declare(django_capture_on_commit_callbacks, catalogue, actor)
    channel.refresh_from_db()
    assert channel.broken_at is not None and only_delivery().status == DeliveryStatus.DEAD


def test_long_updates_fit_discord_embed_limits_with_a_link(
    django_capture_on_commit_callbacks, catalogue, actor, sink
):
    discord_channel(sink, actor)
    many = {c: "major_outage" for c in [catalogue["runs_us"], catalogue["runs_eu"]]}
    declare(
        django_capture_on_commit_callbacks,
        catalogue,
        actor,
        name="N" * 250,
        body="x" * 9000,
        component_statuses=many,
    )
    embed = sink.requests_to("/api/v10/webhooks/")[0].json()["embeds"][0]
    assert len(embed["title"]) <= 256
    assert len(embed["description"]) <= 4096
    assert embed["description"].endswith(")") and "Read the full update" in embed["description"]
    total = len(embed["title"]) + len(embed["description"]) + len(embed["footer"]["text"])
    total += sum(len(f["name"]) + len(f["value"]) for f in embed["fields"])
    assert total <= 6000
    assert all(len(f["value"]) <= 1024 for f in embed["fields"])


# --- Webhooks ---------------------------------------------------------------------------------


def test_webhook_subscribers_get_signed_payloads_with_their_unsubscribe_link(
    django_capture_on_commit_callbacks, catalogue, actor, sink
):
    subscriber = confirmed_subscriber(
        "ops@example.com", kind=SubscriberKind.WEBHOOK, url=f"{sink.url}/hook/customer"
    )
    declare(django_capture_on_commit_callbacks, catalogue, actor)
    (request,) = sink.requests_to("/hook/customer")
    assert request.headers["Content-Type"] == "application/json"
    signature = hmac.new(subscriber.secret.encode(), request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-Heliograph-Signature"] == f"sha256={signature}"
    meta = request.json()["meta"]
    assert meta["unsubscribe"].startswith("http://testserver/subscriptions/")
    assert meta["generated_at"].endswith("Z")


def test_webhook_410_marks_the_subscriber_broken_and_429_waits(
    django_capture_on_commit_callbacks, catalogue, actor, sink
):
    gone = confirmed_subscriber("a@example.com", kind="webhook", url=f"{sink.url}/hook/gone")
    busy = confirmed_subscriber("b@example.com", kind="webhook", url=f"{sink.url}/hook/busy")
    sink.script("/hook/gone", Answer(410, "gone"))
    sink.script("/hook/busy", Answer(429, "slow down", {"Retry-After": "30"}))
    before = timezone.now()
    declare(django_capture_on_commit_callbacks, catalogue, actor)
    after = timezone.now()
    gone.refresh_from_db()
    assert gone.broken_at is not None
    assert only_delivery(subscriber=gone).status == DeliveryStatus.DEAD
    delivery = only_delivery(subscriber=busy)
    assert delivery.status == DeliveryStatus.FAILED
    assert before + timedelta(seconds=30) <= delivery.next_attempt_at
    assert delivery.next_attempt_at <= after + timedelta(seconds=30)


# --- Email ------------------------------------------------------------------------------------


def test_emails_go_in_one_smtp_session_and_a_550_breaks_only_that_subscriber(
    django_capture_on_commit_callbacks, catalogue, actor, smtp
):
    for n in range(5):
        confirmed_subscriber(f"user{n}@example.com")
    smtp.reject.add("user2@example.com")
    declare(django_capture_on_commit_callbacks, catalogue, actor)
    assert smtp.connections == 1
    assert sorted(a for m in smtp.received for a in m.rcpt_tos) == [
        "user0@example.com",
        "user1@example.com",
        "user3@example.com",
        "user4@example.com",
    ]
    # The email is rendered once and personalised: own To, Message-ID and links.
    messages = [m.message for m in smtp.received]
    assert [m["To"].strip() for m in messages] == [m.rcpt_tos[0] for m in smtp.received]
    assert len({m["Message-ID"] for m in messages}) == 4
    unsubscribes = {m["List-Unsubscribe"].strip() for m in messages}
    assert len(unsubscribes) == 4
    for m in messages:
        link = m["List-Unsubscribe"].strip().strip("<>")
        assert link in m.get_body(("plain",)).get_content()
        assert link in m.get_body(("html",)).get_content()
        assert "invalid" not in m.as_string()
    bad = only_delivery(subscriber__email="user2@example.com")
    assert bad.status == DeliveryStatus.DEAD and bad.response_code == 550
    assert Subscriber.objects.get(email="user2@example.com").broken_at is not None
    assert Delivery.objects.filter(status=DeliveryStatus.SENT).count() == 4
    assert AuditEntry.objects.filter(action="notifier.subscriber_broken").count() == 1


def test_maintenance_events_use_their_own_email_template(
    django_capture_on_commit_callbacks, catalogue, actor, smtp, settings
):
    confirmed_subscriber("ada@example.com")
    start = timezone.now() + timedelta(days=1)
    with django_capture_on_commit_callbacks(execute=True):
        incidents.maintenance_schedule(
            name="Database upgrade",
            body="Writes pause for 5 minutes.",
            actor=actor,
            scheduled_for=start,
            scheduled_until=start + timedelta(hours=1),
            components=[catalogue["runs_eu"]],
        )
    (mail,) = smtp.to("ada@example.com")
    assert mail.message["Subject"].strip().startswith("[Heliograph] Maintenance: Database upgrade")
    assert "Window:" in mail.message.get_body(("plain",)).get_content()
    # "Add to calendar": the maintenance calendar, in both parts.
    calendar = f"{settings.SITE_URL}/maintenance.ics"
    assert f"Add to calendar: {calendar}" in mail.message.get_body(("plain",)).get_content()
    assert f'<a href="{calendar}">Add to calendar</a>' in (
        mail.message.get_body(("html",)).get_content()
    )


def test_an_unsubscribed_address_gets_nothing_already_queued(catalogue, actor, smtp):
    subscriber = confirmed_subscriber("ada@example.com")
    incidents.incident_declare(name="x", body="y", actor=actor)  # deliveries written, not sent
    services.subscriber_unsubscribe(subscriber=subscriber)
    delivery = only_delivery()
    assert delivery.status == DeliveryStatus.SKIPPED
    assert services.deliveries_send(delivery_ids=[delivery.pk]) == {}
    assert smtp.received == []


# --- Requeue and retry ------------------------------------------------------------------------


def test_requeue_sends_deliveries_left_by_a_dead_worker_or_a_lost_message(
    settings, catalogue, actor, sink
):
    settings.HELIOGRAPH_DELIVERY_CLAIM_TIMEOUT = 300
    settings.HELIOGRAPH_DELIVERY_REQUEUE_AFTER = 60
    webhook_channel(sink, actor, path="/hook/a")
    webhook_channel(sink, actor, path="/hook/b")
    incidents.incident_declare(name="x", body="y", actor=actor)  # never enqueued: lost
    long_ago = timezone.now() - timedelta(minutes=10)
    lost, claimed = Delivery.objects.order_by("pk")
    Delivery.objects.filter(pk=lost.pk).update(next_attempt_at=long_ago)
    Delivery.objects.filter(pk=claimed.pk).update(
        status=DeliveryStatus.CLAIMED, claimed_at=long_ago, claim_token="dead-worker", attempts=1
    )
    assert services.deliveries_requeue() == 2
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SENT}
    assert len(sink.requests_to("/hook/a")) == 1 and len(sink.requests_to("/hook/b")) == 1
    # A late copy of the dead worker's message changes nothing.
    assert services.deliveries_send(delivery_ids=[lost.pk, claimed.pk]) == {}
    # The dead worker cannot mark a delivery it lost.
    claimed.refresh_from_db()
    assert claimed.claim_token != "dead-worker"


def test_requeue_leaves_recent_and_in_flight_deliveries_alone(settings, catalogue, actor, sink):
    webhook_channel(sink, actor)
    incidents.incident_declare(name="x", body="y", actor=actor)
    Delivery.objects.update(
        status=DeliveryStatus.CLAIMED, claimed_at=timezone.now(), claim_token="alive"
    )
    assert services.deliveries_requeue() == 0
    assert sink.received == []


def test_staff_can_retry_dead_deliveries(
    django_capture_on_commit_callbacks, catalogue, actor, sink
):
    webhook_channel(sink, actor, path="/hook/flaky")
    incident = incidents.incident_declare(name="x", body="y", actor=actor)
    Delivery.objects.update(status=DeliveryStatus.DEAD, attempts=8, last_error="boom")
    with django_capture_on_commit_callbacks(execute=True):
        count = services.deliveries_retry_dead(actor=actor, update=incident.updates.get())
    assert count == 1
    delivery = only_delivery()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SENT, 1)
    assert AuditEntry.objects.filter(action="deliveries.retry_dead").exists()


def test_an_unreachable_smtp_server_fails_the_batch_fast_for_a_later_retry(
    django_capture_on_commit_callbacks, settings, catalogue, actor
):
    from sinks import free_port

    settings.EMAIL_PORT = free_port()  # nothing listens there
    for n in range(3):
        confirmed_subscriber(f"user{n}@example.com")
    declare(django_capture_on_commit_callbacks, catalogue, actor)
    deliveries = list(Delivery.objects.all())
    assert {d.status for d in deliveries} == {DeliveryStatus.FAILED}
    assert all("email server is unavailable" in d.last_error for d in deliveries)
    assert all(d.next_attempt_at > timezone.now() for d in deliveries)
    assert not Subscriber.objects.filter(broken_at__isnull=False).exists()


def test_an_email_with_very_long_lines_still_carries_each_subscribers_links(
    django_capture_on_commit_callbacks, catalogue, actor, smtp
):
    for n in range(2):
        confirmed_subscriber(f"user{n}@example.com")
    declare(django_capture_on_commit_callbacks, catalogue, actor, body="long" * 400)
    assert len(smtp.received) == 2
    for mail in smtp.received:
        message = mail.message
        link = message["List-Unsubscribe"].strip().strip("<>")
        assert link in message.get_body(("plain",)).get_content()
        assert "long" * 400 in message.get_body(("plain",)).get_content()
        assert "invalid" not in message.get_body(("html",)).get_content()


def test_a_second_update_waits_while_the_incident_thread_is_being_started(
    django_capture_on_commit_callbacks, catalogue, actor, sink
):
    from notifier.models import SlackThread

    channel = slack_bot_channel(sink, actor)
    incident = incidents.incident_declare(name="x", body="y", actor=actor)  # not sent yet
    SlackThread.objects.create(channel=channel, incident=incident, ts="")  # someone is posting
    delivery = only_delivery()
    before = timezone.now()
    services.deliveries_send(delivery_ids=[delivery.pk])
    after = timezone.now()
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED and "first message" in delivery.last_error
    assert before + timedelta(seconds=2) <= delivery.next_attempt_at
    assert delivery.next_attempt_at <= after + timedelta(seconds=2)
    assert sink.requests_to("/api/chat.postMessage") == []
    # Once the thread exists, the update goes into it.
    SlackThread.objects.filter(channel=channel).update(ts="1699999999.000100")
    Delivery.objects.update(next_attempt_at=timezone.now())
    services.deliveries_send(delivery_ids=[delivery.pk])
    (request,) = sink.requests_to("/api/chat.postMessage")
    assert request.json()["thread_ts"] == "1699999999.000100"


def test_saving_a_broken_channel_puts_it_back_in_service(
    django_capture_on_commit_callbacks, catalogue, actor, sink
):
    channel = slack_channel(sink, actor)
    sink.script("/services/", Answer(404, "channel_not_found"))
    declare(django_capture_on_commit_callbacks, catalogue, actor)
    channel.refresh_from_db()
    assert channel.broken_at is not None
    services.channel_update(channel=channel, actor=actor, name="ops", url=channel.url)
    declare(django_capture_on_commit_callbacks, catalogue, actor, name="again")
    assert Delivery.objects.filter(status=DeliveryStatus.SENT, channel=channel).count() == 1


def test_requeue_and_retry_handle_fan_outs_bigger_than_a_query_may_name(catalogue, actor):
    Subscriber.objects.bulk_create(
        Subscriber(kind="email", email=f"u{i}@example.com", confirmed_at=timezone.now())
        for i in range(1500)
    )
    incident = incidents.incident_declare(name="x", body="y", actor=actor)
    Delivery.objects.update(next_attempt_at=timezone.now() - timedelta(hours=1))
    assert services.deliveries_requeue() == 1500  # enqueued eagerly: sent
    assert Delivery.objects.filter(status=DeliveryStatus.SENT).count() == 1500
    Delivery.objects.update(status=DeliveryStatus.DEAD)
    assert services.deliveries_retry_dead(actor=actor, update=incident.updates.get()) == 1500


def test_slack_gets_the_update_in_its_own_markup(
    django_capture_on_commit_callbacks, catalogue, actor, sink
):
    slack_channel(sink, actor)
    declare(
        django_capture_on_commit_callbacks,
        catalogue,
        actor,
        body="## Cause\nRuns are **not starting**; see [the runbook](https://example.com/rb) & <retry>.",
    )
    blocks = sink.requests_to("/services/")[0].json()["blocks"]
    text = [b["text"]["text"] for b in blocks if b["type"] == "section" and "text" in b][-1]
    assert text == (
        "*Cause*\nRuns are *not starting*; see <https://example.com/rb|the runbook> "
        "&amp; &lt;retry&gt;."
    )
