"""Deliveries are counted in one place (notifier.selectors): the console's pages, the retry
button and the API read the same numbers, and "retryable" means the same rows for the count
shown and for the retry itself."""

from __future__ import annotations

import pytest
from django.utils import timezone
from notifier_helpers import slack_channel, webhook_channel

from incidents import services as incidents
from notifier import selectors, services
from notifier.models import Delivery, DeliveryStatus, Subscriber, SubscriberKind

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("loopback")]


@pytest.fixture
def two_updates(catalogue, actor, sink):
    """Two updates to a webhook channel, a Slack channel and an email subscriber. Of the
    first: the webhook got it, Slack and the email died; then Slack broke, which skipped its
    delivery of the second update; the rest of the second is pending."""
    webhook_channel(sink, actor)
    slack = slack_channel(sink, actor)
    Subscriber.objects.create(
        kind=SubscriberKind.EMAIL, email="ada@example.com", confirmed_at=timezone.now()
    )
    incident = incidents.incident_declare(name="Runs not starting", body="Looking.", actor=actor)
    first = incident.updates.get()
    second = incidents.incident_post_update(
        incident=incident, status="identified", body="Found it.", actor=actor
    )
    mine = Delivery.objects.filter(update=first)
    mine.filter(medium="webhook").update(status=DeliveryStatus.SENT)
    mine.exclude(medium="webhook").update(status=DeliveryStatus.DEAD)
    services.recipient_mark_broken(recipient=slack, error="channel_not_found")
    return first, second


def test_it_counts_the_deliveries_of_an_update_by_medium_and_status(two_updates):
    first, second = two_updates

    counts = selectors.delivery_counts(update=first)
    later = selectors.delivery_counts(update=second)

    assert counts["webhook"][DeliveryStatus.SENT] == 1
    assert counts["slack"][DeliveryStatus.DEAD] == counts["email"][DeliveryStatus.DEAD] == 1
    assert counts["discord"] == dict.fromkeys(selectors.COUNTED_STATUSES, 0)
    assert counts.by_status(omit_zero=True) == {"sent": 1, "dead": 2}
    assert counts.by_medium(omit_zero=True) == {"webhook": 1, "slack": 1, "email": 1}
    assert counts.total() == 3
    assert later.by_status(omit_zero=True) == {"pending": 2, "skipped": 1}
    assert later["slack"][DeliveryStatus.SKIPPED] == 1


def test_it_counts_many_updates_in_one_query(two_updates, django_assert_num_queries):
    first, second = two_updates

    with django_assert_num_queries(1):
        counts = selectors.delivery_counts_by_update(updates=[first, second])

    assert counts[first.pk] == selectors.delivery_counts(update=first)
    assert counts[second.pk] == selectors.delivery_counts(update=second)


def test_the_console_list_shows_the_same_totals(two_updates):
    first, second = two_updates

    rows = selectors.updates_with_delivery_counts()

    assert [row["update"] for row in rows] == [second, first]
    for row in rows:
        assert row["counts"] == selectors.delivery_counts(update=row["update"]).by_status()


def test_the_retryable_count_is_what_a_retry_sends_again(two_updates, actor):
    first, _ = two_updates
    shown = selectors.dead_retryable_count(update=first)
    assert shown == 1  # the email; Slack is broken and must be fixed first
    failures = selectors.delivery_failures(updates=two_updates)
    assert sorted(d.medium for d in failures) == ["email", "slack"]

    assert services.deliveries_retry_dead(actor=actor, update=first) == shown
    assert selectors.dead_retryable_count(update=first) == 0
    assert Delivery.objects.get(update=first, medium="email").status == DeliveryStatus.PENDING
