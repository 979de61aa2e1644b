"""Deliveries: who was notified of each update of an incident, counts and failures."""

from __future__ import annotations

from incidents.documents import iso
from notifier.models import Delivery
from notifier.selectors import delivery_counts_by_update, delivery_failures
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
    counts = delivery_counts_by_update(updates=updates)
    failures: dict[int, list] = {}
    for d in delivery_failures(updates=updates):
        failures.setdefault(d.update_id, []).append(
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
    return {
        "incident_id": incident.public_id,
        "incident_updates": [
            {
                "incident_update_id": update.public_id,
                "status": update.status,
                "display_at": iso(update.display_at),
                "deliver_notifications": update.deliver_notifications,
                "total": counts[update.pk].total(),
                "by_status": counts[update.pk].by_status(omit_zero=True),
                "by_medium": counts[update.pk].by_medium(omit_zero=True),
                "failures": failures.get(update.pk, []),
            }
            for update in updates
        ],
    }


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
