"""One rule for "active": the SQL one (`objects.active()`, which picks who an event's
deliveries are written for) and the Python one (`inactive_reason` / `is_active`, checked
again when a delivery is sent) agree on every combination of the states, and the console's
count and list use the same rule."""

from __future__ import annotations

import itertools

import pytest
from django.utils import timezone

from notifier import selectors
from notifier.models import Channel, ChannelKind, Subscriber, SubscriberKind

pytestmark = pytest.mark.django_db


def test_active_subscribers_are_the_same_in_sql_and_in_python():
    now = timezone.now()
    for n, (confirmed, unsubscribed, broken) in enumerate(
        itertools.product([False, True], repeat=3)
    ):
        Subscriber.objects.create(
            kind=SubscriberKind.EMAIL,
            email=f"s{n}@example.com",
            confirmed_at=now if confirmed else None,
            unsubscribed_at=now if unsubscribed else None,
            broken_at=now if broken else None,
            last_error="550 no such user" if broken else "",
        )
    everyone = list(Subscriber.objects.all())
    assert len(everyone) == 8

    in_python = {s.pk for s in everyone if s.is_active}
    in_sql = set(Subscriber.objects.active().values_list("pk", flat=True))

    assert in_sql == in_python
    (active,) = in_sql  # confirmed, not unsubscribed, not broken: one of the eight
    assert Subscriber.objects.get(pk=active).confirmed_at is not None
    for subscriber in everyone:
        assert bool(subscriber.inactive_reason) == (subscriber.pk not in in_sql)


def test_active_channels_are_the_same_in_sql_and_in_python():
    now = timezone.now()
    for n, (enabled, broken) in enumerate(itertools.product([False, True], repeat=2)):
        Channel.objects.create(
            kind=ChannelKind.WEBHOOK,
            name=f"c{n}",
            url=f"https://example.com/{n}",
            enabled=enabled,
            broken_at=now if broken else None,
        )
    everyone = list(Channel.objects.all())

    in_python = {c.pk for c in everyone if c.is_active}
    in_sql = set(Channel.objects.active().values_list("pk", flat=True))

    assert in_sql == in_python
    assert len(in_sql) == 1
    for channel in everyone:
        assert bool(channel.inactive_reason) == (channel.pk not in in_sql)


def test_the_console_counts_and_lists_the_same_active_subscribers():
    now = timezone.now()
    Subscriber.objects.create(kind=SubscriberKind.EMAIL, email="ok@example.com", confirmed_at=now)
    Subscriber.objects.create(
        kind=SubscriberKind.EMAIL, email="broken@example.com", confirmed_at=now, broken_at=now
    )

    listed = {s.email for s in selectors.subscribers_list(state="confirmed")}

    assert selectors.subscriber_counts()["confirmed"] == len(listed) == 1
    assert listed == {"ok@example.com"}
