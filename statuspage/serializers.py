"""The public status JSON shapes (interfaces.md §1), shared by /api/v2, the v1 API and webhooks.

Field names and values are exactly those existing status-page consumers read. Ids are the
short opaque `public_id`s; timestamps are ISO 8601 in UTC with milliseconds.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from django.conf import settings

from statuspage.models import Component, ComponentStatus, Service
from statuspage.selectors import OverallStatus

STATUS_ORDER = [
    ComponentStatus.OPERATIONAL,
    ComponentStatus.UNDER_MAINTENANCE,
    ComponentStatus.DEGRADED_PERFORMANCE,
    ComponentStatus.PARTIAL_OUTAGE,
    ComponentStatus.MAJOR_OUTAGE,
]


def iso(value: datetime | date | None) -> str | None:
    """`2026-06-22T20:09:00.000Z`; dates as `2026-06-22`; None stays None."""
    if value is None:
        return None
    if isinstance(value, datetime):
        from datetime import UTC

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


def worst_status(statuses: Iterable[str]) -> str:
    return max(statuses, key=STATUS_ORDER.index, default=ComponentStatus.OPERATIONAL)


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
        "status": worst_status(c.status for c in children),
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

    `components` must have service and region selected (see selectors.components_for_page).
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
