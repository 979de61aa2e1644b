"""The public status JSON shapes (interfaces.md §1): the one owner of them.

/api/v2 (the snapshot), the v1 API, the MCP server and the webhook payloads (interfaces.md §3)
all build page, status, component, component group, incident, incident update and scheduled
maintenance objects here. Field names and values are exactly those existing status-page
consumers read. Ids are the short opaque `public_id`s; timestamps are ISO 8601 in UTC with
milliseconds.

It lives in the incidents app, not in the public page's, because the notifier (a layer below
the public page) builds webhook payloads from it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime

from django.conf import settings
from django.db.models import Prefetch, QuerySet

from incidents.models import Incident, IncidentKind, IncidentUpdate
from statuspage.models import Component, ComponentStatus, ComponentStatusChange, Service
from statuspage.status import OverallStatus, worst_status


def iso(value: datetime | date | None) -> str | None:
    """`2026-06-22T20:09:00.000Z`; dates as `2026-06-22`; None stays None."""
    if value is None:
        return None
    if isinstance(value, datetime):
        value = value.astimezone(UTC)
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    return value.isoformat()


def page_dict(*, updated_at: datetime | None) -> dict:
    return {
        "id": settings.PAGE_ID,
        "name": settings.SITE_NAME,
        "url": settings.SITE_URL,
        "time_zone": settings.PAGE_TIME_ZONE,
        "updated_at": iso(updated_at),
    }


def status_dict(overall: OverallStatus) -> dict:
    return {"indicator": overall.indicator, "description": overall.description}


def component_dict(component: Component) -> dict:
    """A component. A regional one belongs to its service's group (group_id)."""
    return {
        "id": component.public_id,
        "name": component.name,
        "status": component.status,
        "created_at": iso(component.created_at),
        "updated_at": iso(component.updated_at),
        "position": component.position,
        "description": component.description or component.service.description or None,
        "showcase": component.showcase,
        "start_date": iso(component.start_date),
        "group_id": component.service.public_id if component.region_id else None,
        "page_id": settings.PAGE_ID,
        "group": False,
        "only_show_if_degraded": component.only_show_if_degraded,
    }


def group_dict(service: Service, children: list[Component]) -> dict:
    """A service offered in regions is a component group; its status is its worst child's."""
    return {
        "id": service.public_id,
        "name": service.name,
        "status": worst_status(c.status for c in children) or ComponentStatus.OPERATIONAL,
        "created_at": iso(service.created_at),
        "updated_at": iso(max([service.updated_at, *(c.updated_at for c in children)])),
        "position": service.position,
        "description": service.description or None,
        "showcase": False,
        "start_date": None,
        "group_id": None,
        "page_id": settings.PAGE_ID,
        "group": True,
        "only_show_if_degraded": False,
        "components": [c.public_id for c in children],
    }


def components_list(components: Iterable[Component]) -> list[dict]:
    """Groups and components in page order, as components.json lists them.

    `components` must have service and region selected (see statuspage.selectors.components_for_page).
    """
    by_service: dict[int, list[Component]] = {}
    services: dict[int, Service] = {}
    for component in components:
        by_service.setdefault(component.service_id, []).append(component)
        services[component.service_id] = component.service
    result: list[dict] = []
    for service_id, children in by_service.items():
        regional = [c for c in children if c.region_id is not None]
        if regional:
            result.append(group_dict(services[service_id], regional))
        result.extend(component_dict(c) for c in children)
    return result


def incidents_for_json(queryset: QuerySet[Incident]) -> QuerySet[Incident]:
    """Prefetch what `incident_dict` reads, so a list costs a fixed number of queries."""
    changes = ComponentStatusChange.objects.select_related(
        "component__service", "component__region"
    ).order_by("created_at", "id")
    updates = IncidentUpdate.objects.order_by("-display_at", "-id").prefetch_related(
        Prefetch("status_changes", queryset=changes), "translations"
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
