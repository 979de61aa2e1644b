"""Reads of the notifier: token lookups for the public pages, health and counts for staff."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from incidents.models import IncidentUpdate
from notifier.models import (
    ACTIVE_CHANNEL,
    ACTIVE_SUBSCRIBER,
    Channel,
    ChannelKind,
    Delivery,
    DeliveryStatus,
    Medium,
    Subscriber,
    SubscriberKind,
)
from notifier.tokens import read_token, request_stamp
from statuspage import languages

COUNTED_STATUSES = [
    DeliveryStatus.SENT,
    DeliveryStatus.PENDING,
    DeliveryStatus.CLAIMED,
    DeliveryStatus.FAILED,
    DeliveryStatus.DEAD,
    DeliveryStatus.SKIPPED,
]


def subscriber_from_token(purpose: str, token: str) -> Subscriber | None:
    """The subscriber a signed link names, or None (forged, expired, wrong purpose, gone, or
    a confirmation link of a request that is no longer the subscriber's latest)."""
    read = read_token(purpose, token)
    if read is None:
        return None
    public_id, stamp = read
    subscriber = Subscriber.objects.filter(public_id=public_id).first()
    if subscriber is None:
        return None
    if purpose == "confirm" and request_stamp(subscriber.requested_at) != stamp:
        return None
    return subscriber


def sms_language(phone: str) -> str:
    """The language of the latest SMS subscription of a number (English when it has none):
    what an answer texted to that number is written in."""
    language = (
        Subscriber.objects.filter(kind=SubscriberKind.SMS, phone=(phone or "").strip())
        .order_by("-requested_at")
        .values_list("language", flat=True)
        .first()
    )
    return language or languages.DEFAULT


def channels_with_health() -> QuerySet[Channel]:
    return Channel.objects.prefetch_related("regions", "services", "components").order_by(
        "broken_at", "name"
    )


def channels_broken() -> QuerySet[Channel]:
    return Channel.objects.filter(broken_at__isnull=False)


def subscribers_list(*, state: str = "", medium: str = "") -> QuerySet[Subscriber]:
    rows = Subscriber.objects.all()
    if medium:
        rows = rows.filter(kind=medium)
    if state == "confirmed":
        rows = rows.active()
    elif state == "unconfirmed":
        rows = rows.filter(confirmed_at__isnull=True)
    elif state == "unsubscribed":
        rows = rows.filter(unsubscribed_at__isnull=False)
    elif state == "broken":
        rows = rows.filter(broken_at__isnull=False)
    return rows.order_by("-requested_at", "-id")


def recipients_by_medium() -> list[dict]:
    """Per medium, in the order of `Medium`: its channels (active, all) and its subscribers
    by state — confirmed means active (`Subscriber.objects.active()`, the one rule), the
    other states as on the subscribers page. Two grouped queries."""
    subscriber_rows = {
        row["kind"]: row
        for row in Subscriber.objects.values("kind")
        .annotate(
            confirmed=Count("pk", filter=ACTIVE_SUBSCRIBER),
            unconfirmed=Count("pk", filter=Q(confirmed_at__isnull=True)),
            unsubscribed=Count("pk", filter=Q(unsubscribed_at__isnull=False)),
            broken=Count("pk", filter=Q(broken_at__isnull=False)),
            total=Count("pk"),
        )
        .order_by()
    }
    channel_rows = {
        row["kind"]: row
        for row in Channel.objects.values("kind")
        .annotate(active=Count("pk", filter=ACTIVE_CHANNEL), total=Count("pk"))
        .order_by()
    }
    empty = {"confirmed": 0, "unconfirmed": 0, "unsubscribed": 0, "broken": 0, "total": 0}
    return [
        {
            "medium": medium,
            "label": label,
            "has_channels": medium in ChannelKind.values,
            "channels": channel_rows.get(medium, {"active": 0, "total": 0}),
            "subscribers": subscriber_rows.get(medium, empty),
        }
        for medium, label in Medium.choices
    ]


def deliveries_by_medium(*, days: int = 7) -> list[dict]:
    """What was sent per medium over the last `days` days: deliveries by status (every
    medium and counted status, 0 when none), in one grouped query."""
    since = timezone.now() - timedelta(days=days)
    cells = {m: dict.fromkeys(COUNTED_STATUSES, 0) for m in Medium.values}
    rows = (
        Delivery.objects.filter(created_at__gte=since)
        .values("medium", "status")
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in rows:
        if row["medium"] in cells and row["status"] in cells[row["medium"]]:
            cells[row["medium"]][row["status"]] = row["n"]
    return [
        {"medium": medium, "label": label, **cells[medium], "total": sum(cells[medium].values())}
        for medium, label in Medium.choices
    ]


def subscriber_counts() -> dict[str, int]:
    return {
        "confirmed": Subscriber.objects.active().count(),
        "unconfirmed": Subscriber.objects.filter(confirmed_at__isnull=True).count(),
        "unsubscribed": Subscriber.objects.filter(unsubscribed_at__isnull=False).count(),
        "broken": Subscriber.objects.filter(broken_at__isnull=False).count(),
    }


@dataclass(frozen=True)
class DeliveryCounts:
    """The deliveries of one update by medium and status: every medium and every counted
    status, 0 when there is none. `counts[medium][status]`, or the sums below."""

    cells: dict[str, dict[str, int]]

    def __getitem__(self, medium: str) -> dict[str, int]:
        return self.cells[medium]

    def by_status(self, *, omit_zero: bool = False) -> dict[str, int]:
        sums = {s: sum(row[s] for row in self.cells.values()) for s in COUNTED_STATUSES}
        return {s: n for s, n in sums.items() if n} if omit_zero else sums

    def by_medium(self, *, omit_zero: bool = False) -> dict[str, int]:
        sums = {m: sum(row.values()) for m, row in self.cells.items()}
        return {m: n for m, n in sums.items() if n} if omit_zero else sums

    def total(self) -> int:
        return sum(self.by_medium().values())


def _no_deliveries() -> DeliveryCounts:
    return DeliveryCounts({m: dict.fromkeys(COUNTED_STATUSES, 0) for m in Medium.values})


def delivery_counts_by_update(*, updates: Iterable[IncidentUpdate]) -> dict[int, DeliveryCounts]:
    """{update id: its DeliveryCounts} for any number of updates, in one grouped query. The
    one place deliveries are counted: the console pages and the API read their counts here."""
    counts = {update.pk: _no_deliveries() for update in updates}
    if not counts:
        return counts
    rows = (
        Delivery.objects.filter(update_id__in=list(counts))
        .values("update_id", "medium", "status")
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in rows:
        counts[row["update_id"]][row["medium"]][row["status"]] = row["n"]
    return counts


def delivery_counts(*, update: IncidentUpdate) -> DeliveryCounts:
    """The deliveries of one update by medium and status."""
    return delivery_counts_by_update(updates=[update])[update.pk]


def delivery_errors(*, update: IncidentUpdate, limit: int = 200) -> QuerySet[Delivery]:
    """Deliveries of an update with an error or a skip reason, latest first (the console)."""
    return (
        Delivery.objects.filter(update=update)
        .exclude(last_error="")
        .select_related("subscriber", "channel")
        .order_by("-updated_at")[:limit]
    )


def delivery_failures(*, updates: Iterable[IncidentUpdate], limit: int = 200) -> QuerySet[Delivery]:
    """Failed (will retry) and dead deliveries of some updates, oldest first (the API)."""
    return (
        Delivery.objects.filter(
            update__in=list(updates), status__in=[DeliveryStatus.FAILED, DeliveryStatus.DEAD]
        )
        .select_related("subscriber", "channel", "update")
        .order_by("id")[:limit]
    )


def updates_with_delivery_counts(*, limit: int = 30) -> list[dict]:
    """The most recent updates that have deliveries, with totals per status."""
    updates = list(
        IncidentUpdate.objects.filter(deliveries__isnull=False)
        .select_related("incident")
        .distinct()
        .order_by("-created_at", "-id")[:limit]
    )
    counts = delivery_counts_by_update(updates=updates)
    labels = dict(Medium.choices)
    return [
        {
            "update": u,
            "counts": counts[u.pk].by_status(),
            "sent_by_medium": [
                (labels[m], counts[u.pk][m][DeliveryStatus.SENT])
                for m in Medium.values
                if counts[u.pk][m][DeliveryStatus.SENT]
            ],
        }
        for u in updates
    ]


def dead_retryable_count(*, update: IncidentUpdate) -> int:
    """Dead deliveries of an update that a retry would send again (recipient not broken):
    the rows `deliveries_retry_dead` takes."""
    return Delivery.objects.dead_retryable().filter(update=update).count()


def deliveries_for_console(*, incident, updates: Iterable[IncidentUpdate]) -> dict:
    """Under each update of an incident's console page, what it sent to whom (an
    `incidents.console` provider): per medium, how many were sent and how many are still
    pending or failing, and whether the line must refresh itself (something is pending)."""
    updates = list(updates)
    counts = delivery_counts_by_update(updates=updates)
    labels = dict(Medium.choices)
    summaries = {}
    for update in updates:
        cells = counts[update.pk]
        media = [
            {"label": labels[medium], "total": total, "sent": cells[medium][DeliveryStatus.SENT]}
            for medium, total in cells.by_medium(omit_zero=True).items()
        ]
        by_status = cells.by_status()
        pending = (
            by_status[DeliveryStatus.PENDING]
            + by_status[DeliveryStatus.CLAIMED]
            + by_status[DeliveryStatus.FAILED]
        )
        summaries[update.pk] = {
            "media": media,
            "total": cells.total(),
            "pending": pending,
            "failed": by_status[DeliveryStatus.FAILED],
            "dead": by_status[DeliveryStatus.DEAD],
        }
    return {"deliveries": summaries}
