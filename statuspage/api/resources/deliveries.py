"""Deliveries: who was notified of each update of an incident, counts and failures."""

from __future__ import annotations

from django.db.models import Count

from incidents.documents import iso
from notifier.models import Delivery, DeliveryStatus
from statuspage.api.framework import Call, get, route
from statuspage.api.lookups import find_incident


def _recipient(delivery: Delivery) -> dict:
    if delivery.subscriber_id:
        sub = delivery.subscriber
        return {"type": "subscriber", "id": sub.public_id, "name": sub.url or sub.email}
    return {"type": "channel", "id": str(delivery.channel_id), "name": delivery.channel.name}


def incident_deliveries(call: Call, incident_id: str) -> dict:
    """Per update of the incident: delivery counts by status and medium, and the failures."""
    incident = find_incident(incident_id)
    updates = list(incident.updates.order_by("display_at", "id"))
    counts: dict[int, dict] = {u.pk: {} for u in updates}
    rows = (
        Delivery.objects.filter(update__in=updates)
        .values("update_id", "status", "medium")
        .annotate(n=Count("id"))
    )
    for row in rows:
        by = counts[row["update_id"]]
        by.setdefault("by_status", {}).setdefault(row["status"], 0)
        by["by_status"][row["status"]] += row["n"]
        by.setdefault("by_medium", {}).setdefault(row["medium"], 0)
        by["by_medium"][row["medium"]] += row["n"]
    failures = (
        Delivery.objects.filter(
            update__in=updates, status__in=[DeliveryStatus.FAILED, DeliveryStatus.DEAD]
        )
        .select_related("subscriber", "channel", "update")
        .order_by("id")[:200]
    )
    by_update: dict[int, list] = {}
    for d in failures:
        by_update.setdefault(d.update_id, []).append(
            {
                "recipient": _recipient(d),
                "medium": d.medium,
                "status": d.status,
                "attempts": d.attempts,
                "response_code": d.response_code,
                "last_error": d.last_error,
                "next_attempt_at": iso(d.next_attempt_at) if d.status == "failed" else None,
            }
        )
    result = []
    for update in updates:
        by_status = counts[update.pk].get("by_status", {})
        result.append(
            {
                "incident_update_id": update.public_id,
                "status": update.status,
                "display_at": iso(update.display_at),
                "deliver_notifications": update.deliver_notifications,
                "total": sum(by_status.values()),
                "by_status": by_status,
                "by_medium": counts[update.pk].get("by_medium", {}),
                "failures": by_update.get(update.pk, []),
            }
        )
    return {"incident_id": incident.public_id, "incident_updates": result}


ROUTES = [
    route(
        "incidents/{incident_id}/deliveries",
        "incident_deliveries",
        get(
            incident_deliveries,
            "Deliveries of each update of an incident: counts and failures",
            response="object",
        ),
        tag="Deliveries",
    ),
]
