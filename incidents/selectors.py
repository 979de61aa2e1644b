"""Reads for the staff console: open incidents, maintenance, the component matrix, timelines.

Views stay thin and never build querysets themselves; every query the console runs is here,
with the related rows fetched up front so a page costs a handful of queries even during a
large incident (when the console is used the most).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Prefetch, QuerySet

from incidents.models import (
    OPEN_INCIDENT_STATUSES,
    Incident,
    IncidentKind,
    IncidentStatus,
    IncidentTemplate,
    IncidentUpdate,
)
from statuspage.models import AuditEntry, Component, ComponentStatusChange, Region, Service


@dataclass
class MatrixRow:
    """One service of the matrix: its component per region (None where it is not offered),
    or its single global component."""

    service: Service
    cells: list[Component | None] = field(default_factory=list)
    global_component: Component | None = None


@dataclass
class Matrix:
    regions: list[Region]
    rows: list[MatrixRow]
    has_global: bool

    @property
    def components(self) -> list[Component]:
        found: list[Component] = []
        for row in self.rows:
            found.extend(c for c in row.cells if c is not None)
            if row.global_component is not None:
                found.append(row.global_component)
        return found


def component_matrix() -> Matrix:
    """Services × regions with each cell's component (and the global services), in page order."""
    regions = list(Region.objects.all())
    components = list(Component.objects.select_related("service", "service__group", "region"))
    by_service: dict[int, MatrixRow] = {}
    for service in Service.objects.select_related("group").order_by(
        "group__position", "position", "name"
    ):
        by_service[service.pk] = MatrixRow(service=service, cells=[None] * len(regions))
    index = {region.pk: i for i, region in enumerate(regions)}
    for component in components:
        row = by_service.get(component.service_id)
        if row is None:
            continue
        if component.region_id is None:
            row.global_component = component
        else:
            row.cells[index[component.region_id]] = component
    rows = list(by_service.values())
    return Matrix(
        regions=regions,
        rows=rows,
        has_global=any(row.global_component is not None for row in rows),
    )


def components_for_console() -> QuerySet[Component]:
    return Component.objects.select_related("service", "region")


def _with_components(qs: QuerySet[Incident]) -> QuerySet[Incident]:
    return qs.prefetch_related(
        Prefetch("components", queryset=Component.objects.select_related("service", "region"))
    )


def incidents_open() -> QuerySet[Incident]:
    """Incidents not yet resolved, newest first."""
    return _with_components(
        Incident.objects.filter(kind=IncidentKind.INCIDENT, status__in=OPEN_INCIDENT_STATUSES)
    ).prefetch_related(
        Prefetch("updates", queryset=IncidentUpdate.objects.order_by("-display_at", "-id"))
    )


def maintenances_active() -> QuerySet[Incident]:
    return _with_components(
        Incident.objects.filter(
            kind=IncidentKind.MAINTENANCE,
            status__in=[IncidentStatus.IN_PROGRESS, IncidentStatus.VERIFYING],
        ).order_by("scheduled_until")
    )


def maintenances_upcoming() -> QuerySet[Incident]:
    return _with_components(
        Incident.objects.filter(
            kind=IncidentKind.MAINTENANCE, status=IncidentStatus.SCHEDULED
        ).order_by("scheduled_for")
    )


def incidents_recent() -> QuerySet[Incident]:
    """Every incident and maintenance, newest first (the console's history list)."""
    return _with_components(Incident.objects.all()).order_by("-created_at", "-id")


def incident_get(*, public_id: str) -> Incident:
    return _with_components(Incident.objects.all()).get(public_id=public_id)


def incident_timeline(*, incident: Incident) -> list[IncidentUpdate]:
    """The incident's updates, newest first, each with the component changes it made."""
    changes = ComponentStatusChange.objects.select_related(
        "component", "component__service", "component__region"
    ).order_by("created_at", "id")
    return list(
        incident.updates.order_by("-display_at", "-id").prefetch_related(
            Prefetch("status_changes", queryset=changes)
        )
    )


def templates_for_console(kind: str = IncidentKind.INCIDENT) -> QuerySet[IncidentTemplate]:
    return IncidentTemplate.objects.filter(kind=kind).order_by("name")


def template_get(*, template_id: str | int | None) -> IncidentTemplate | None:
    """The template asked for by `?template=`, or None when absent or unknown."""
    try:
        return IncidentTemplate.objects.get(pk=int(template_id))  # type: ignore[arg-type]
    except (TypeError, ValueError, IncidentTemplate.DoesNotExist):
        return None


def audit_entries() -> QuerySet[AuditEntry]:
    return AuditEntry.objects.select_related("user").order_by("-created_at", "-id")
