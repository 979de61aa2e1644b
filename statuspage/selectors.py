"""Reads of the catalogue, and the one rule for the page's overall status.

## The overall status rule

The indicator is the most severe of:
- the worst component status: `major_outage` → critical, `partial_outage` → major,
  `degraded_performance` → minor, `under_maintenance` → maintenance, otherwise none;
- the impact of every open incident (investigating, identified, monitoring):
  critical, major, minor (none adds nothing);
- `maintenance` while a maintenance is in progress or verifying.

Severity order: none < maintenance < minor < major < critical. So an outage during a
maintenance window shows as the outage, and an open incident whose components are all
operational again (monitoring) still shows its impact until it is resolved.

Descriptions: none "All Systems Operational", maintenance "Service Under Maintenance",
minor "Minor Service Outage" ("Partially Degraded Service" when only degraded performance is
the cause), major "Partial System Outage", critical "Major System Outage".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from statuspage.models import Component, ComponentStatus

if TYPE_CHECKING:
    from datetime import datetime

    from django.db.models import QuerySet

    from incidents.models import Incident
    from statuspage.models import Region

SEVERITY = ["none", "maintenance", "minor", "major", "critical"]

COMPONENT_INDICATOR = {
    ComponentStatus.OPERATIONAL: "none",
    ComponentStatus.UNDER_MAINTENANCE: "maintenance",
    ComponentStatus.DEGRADED_PERFORMANCE: "minor",
    ComponentStatus.PARTIAL_OUTAGE: "major",
    ComponentStatus.MAJOR_OUTAGE: "critical",
}

DESCRIPTIONS = {
    "none": "All Systems Operational",
    "maintenance": "Service Under Maintenance",
    "minor": "Minor Service Outage",
    "major": "Partial System Outage",
    "critical": "Major System Outage",
}
DEGRADED_DESCRIPTION = "Partially Degraded Service"


@dataclass(frozen=True)
class OverallStatus:
    indicator: str
    description: str


def _worst(indicators: Iterable[str]) -> str:
    return max(indicators, key=SEVERITY.index, default="none")


def overall_status(
    *,
    component_statuses: Iterable[str],
    open_incident_impacts: Iterable[str],
    maintenance_in_progress: bool,
) -> OverallStatus:
    """Apply the overall status rule (see the module docstring) to plain values."""
    from_components = _worst(COMPONENT_INDICATOR[s] for s in component_statuses)
    from_incidents = _worst(i for i in open_incident_impacts if i in SEVERITY)
    candidates = [from_components, from_incidents]
    if maintenance_in_progress:
        candidates.append("maintenance")
    indicator = _worst(candidates)
    description = DESCRIPTIONS[indicator]
    if indicator == "minor" and from_components == "minor" and from_incidents != "minor":
        description = DEGRADED_DESCRIPTION
    return OverallStatus(indicator=indicator, description=description)


def page_overall_status() -> OverallStatus:
    """The overall status of the page, from the database."""
    from incidents.models import OPEN_INCIDENT_STATUSES, Incident, IncidentKind, IncidentStatus

    open_impacts = Incident.objects.filter(
        kind=IncidentKind.INCIDENT, status__in=OPEN_INCIDENT_STATUSES
    ).values_list("impact", flat=True)
    maintenance = Incident.objects.filter(
        kind=IncidentKind.MAINTENANCE,
        status__in=[IncidentStatus.IN_PROGRESS, IncidentStatus.VERIFYING],
    ).exists()
    return overall_status(
        component_statuses=Component.objects.values_list("status", flat=True),
        open_incident_impacts=list(open_impacts),
        maintenance_in_progress=maintenance,
    )


def components_for_page():
    """Every component with its service and region, in page order."""
    return Component.objects.select_related("service", "service__group", "region")


# --- Reads of the public page (used by statuspage.public.snapshot) ------------------------------------


def regions_for_page() -> QuerySet[Region]:
    """Every region in page order."""
    from statuspage.models import Region

    return Region.objects.all()


def incidents_open() -> QuerySet[Incident]:
    """Open incidents (investigating, identified, monitoring), newest first."""
    from incidents.models import OPEN_INCIDENT_STATUSES, Incident, IncidentKind

    return Incident.objects.filter(
        kind=IncidentKind.INCIDENT, status__in=OPEN_INCIDENT_STATUSES
    ).order_by("-created_at", "-id")


def maintenances_active() -> QuerySet[Incident]:
    """Maintenance in progress or being verified, soonest first."""
    from incidents.models import Incident, IncidentKind, IncidentStatus

    return Incident.objects.filter(
        kind=IncidentKind.MAINTENANCE,
        status__in=[IncidentStatus.IN_PROGRESS, IncidentStatus.VERIFYING],
    ).order_by("scheduled_for", "id")


def maintenances_upcoming() -> QuerySet[Incident]:
    """Maintenance scheduled and not started yet, soonest first."""
    from incidents.models import Incident, IncidentKind, IncidentStatus

    return Incident.objects.filter(
        kind=IncidentKind.MAINTENANCE, status=IncidentStatus.SCHEDULED
    ).order_by("scheduled_for", "id")


def incidents_recent(*, limit: int = 50, kind: str | None = None) -> QuerySet[Incident]:
    """The most recent incidents (resolved included), optionally of one kind, newest first."""
    from incidents.models import Incident

    queryset = Incident.objects.order_by("-created_at", "-id")
    if kind is not None:
        queryset = queryset.filter(kind=kind)
    return queryset[:limit]


def incident_versions() -> dict[str, str]:
    """A version string per incident (by public id) that changes whenever its page would:
    the incident row, any of its updates (an edited typo) or its postmortem changes."""
    from django.db.models import Count, Max

    from incidents.models import Incident

    rows = Incident.objects.annotate(
        last_update=Max("updates__updated_at"),
        update_count=Count("updates"),
        postmortem_at=Max("postmortem__updated_at"),
    ).values_list("public_id", "updated_at", "last_update", "update_count", "postmortem_at")
    return {
        public_id: f"{updated_at.isoformat()}|{last_update and last_update.isoformat()}|"
        f"{update_count}|{postmortem_at and postmortem_at.isoformat()}"
        for public_id, updated_at, last_update, update_count, postmortem_at in rows
    }


def page_updated_at(components: Iterable[Component] = ()) -> datetime | None:
    """When anything the public sees last changed: components, services, incidents, updates."""
    from django.db.models import Max

    from incidents.models import Incident, IncidentUpdate
    from statuspage.models import Service

    candidates = [c.updated_at for c in components]
    candidates.append(Service.objects.aggregate(m=Max("updated_at"))["m"])
    candidates.append(Incident.objects.aggregate(m=Max("updated_at"))["m"])
    candidates.append(IncidentUpdate.objects.aggregate(m=Max("updated_at"))["m"])
    candidates = [c for c in candidates if c is not None]
    return max(candidates) if candidates else None
