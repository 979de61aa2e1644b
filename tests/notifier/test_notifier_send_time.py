"""What is decided when a delivery is written and what when it is sent.

Written (in the transaction of the update): who hears of it (the recipients active then) and
the page's overall status at that moment (the `Event` stamp). Sent (maybe much later, maybe
again after a failure): whether the recipient is still active, checked on every attempt; the
status told is still the stamped one, not the status of the moment of the retry.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from notifier_helpers import webhook_channel
from sinks import Answer

from incidents import selectors as incident_selectors
from incidents import services as incidents
from notifier import services
from notifier.messages import notice_cache_clear
from notifier.models import Channel, Delivery, DeliveryStatus, Subscriber
from statuspage.services import Actor

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("loopback")]

HOOK = "/hook/ops"


def _subscriber(sink) -> Subscriber:
    return services.subscriber_add_confirmed(
        email="ops@example.com",
        kind="webhook",
        url=f"{sink.url}{HOOK}",
        actor=Actor.system("test"),
    )


def _channel(sink) -> Channel:
    return webhook_channel(sink, Actor.system("test"), path=HOOK)


def _disable(channel: Channel) -> None:
    services.channel_update(
        channel=channel,
        actor=Actor.system("test"),
        name=channel.name,
        url=channel.url,
        enabled=False,
    )


def _break(recipient: Channel | Subscriber) -> None:
    services.recipient_mark_broken(recipient=recipient, error="410 Gone: no such hook")


def _unsubscribe(subscriber: Subscriber) -> None:
    services.subscriber_unsubscribe(subscriber=subscriber)


# (recipient factory, what makes it inactive, the reason its delivery is skipped with)
BECOMING_INACTIVE = {
    "subscriber unsubscribes": (_subscriber, _unsubscribe, "The subscriber unsubscribed."),
    "subscriber broken": (
        _subscriber,
        _break,
        "The subscriber is broken: 410 Gone: no such hook",
    ),
    "channel disabled": (_channel, _disable, "The channel is disabled."),
    "channel broken": (_channel, _break, "The channel is broken: 410 Gone: no such hook"),
}


def _post_update(actor) -> Delivery:
    """Declare an incident; its delivery is written (pending) and not yet sent: the test
    transaction never commits, so nothing is enqueued."""
    incidents.incident_declare(name="Runs not starting", body="Looking.", actor=actor)
    return Delivery.objects.get()


@pytest.mark.parametrize("case", list(BECOMING_INACTIVE))
def test_it_does_not_send_to_a_recipient_that_became_inactive_after_the_update(
    case, catalogue, actor, sink
):
    make, inactivate, reason = BECOMING_INACTIVE[case]
    recipient = make(sink)
    delivery = _post_update(actor)
    assert delivery.status == DeliveryStatus.PENDING and delivery.recipient == recipient

    inactivate(recipient)
    services.deliveries_send(delivery_ids=[delivery.pk])

    assert sink.requests_to(HOOK) == []
    delivery.refresh_from_db()
    assert (delivery.status, delivery.last_error) == (DeliveryStatus.SKIPPED, reason)


@pytest.mark.parametrize("case", list(BECOMING_INACTIVE))
def test_it_does_not_send_a_delivery_that_was_in_flight_when_its_recipient_became_inactive(
    case, settings, catalogue, actor, sink, eager
):
    """A worker claimed the delivery and died; meanwhile the recipient became inactive (its
    queued deliveries were skipped, but not this claimed one). When the beat hands the
    delivery back, the send-time check is all that stands between it and the recipient."""
    settings.HELIOGRAPH_DELIVERY_CLAIM_TIMEOUT = 300
    make, inactivate, reason = BECOMING_INACTIVE[case]
    recipient = make(sink)
    delivery = _post_update(actor)
    # The worker that claimed it ten minutes ago is gone (as the requeue tests set it up).
    Delivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.CLAIMED,
        claimed_at=timezone.now() - timedelta(minutes=10),
        claim_token="dead-worker",
        attempts=1,
    )

    inactivate(recipient)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.CLAIMED  # in flight: not skipped by the change
    # The beat hands it back; the (eager) task runs deliveries_send on it.
    assert services.deliveries_requeue() == 1

    assert sink.requests_to(HOOK) == []
    delivery.refresh_from_db()
    assert (delivery.status, delivery.last_error) == (DeliveryStatus.SKIPPED, reason)
    assert services.deliveries_send(delivery_ids=[delivery.pk]) == {}


@pytest.mark.parametrize("make", [_channel, _subscriber], ids=["channel", "subscriber"])
def test_a_webhook_retried_after_the_page_recovered_tells_the_status_of_its_update(
    make, django_capture_on_commit_callbacks, catalogue, actor, sink, eager
):
    make(sink)
    sink.script(HOOK, Answer(500, "try again later"))
    with django_capture_on_commit_callbacks(execute=True):
        incident = incidents.incident_declare(
            name="Runs not starting in us-east-1",
            body="Runs are not starting.",
            actor=actor,
            impact="major",
            component_statuses={catalogue["runs_us"]: "major_outage"},
        )
    during = incident_selectors.page_status().indicator
    assert during in {"major", "critical"}
    first = Delivery.objects.get(update__incident=incident)
    assert first.status == DeliveryStatus.FAILED and first.response_code == 500
    (failed_attempt,) = sink.requests_to(HOOK)
    assert failed_attempt.json()["page"]["status_indicator"] == during

    # The incident is resolved (its own delivery is written, not sent: not committed here).
    incidents.incident_resolve(
        incident=incident, actor=actor, component_statuses={catalogue["runs_us"]: "operational"}
    )
    assert incident_selectors.page_status().indicator == "none"
    notice_cache_clear()  # no notice built during the outage may be reused
    # The retry comes due.
    Delivery.objects.filter(pk=first.pk).update(next_attempt_at=timezone.now())

    assert services.deliveries_send(delivery_ids=[first.pk]) == {"sent": 1}

    _, retry = sink.requests_to(HOOK)
    page = retry.json()["page"]
    assert page["status_indicator"] == during
    assert page["status_description"] != "All Systems Operational"
    assert retry.json()["incident"]["id"] == incident.public_id
