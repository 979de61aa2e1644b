"""Reads of incidents: the open, active, upcoming and recent lists (one definition each, for
the page, /api/v2, v1, MCP and the console), the page's overall status and last change, and
the console's timelines.

Views stay thin and never build querysets themselves; every query the console runs is here,
with the related rows fetched up front so a page costs a handful of queries even during a
large incident (when the console is used the most).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db.models import Count, Max, Prefetch, QuerySet

from incidents.models import (
    ACTIVE_MAINTENANCE_STATUSES,
    CLOSED_STATUSES,
    OPEN_INCIDENT_STATUSES,
    Incident,
    IncidentKind,
    IncidentStatus,
    IncidentTemplate,
    IncidentUpdate,
)
from statuspage.models import AuditEntry, Component, ComponentStatusChange, Service
from statuspage.status import OverallStatus, overall_status

# --- The lists of incidents: one definition each, used by the page, /api/v2, the v1 API, the
# MCP server, the console and the overall status. Callers add the prefetches they need.


def incidents_open() -> QuerySet[Incident]:
    """Incidents not yet resolved (investigating, identified, monitoring), newest first."""
    return Incident.objects.filter(
        kind=IncidentKind.INCIDENT, status__in=OPEN_INCIDENT_STATUSES
    ).order_by("-created_at", "-id")


def maintenances_active() -> QuerySet[Incident]:
    """Maintenance in progress or being verified, by start of window."""
    return Incident.objects.filter(
        kind=IncidentKind.MAINTENANCE, status__in=ACTIVE_MAINTENANCE_STATUSES
    ).order_by("scheduled_for", "id")


def maintenances_upcoming() -> QuerySet[Incident]:
    """Maintenance scheduled and not started yet, by start of window. A window whose start
    has passed stays here until the maintenance is started (by beat or by hand): it is still
    to come, only late."""
    return Incident.objects.filter(
        kind=IncidentKind.MAINTENANCE, status=IncidentStatus.SCHEDULED
    ).order_by("scheduled_for", "id")


def maintenances_closed_since(since: datetime) -> QuerySet[Incident]:
    """Maintenance completed or cancelled since `since`, by start of window: with the
    upcoming and active ones, what the maintenance calendars list (a cancelled one must stay
    there a while, or calendars that saw it would never learn it is off)."""
    return Incident.objects.filter(
        kind=IncidentKind.MAINTENANCE, status__in=CLOSED_STATUSES, resolved_at__gte=since
    ).order_by("scheduled_for", "id")


def incidents_recent(*, limit: int | None = None, kind: str | None = None) -> QuerySet[Incident]:
    """Incidents and maintenance (or one kind), resolved included, newest first."""
    queryset = Incident.objects.order_by("-created_at", "-id")
    if kind is not None:
        queryset = queryset.filter(kind=kind)
    return queryset[:limit] if limit is not None else queryset


def with_components(queryset: QuerySet[Incident]) -> QuerySet[Incident]:
    """The console's lists: each incident with its affected components."""
    return queryset.prefetch_related(
        Prefetch("components", queryset=Component.objects.select_related("service", "region"))
    )


def with_latest_updates(queryset: QuerySet[Incident]) -> QuerySet[Incident]:
    """The console's dashboard: each incident with its components and updates, newest first."""
    return with_components(queryset).prefetch_related(
        Prefetch("updates", queryset=IncidentUpdate.objects.order_by("-display_at", "-id"))
    )


# --- The page as a whole ------------------------------------------------------------------


def page_status(
    *,
    component_statuses: Iterable[str] | None = None,
    open_incident_impacts: Iterable[str] | None = None,
    maintenance_in_progress: bool | None = None,
) -> OverallStatus:
    """The page's overall status now (the rule of `statuspage.status`). Pass what the caller
    already loaded; the rest is read here."""
    if component_statuses is None:
        component_statuses = Component.objects.values_list("status", flat=True)
    if open_incident_impacts is None:
        open_incident_impacts = incidents_open().values_list("impact", flat=True)
    if maintenance_in_progress is None:
        maintenance_in_progress = maintenances_active().exists()
    return overall_status(
        component_statuses=list(component_statuses),
        open_incident_impacts=list(open_incident_impacts),
        maintenance_in_progress=maintenance_in_progress,
    )


def page_updated_at(components: Iterable[Component] | None = None) -> datetime | None:
    """When anything the public sees last changed: components, services, incidents, updates."""
    if components is None:
        candidates = [Component.objects.aggregate(m=Max("updated_at"))["m"]]
    else:
        candidates = [c.updated_at for c in components]
    candidates.append(Service.objects.aggregate(m=Max("updated_at"))["m"])
    candidates.append(Incident.objects.aggregate(m=Max("updated_at"))["m"])
    candidates.append(IncidentUpdate.objects.aggregate(m=Max("updated_at"))["m"])
    candidates = [c for c in candidates if c is not None]
    return max(candidates) if candidates else None


def incident_versions() -> dict[str, str]:
    """A version string per incident (by public id) that changes whenever its page would:
    the incident row, any of its updates (an edited typo) or its postmortem changes."""
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


def update_text(update: IncidentUpdate, language: str | None) -> tuple[str, str]:
    """An update's (body, body_html) for readers of `language`: staff's translation into it
    when there is one, else the text as it was written. Incident texts are never machine
    translated. Reads `update.translations`; prefetch it for lists (`incidents_for_json`)."""
    if language:
        for translation in update.translations.all():
            if translation.language == language:
                return translation.body, translation.body_html
    return update.body, update.body_html


def incident_get(*, public_id: str) -> Incident:
    return with_components(Incident.objects.all()).get(public_id=public_id)


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
