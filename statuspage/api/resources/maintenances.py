"""Scheduled maintenances: incidents of kind maintenance, answered by the handlers of
incidents.py restricted to that kind (a maintenance is moved on by PATCHing its status)."""

from __future__ import annotations

from incidents.models import MAINTENANCE_STATUSES, IncidentKind
from incidents.selectors import incidents_recent
from statuspage.api.framework import Call, Page, get, invalid, patch, post, route
from statuspage.api.lookups import find_incident
from statuspage.api.models import ApiScope
from statuspage.api.resources.incidents import (
    INCIDENT_FIELDS,
    incident_create,
    incident_json,
    incident_patch,
    incidents_page,
)
from statuspage.api.schema import PAGED


def maintenances_list(call: Call) -> Page:
    qs = incidents_recent(kind=IncidentKind.MAINTENANCE)
    status = call.query.get("status")
    if status:
        if status not in MAINTENANCE_STATUSES:
            raise invalid("status", f"use one of {', '.join(MAINTENANCE_STATUSES)}.")
        qs = qs.filter(status=status)
    return incidents_page(call, qs)


def maintenance_post(call: Call) -> dict:
    return incident_create(call, maintenance=True)


def maintenance_get(call: Call, maintenance_id: str) -> dict:
    return incident_json(find_incident(maintenance_id, kind=IncidentKind.MAINTENANCE))


def maintenance_patch(call: Call, maintenance_id: str) -> dict:
    return incident_patch(call, maintenance_id, kind=IncidentKind.MAINTENANCE)


ROUTES = [
    route(
        "scheduled-maintenances",
        "maintenances",
        get(
            maintenances_list,
            "List scheduled maintenances",
            paginated=True,
            query={**PAGED, "status": "scheduled, in_progress, verifying or completed"},
            response="incident",
            many=True,
        ),
        post(
            maintenance_post,
            ApiScope.INCIDENTS,
            "Schedule a maintenance",
            envelope="scheduled_maintenance",
            fields=INCIDENT_FIELDS,
            required=["name", "scheduled_for", "scheduled_until"],
            status=201,
            response="incident",
        ),
        tag="Scheduled maintenance",
    ),
    route(
        "scheduled-maintenances/{maintenance_id}",
        "maintenance",
        get(maintenance_get, "A scheduled maintenance", response="incident"),
        patch(
            maintenance_patch,
            ApiScope.INCIDENTS,
            "Move a maintenance on (in_progress, verifying, completed) or edit it",
            envelope="scheduled_maintenance",
            fields=INCIDENT_FIELDS,
            response="incident",
        ),
        tag="Scheduled maintenance",
    ),
]
