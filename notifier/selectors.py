"""Reads of the notifier: token lookups for the public pages, health and counts for staff."""

from __future__ import annotations

from collections import defaultdict

from django.db.models import Count, QuerySet

from incidents.models import IncidentUpdate
from notifier.models import Channel, Delivery, DeliveryStatus, Medium, Subscriber
from notifier.tokens import read_token

COUNTED_STATUSES = [
    DeliveryStatus.SENT,
    DeliveryStatus.PENDING,
    DeliveryStatus.CLAIMED,
    DeliveryStatus.FAILED,
    DeliveryStatus.DEAD,
    DeliveryStatus.SKIPPED,
]


def subscriber_from_token(purpose: str, token: str) -> Subscriber | None:
    """The subscriber a signed link names, or None (forged, expired, wrong purpose, gone)."""
    public_id = read_token(purpose, token)
    if public_id is None:
        return None
    return Subscriber.objects.filter(public_id=public_id).first()


def channels_with_health() -> QuerySet[Channel]:
    return Channel.objects.prefetch_related("regions", "services", "components").order_by(
        "broken_at", "name"
    )


def channels_broken() -> QuerySet[Channel]:
    return Channel.objects.filter(broken_at__isnull=False)


def subscribers_list(*, state: str = "") -> QuerySet[Subscriber]:
    rows = Subscriber.objects.all()
    if state == "confirmed":
        rows = rows.active()
    elif state == "unconfirmed":
        rows = rows.filter(confirmed_at__isnull=True)
    elif state == "unsubscribed":
        rows = rows.filter(unsubscribed_at__isnull=False)
    elif state == "broken":
        rows = rows.filter(broken_at__isnull=False)
    return rows.order_by("-requested_at", "-id")


def subscriber_counts() -> dict[str, int]:
    return {
        "confirmed": Subscriber.objects.active().count(),
        "unconfirmed": Subscriber.objects.filter(confirmed_at__isnull=True).count(),
        "unsubscribed": Subscriber.objects.filter(unsubscribed_at__isnull=False).count(),
        "broken": Subscriber.objects.filter(broken_at__isnull=False).count(),
    }


def delivery_counts(*, update: IncidentUpdate) -> dict[str, dict[str, int]]:
    """{medium: {status: count}} for one update, every medium and status present (0s)."""
    counts: dict[str, dict[str, int]] = {
        m: dict.fromkeys(COUNTED_STATUSES, 0) for m in Medium.values
    }
    rows = (
        Delivery.objects.filter(update=update)
        .values("medium", "status")
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in rows:
        counts[row["medium"]][row["status"]] = row["n"]
    return counts


def delivery_errors(*, update: IncidentUpdate, limit: int = 200) -> QuerySet[Delivery]:
    return (
        Delivery.objects.filter(update=update)
        .exclude(last_error="")
        .select_related("subscriber", "channel")
        .order_by("-updated_at")[:limit]
    )


def updates_with_delivery_counts(*, limit: int = 30) -> list[dict]:
    """The most recent updates that have deliveries, with totals per status."""
    updates = list(
        IncidentUpdate.objects.filter(deliveries__isnull=False)
        .select_related("incident")
        .distinct()
        .order_by("-created_at", "-id")[:limit]
    )
    totals: dict[int, dict[str, int]] = defaultdict(lambda: dict.fromkeys(COUNTED_STATUSES, 0))
    rows = (
        Delivery.objects.filter(update__in=updates)
        .values("update_id", "status")
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in rows:
        totals[row["update_id"]][row["status"]] = row["n"]
    return [{"update": u, "counts": totals[u.pk]} for u in updates]


def dead_retryable_count(*, update: IncidentUpdate) -> int:
    """Dead deliveries of an update that a retry would send again (recipient not broken)."""
    return (
        Delivery.objects.filter(update=update, status=DeliveryStatus.DEAD)
        .exclude(channel__broken_at__isnull=False)
        .exclude(subscriber__broken_at__isnull=False)
        .count()
    )
