"""Incident, incident update and scheduled maintenance in the public status JSON shape."""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.db.models import Prefetch, QuerySet

from incidents.models import Incident, IncidentKind, IncidentUpdate
from statuspage.models import ComponentStatusChange
from statuspage.serializers import component_dict, iso


def incidents_for_json(queryset: QuerySet[Incident]) -> QuerySet[Incident]:
    """Prefetch what `incident_dict` reads, so a list costs a fixed number of queries."""
    changes = ComponentStatusChange.objects.select_related(
        "component__service", "component__region"
    ).order_by("created_at", "id")
    updates = IncidentUpdate.objects.order_by("-display_at", "-id").prefetch_related(
        Prefetch("status_changes", queryset=changes)
    )
    return queryset.prefetch_related(
        Prefetch("updates", queryset=updates),
        "components__service",
        "components__region",
    )


def incident_update_dict(update: IncidentUpdate, incident: Incident) -> dict:
    changes = list(update.status_changes.all())
    return {
        "id": update.public_id,
        "status": update.status,
        "body": update.body,
        "incident_id": incident.public_id,
        "created_at": iso(update.created_at),
        "updated_at": iso(update.updated_at),
        "display_at": iso(update.display_at),
        "affected_components": [
            {
                "code": c.component.public_id,
                "name": c.component.name,
                "old_status": c.old_status,
                "new_status": c.new_status,
            }
            for c in changes
        ]
        or None,
        "deliver_notifications": update.deliver_notifications,
        "custom_tweet": None,
        "tweet_id": None,
    }


def incident_dict(incident: Incident) -> dict:
    data = {
        "id": incident.public_id,
        "name": incident.name,
        "status": incident.status,
        "impact": incident.impact,
        "shortlink": f"{settings.SITE_URL}/incidents/{incident.public_id}",
        "created_at": iso(incident.created_at),
        "updated_at": iso(incident.updated_at),
        "monitoring_at": iso(incident.monitoring_at),
        "resolved_at": iso(incident.resolved_at),
        "started_at": iso(incident.started_at or incident.created_at),
        "page_id": settings.PAGE_ID,
        "incident_updates": [incident_update_dict(u, incident) for u in incident.updates.all()],
        "components": [component_dict(c) for c in incident.components.all()],
    }
    if incident.kind == IncidentKind.MAINTENANCE:
        data["scheduled_for"] = iso(incident.scheduled_for)
        data["scheduled_until"] = iso(incident.scheduled_until)
    return data


def incidents_list(incidents: Iterable[Incident]) -> list[dict]:
    return [incident_dict(i) for i in incidents]
