"""Handlers of the v1 API and the route table.

Each handler takes a `Call` (token, body fields, query) and path parameters, calls the same
service functions as the console, and returns plain data in the public JSON shapes of
statuspage/serializers.py and incidents/serializers.py. HTTP details live in framework.py.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from incidents.documents import (
    component_dict,
    components_list,
    group_dict,
    incident_dict,
    incident_update_dict,
    incidents_for_json,
    iso,
    page_dict,
)
from incidents.models import (
    MAINTENANCE_STATUSES,
    Impact,
    Incident,
    IncidentKind,
    IncidentStatus,
    IncidentUpdate,
    Postmortem,
)
from incidents.selectors import (
    incidents_open,
    maintenances_active,
    maintenances_upcoming,
    page_status,
    page_updated_at,
)
from incidents.services import (
    MAX_BODY,
    MAX_NAME,
    incident_change,
    incident_declare,
    incident_delete,
    incident_update_edit,
    incidents_post_update_bulk,
    maintenance_create,
    postmortem_publish,
)
from statuspage.api.framework import (
    Call,
    Operation,
    Page,
    Route,
    invalid,
    not_found,
    paginate,
)
from statuspage.api.models import ApiScope
from statuspage.models import Component, ComponentStatus, ComponentStatusChange, Region, Service
from statuspage.selectors import components_for_page
from statuspage.services import (
    component_add,
    component_change,
    component_delete,
    components_set_status_bulk,
    region_create,
    service_change,
    service_create,
    service_delete,
    service_update,
)

STATUS_IMPACT = {
    ComponentStatus.MAJOR_OUTAGE: Impact.CRITICAL,
    ComponentStatus.PARTIAL_OUTAGE: Impact.MAJOR,
    ComponentStatus.DEGRADED_PERFORMANCE: Impact.MINOR,
}
IMPACT_ORDER = [Impact.NONE, Impact.MINOR, Impact.MAJOR, Impact.CRITICAL]

# --- Lookups ------------------------------------------------------------------------------


def _incident(incident_id: str, *, kind: str | None = None) -> Incident:
    qs = Incident.objects.all()
    if kind:
        qs = qs.filter(kind=kind)
    incident = qs.filter(public_id=incident_id).first()
    if incident is None:
        raise not_found("scheduled maintenance" if kind else "incident", incident_id)
    return incident


def incident_json(incident: Incident) -> dict:
    return incident_dict(incidents_for_json(Incident.objects.filter(pk=incident.pk)).get())


def _component(component_id: str) -> Component:
    component = (
        Component.objects.select_related("service", "region").filter(public_id=component_id).first()
    )
    if component is None:
        raise not_found("component", component_id)
    return component


def _group(group_id: str) -> Service:
    service = Service.objects.filter(public_id=group_id, components__region__isnull=False).first()
    if service is None:
        raise not_found("component group", group_id)
    return service


def _service(service_id: str) -> Service:
    service = Service.objects.filter(Q(public_id=service_id) | Q(slug=service_id)).first()
    if service is None:
        raise not_found("service", service_id)
    return service


def _region(slug: str, field_name: str = "region") -> Region:
    region = Region.objects.filter(slug=slug).first()
    if region is None:
        raise invalid(field_name, f"unknown region '{slug}'.")
    return region


def _components_by_ids(ids: list[str], field_name: str) -> list[Component]:
    found = {
        c.public_id: c
        for c in Component.objects.select_related("service", "region").filter(public_id__in=ids)
    }
    unknown = [i for i in ids if i not in found]
    if unknown:
        raise invalid(field_name, f"unknown component {', '.join(unknown)}.")
    return [found[i] for i in dict.fromkeys(ids)]


def _component_statuses(call: Call) -> dict[Component, str] | None:
    mapping = call.mapping("components")
    if mapping is None:
        return None
    components = _components_by_ids(list(mapping), "components")
    result = {}
    for component in components:
        status = mapping[component.public_id]
        if status not in ComponentStatus.values:
            raise invalid(
                "components",
                f"'{status}' for {component.public_id} is not a component status; use one of "
                + ", ".join(ComponentStatus.values)
                + ".",
            )
        result[component] = status
    return result


def _group_children(service: Service) -> list[Component]:
    return list(service.components.filter(region__isnull=False).select_related("service", "region"))


# --- Incidents ----------------------------------------------------------------------------


def _incidents_page(call: Call, qs: Any, **kw: Any) -> Page:
    return paginate(incidents_for_json(qs), call, incident_dict, **kw)


def incidents_list(call: Call) -> Page:
    qs = Incident.objects.all()
    q = (call.query.get("q") or "").strip()
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(updates__body__icontains=q)).distinct()
    return _incidents_page(call, qs, limit_name="limit")


def incidents_unresolved(call: Call) -> Page:
    return _incidents_page(call, incidents_open())


def incidents_upcoming(call: Call) -> Page:
    return _incidents_page(call, maintenances_upcoming())


def incidents_scheduled(call: Call) -> Page:
    """v1 names the same list twice: `upcoming` and `scheduled` are both
    `maintenances_upcoming()` (a window already begun but not started is still to come)."""
    return _incidents_page(call, maintenances_upcoming())


def incidents_active_maintenance(call: Call) -> Page:
    return _incidents_page(call, maintenances_active())


def incident_get(call: Call, incident_id: str) -> dict:
    return incident_json(_incident(incident_id))


def _derived_impact(statuses: dict[Component, str] | None) -> str:
    impacts = [STATUS_IMPACT.get(s, Impact.MINOR) for s in (statuses or {}).values()]
    return max(impacts, key=IMPACT_ORDER.index, default=Impact.MINOR)


def incident_create(call: Call, *, maintenance: bool = False) -> dict:
    """Declare an incident, or schedule a maintenance when a window is given."""
    name = call.str("name", required=True, max_length=MAX_NAME)
    body = call.str("body", max_length=MAX_BODY) or ""
    status = call.str("status")
    impact = call.choice("impact_override", Impact.values) or call.choice("impact", Impact.values)
    statuses = _component_statuses(call)
    affected = _components_by_ids(call.list("component_ids") or [], "component_ids")
    deliver = call.bool("deliver_notifications")
    deliver = True if deliver is None else deliver
    scheduled_for = call.datetime("scheduled_for")
    scheduled_until = call.datetime("scheduled_until")
    if maintenance or scheduled_for or scheduled_until or status in MAINTENANCE_STATUSES:
        if scheduled_for is None:
            raise invalid("scheduled_for", "is required for a scheduled maintenance.")
        if scheduled_until is None:
            raise invalid("scheduled_until", "is required for a scheduled maintenance.")
        if status is not None and status not in MAINTENANCE_STATUSES:
            raise invalid(
                "status", f"'{status}' is not a maintenance status; use scheduled or in_progress."
            )
        auto_start = call.bool("scheduled_auto_in_progress")
        auto_end = call.bool("scheduled_auto_completed")
        incident = maintenance_create(
            name=name,
            body=body,
            actor=call.actor,
            scheduled_for=scheduled_for,
            scheduled_until=scheduled_until,
            status=status or IncidentStatus.SCHEDULED,
            components=affected,
            component_statuses=statuses,
            auto_in_progress=True if auto_start is None else auto_start,
            auto_completed=True if auto_end is None else auto_end,
            deliver_notifications=deliver,
        )
        return incident_json(incident)
    incident = incident_declare(
        name=name,
        body=body,
        actor=call.actor,
        impact=impact or _derived_impact(statuses),
        status=status or IncidentStatus.INVESTIGATING,
        component_statuses=statuses,
        components=affected,
        deliver_notifications=deliver,
    )
    return incident_json(incident)


def maintenance_post(call: Call) -> dict:
    return incident_create(call, maintenance=True)


def incident_patch(call: Call, incident_id: str, *, kind: str | None = None) -> dict:
    """Edit name/impact/affected components; a new status, body or component statuses add a
    timeline update. One transaction: a refused part writes nothing."""
    incident = _incident(incident_id, kind=kind)
    name = call.str("name", max_length=MAX_NAME)
    if name is not None and not name.strip():
        raise invalid("name", "must not be empty.")
    impact = call.choice("impact_override", Impact.values) or call.choice("impact", Impact.values)
    status = call.str("status")
    body = call.str("body", max_length=MAX_BODY)
    statuses = _component_statuses(call)
    ids = call.list("component_ids")
    affected = _components_by_ids(ids, "component_ids") if ids is not None else None
    deliver = call.bool("deliver_notifications")
    incident = incident_change(
        incident=incident,
        actor=call.actor,
        name=name,
        impact=impact,
        components=affected,
        status=status,
        body=body,
        component_statuses=statuses,
        deliver_notifications=True if deliver is None else deliver,
    )
    return incident_json(incident)


def incident_remove(call: Call, incident_id: str) -> None:
    incident_delete(incident=_incident(incident_id), actor=call.actor)


def incident_update_patch(call: Call, incident_id: str, update_id: str) -> dict:
    incident = _incident(incident_id)
    update = IncidentUpdate.objects.filter(incident=incident, public_id=update_id).first()
    if update is None:
        raise not_found("incident update", update_id)
    body = call.str("body", max_length=MAX_BODY)
    deliver = call.bool("deliver_notifications")
    update = incident_update_edit(
        update=update, actor=call.actor, body=body, deliver_notifications=deliver
    )
    return incident_update_dict(update, incident)


def _postmortem_dict(incident: Incident, postmortem: Postmortem) -> dict:
    return {
        "incident_id": incident.public_id,
        "body": postmortem.body,
        "body_html": postmortem.body_html,
        "published_at": iso(postmortem.published_at),
        "updated_at": iso(postmortem.updated_at),
    }


def postmortem_get(call: Call, incident_id: str) -> dict:
    incident = _incident(incident_id)
    postmortem = Postmortem.objects.filter(incident=incident).first()
    if postmortem is None:
        raise not_found("postmortem of incident", incident_id)
    return _postmortem_dict(incident, postmortem)


def postmortem_put(call: Call, incident_id: str) -> dict:
    incident = _incident(incident_id)
    body = call.str("body", max_length=MAX_BODY)
    if body is None:
        body = call.str("body_draft", required=True, max_length=MAX_BODY)
    postmortem = postmortem_publish(
        incident=incident,
        body=body or "",
        actor=call.actor,
        notify=call.bool("notify_subscribers") or False,
    )
    return _postmortem_dict(incident, postmortem)


def maintenances_list(call: Call) -> Page:
    qs = Incident.objects.filter(kind=IncidentKind.MAINTENANCE)
    status = call.query.get("status")
    if status:
        if status not in MAINTENANCE_STATUSES:
            raise invalid("status", f"use one of {', '.join(MAINTENANCE_STATUSES)}.")
        qs = qs.filter(status=status)
    return _incidents_page(call, qs)


def maintenance_get(call: Call, maintenance_id: str) -> dict:
    return incident_json(_incident(maintenance_id, kind=IncidentKind.MAINTENANCE))


def maintenance_patch(call: Call, maintenance_id: str) -> dict:
    return incident_patch(call, maintenance_id, kind=IncidentKind.MAINTENANCE)


# --- Bulk ---------------------------------------------------------------------------------


def components_bulk_status(call: Call) -> dict:
    """Set every selected component to one status: by ids, region and/or service."""
    status = call.choice("status", ComponentStatus.values, required=True)
    ids = call.list("component_ids")
    region_slug = call.str("region")
    service_id = call.str("service")
    if ids is None and not region_slug and not service_id:
        raise invalid("component_ids", "give component_ids, region or service.")
    qs = Component.objects.select_related("service", "region")
    if ids is not None:
        qs = qs.filter(pk__in=[c.pk for c in _components_by_ids(ids, "component_ids")])
    if region_slug:
        qs = qs.filter(region=_region(region_slug))
    if service_id:
        service = Service.objects.filter(Q(public_id=service_id) | Q(slug=service_id)).first()
        if service is None:
            raise invalid("service", f"unknown service '{service_id}'.")
        qs = qs.filter(service=service)
    components = list(qs.order_by("pk"))
    reason = call.str("reason", max_length=MAX_BODY) or ""
    changed = components_set_status_bulk(
        components=components, status=status, actor=call.actor, reason=reason
    )
    return {
        "status": status,
        "matched": len(components),
        "changed": changed,
        "components": [
            component_dict(c)
            for c in Component.objects.select_related("service", "region").filter(
                pk__in=[c.pk for c in components]
            )
        ],
    }


def _bulk_incidents(call: Call) -> list[Incident]:
    ids = call.list("incident_ids")
    if not ids:
        raise invalid("incident_ids", "is required.")
    found = {i.public_id: i for i in Incident.objects.filter(public_id__in=ids)}
    unknown = [i for i in ids if i not in found]
    if unknown:
        raise invalid("incident_ids", f"unknown incident {', '.join(unknown)}.")
    return [found[i] for i in dict.fromkeys(ids)]


def incidents_bulk_update(call: Call, *, resolve: bool = False) -> list[dict]:
    incidents = _bulk_incidents(call)
    if resolve:
        maintenance = incidents[0].kind == IncidentKind.MAINTENANCE
        status = IncidentStatus.COMPLETED if maintenance else IncidentStatus.RESOLVED
        default = "This incident has been resolved."
        body = call.str("body", max_length=MAX_BODY) or default
    else:
        status = call.str("status", required=True)
        body = call.str("body", max_length=MAX_BODY) or ""
    deliver = call.bool("deliver_notifications")
    incidents_post_update_bulk(
        incidents=incidents,
        status=status,
        body=body,
        actor=call.actor,
        deliver_notifications=True if deliver is None else deliver,
    )
    qs = incidents_for_json(Incident.objects.filter(pk__in=[i.pk for i in incidents]))
    return [incident_dict(i) for i in qs]


def incidents_bulk_resolve(call: Call) -> list[dict]:
    return incidents_bulk_update(call, resolve=True)


# --- Components and groups ----------------------------------------------------------------


def components_get_list(call: Call) -> Page:
    return paginate(components_list(components_for_page()), call, lambda d: d)


def component_get(call: Call, component_id: str) -> dict:
    component = Component.objects.select_related("service", "region").filter(public_id=component_id)
    if component.exists():
        return component_dict(component.get())
    service = _group(component_id)
    return group_dict(service, _group_children(service))


def _component_display_fields(call: Call) -> dict:
    fields: dict[str, Any] = {
        "description": call.str("description"),
        "position": call.int("position"),
        "showcase": call.bool("showcase"),
        "only_show_if_degraded": call.bool("only_show_if_degraded"),
    }
    if "start_date" in call.data:
        fields["start_date"] = call.date("start_date")
    return {k: v for k, v in fields.items() if v is not None or k == "start_date"}


def component_post(call: Call) -> dict:
    """A component with a group_id is that service in a region (`region`, or a region whose
    slug or name is the component's name); without one it is a new global service."""
    name = call.str("name", max_length=MAX_NAME)
    status = call.choice("status", ComponentStatus.values)
    group_id = call.str("group_id")
    region_slug = call.str("region")
    display = _component_display_fields(call)
    region = _region(region_slug) if region_slug else None
    service = None
    if group_id:
        service = Service.objects.filter(public_id=group_id).first()
        if service is None:
            raise invalid("group_id", f"unknown component group '{group_id}'.")
        if region is None and name:
            region = Region.objects.filter(Q(slug=name) | Q(name=name)).first()
        if region is None:
            raise invalid(
                "region", "is required with group_id: the slug of the component's region."
            )
    elif not name or not name.strip():
        raise invalid("name", "is required.")
    component = component_add(
        actor=call.actor,
        service=service,
        region=region,
        name=name or "",
        status=status or ComponentStatus.OPERATIONAL,
        **display,
    )
    return component_dict(component)


def component_patch(call: Call, component_id: str) -> dict:
    status = call.choice("status", ComponentStatus.values)
    name = call.str("name", max_length=MAX_NAME)
    reason = call.str("reason", max_length=MAX_BODY) or ""
    if not Component.objects.filter(public_id=component_id).exists():
        service = service_change(
            service=_group(component_id),
            actor=call.actor,
            name=name,
            description=call.str("description"),
            position=call.int("position"),
            status=status,
            reason=reason,
        )
        return group_dict(service, _group_children(service))
    component = component_change(
        component=_component(component_id),
        actor=call.actor,
        status=status,
        reason=reason,
        name=name,
        **_component_display_fields(call),
    )
    return component_dict(component)


def component_remove(call: Call, component_id: str) -> None:
    component_delete(component=_component(component_id), actor=call.actor)


def component_history(call: Call, component_id: str) -> Page:
    component = _component(component_id)
    qs = (
        ComponentStatusChange.objects.filter(component=component)
        .select_related("incident", "incident_update")
        .order_by("-created_at", "-id")
    )
    return paginate(
        qs,
        call,
        lambda c: {
            "component_id": component.public_id,
            "old_status": c.old_status,
            "new_status": c.new_status,
            "created_at": iso(c.created_at),
            "actor": c.actor_name,
            "reason": c.reason,
            "incident_id": c.incident.public_id if c.incident_id else None,
            "incident_update_id": c.incident_update.public_id if c.incident_update_id else None,
        },
    )


def groups_list(call: Call) -> Page:
    services = Service.objects.filter(components__region__isnull=False).distinct()
    return paginate(services, call, lambda s: group_dict(s, _group_children(s)))


def group_get(call: Call, group_id: str) -> dict:
    service = _group(group_id)
    return group_dict(service, _group_children(service))


def _region_list(call: Call, name: str) -> list[Region]:
    slugs = call.list(name) or []
    return [_region(slug, name) for slug in slugs]


def group_post(call: Call) -> dict:
    """A component group is a service offered in regions: one component per region."""
    name = call.str("name", required=True, max_length=MAX_NAME)
    if call.list("components"):
        raise invalid(
            "components",
            "existing components cannot move between groups; give `regions` (slugs) and the "
            "group is created with one component per region.",
        )
    regions = _region_list(call, "regions")
    if not regions:
        raise invalid("regions", "is required: the slugs of the regions the service runs in.")
    service = service_create(
        name=name,
        actor=call.actor,
        regions=regions,
        description=call.str("description") or "",
        position=call.int("position") or 0,
    )
    return group_dict(service, _group_children(service))


def group_patch(call: Call, group_id: str) -> dict:
    service = service_update(
        service=_group(group_id),
        actor=call.actor,
        name=call.str("name", max_length=MAX_NAME),
        description=call.str("description"),
        position=call.int("position"),
    )
    return group_dict(service, _group_children(service))


def group_remove(call: Call, group_id: str) -> None:
    service_delete(service=_group(group_id), actor=call.actor)


# --- Regions and services -----------------------------------------------------------------


def region_dict(region: Region) -> dict:
    return {
        "id": region.slug,
        "slug": region.slug,
        "name": region.name,
        "position": region.position,
        "created_at": iso(region.created_at),
    }


def regions_list(call: Call) -> Page:
    return paginate(Region.objects.all(), call, region_dict)


def region_get(call: Call, region_id: str) -> dict:
    region = Region.objects.filter(slug=region_id).first()
    if region is None:
        raise not_found("region", region_id)
    return region_dict(region)


def region_post(call: Call) -> dict:
    region = region_create(
        slug=call.str("slug", required=True, max_length=64) or "",
        name=call.str("name", required=True, max_length=200) or "",
        position=call.int("position") or 0,
        actor=call.actor,
    )
    return region_dict(region)


def service_dict(service: Service) -> dict:
    components = list(service.components.select_related("service", "region"))
    return {
        "id": service.public_id,
        "name": service.name,
        "slug": service.slug,
        "description": service.description,
        "position": service.position,
        "created_at": iso(service.created_at),
        "updated_at": iso(service.updated_at),
        "regions": [c.region.slug for c in components if c.region_id],
        "components": [component_dict(c) for c in components],
    }


def services_list(call: Call) -> Page:
    return paginate(Service.objects.all(), call, service_dict)


def service_get(call: Call, service_id: str) -> dict:
    return service_dict(_service(service_id))


def service_post(call: Call) -> dict:
    service = service_create(
        name=call.str("name", required=True, max_length=MAX_NAME) or "",
        actor=call.actor,
        regions=_region_list(call, "regions") or None,
        description=call.str("description") or "",
        position=call.int("position") or 0,
        slug=call.str("slug", max_length=100) or "",
    )
    return service_dict(service)


def service_patch(call: Call, service_id: str) -> dict:
    service = service_update(
        service=_service(service_id),
        actor=call.actor,
        name=call.str("name", max_length=MAX_NAME),
        description=call.str("description"),
        position=call.int("position"),
    )
    return service_dict(service)


def service_remove(call: Call, service_id: str) -> None:
    service_delete(service=_service(service_id), actor=call.actor)


# --- The route table ----------------------------------------------------------------------

S = {"type": "string"}
B = {"type": "boolean"}
I = {"type": "integer"}  # noqa: E741
T = {"type": "string", "format": "date-time"}
IDS = {"type": "array", "items": {"type": "string"}}
COMPONENT_STATUS = {"type": "string", "enum": list(ComponentStatus.values)}
INCIDENT_STATUS = {"type": "string", "enum": list(IncidentStatus.values)}
STATUS_MAP = {
    "type": "object",
    "additionalProperties": COMPONENT_STATUS,
    "description": "component id → component status",
}
INCIDENT_FIELDS = {
    "name": {**S, "maxLength": MAX_NAME},
    "status": INCIDENT_STATUS,
    "impact_override": {"type": "string", "enum": list(Impact.values)},
    "body": {**S, "maxLength": MAX_BODY},
    "component_ids": IDS,
    "components": STATUS_MAP,
    "deliver_notifications": B,
    "scheduled_for": T,
    "scheduled_until": T,
    "scheduled_auto_in_progress": B,
    "scheduled_auto_completed": B,
}
COMPONENT_FIELDS = {
    "name": {**S, "maxLength": MAX_NAME},
    "description": S,
    "status": COMPONENT_STATUS,
    "group_id": S,
    "region": {**S, "description": "Heliograph: region slug of a component in a group"},
    "showcase": B,
    "only_show_if_degraded": B,
    "start_date": {"type": "string", "format": "date"},
    "position": I,
    "reason": {**S, "description": "Heliograph: kept in the component's status history"},
}
GROUP_FIELDS = {
    "name": {**S, "maxLength": MAX_NAME},
    "description": S,
    "position": I,
    "regions": {**IDS, "description": "Heliograph: region slugs, one component per region"},
}
SERVICE_FIELDS = {
    "name": {**S, "maxLength": MAX_NAME},
    "slug": S,
    "description": S,
    "position": I,
    "regions": IDS,
}
PAGED = {"page": "Page number, from 1", "per_page": "Items per page, at most 100"}

R, W_INC, W_COMP = ApiScope.READ, ApiScope.INCIDENTS, ApiScope.COMPONENTS


def op(method: str, handler: Any, scope: str, summary: str, **kw: Any) -> Operation:
    return Operation(method=method, handler=handler, scope=scope, summary=summary, **kw)


def page_get(call: Call) -> dict:
    """The page (v1 `GET /pages/{page_id}`), with the overall status beside it."""
    overall = page_status()
    return {
        **page_dict(updated_at=page_updated_at()),
        "status_indicator": overall.indicator,
        "status_description": overall.description,
    }


def routes() -> list[Route]:
    """Every route of the API, in matching order (fixed paths before `{id}`)."""
    table = [
        Route(
            "/",
            {
                "GET": op(
                    "GET",
                    lambda call: [page_get(call)],
                    R,
                    "The pages this token can use (one: this Heliograph)",
                    tag="Page",
                    many=True,
                )
            },
            name="pages",
        ),
        Route(
            "",
            {"GET": op("GET", page_get, R, "The page and its overall status", tag="Page")},
            name="page",
        ),
        Route(
            "incidents/bulk-resolve",
            {
                "POST": op(
                    "POST",
                    incidents_bulk_resolve,
                    W_INC,
                    "Resolve several incidents at once (all or nothing)",
                    envelope="bulk",
                    fields={"incident_ids": IDS, "body": S, "deliver_notifications": B},
                    required=["incident_ids"],
                    response="incident",
                    many=True,
                    tag="Bulk actions",
                )
            },
            name="incidents_bulk_resolve",
        ),
        Route(
            "incidents/bulk-update",
            {
                "POST": op(
                    "POST",
                    incidents_bulk_update,
                    W_INC,
                    "Post one update to several incidents (all or nothing)",
                    envelope="bulk",
                    fields={
                        "incident_ids": IDS,
                        "status": INCIDENT_STATUS,
                        "body": S,
                        "deliver_notifications": B,
                    },
                    required=["incident_ids", "status"],
                    response="incident",
                    many=True,
                    tag="Bulk actions",
                )
            },
            name="incidents_bulk_update",
        ),
        Route(
            "components/bulk-status",
            {
                "POST": op(
                    "POST",
                    components_bulk_status,
                    W_COMP,
                    "Set the status of many components: by ids, region and/or service "
                    "(all or nothing)",
                    envelope="bulk",
                    fields={
                        "status": COMPONENT_STATUS,
                        "component_ids": IDS,
                        "region": {**S, "description": "region slug, e.g. us-east-1"},
                        "service": {**S, "description": "service id or slug"},
                        "reason": S,
                    },
                    required=["status"],
                    response="bulk_status",
                    tag="Bulk actions",
                )
            },
            name="components_bulk_status",
        ),
        Route(
            "incidents",
            {
                "GET": op(
                    "GET",
                    incidents_list,
                    R,
                    "List incidents and maintenances, newest first",
                    paginated=True,
                    query={"q": "Search in names and update bodies", "limit": "At most 100"},
                    response="incident",
                    many=True,
                    tag="Incidents",
                ),
                "POST": op(
                    "POST",
                    incident_create,
                    W_INC,
                    "Declare an incident (or schedule a maintenance with scheduled_for/until)",
                    envelope="incident",
                    fields=INCIDENT_FIELDS,
                    required=["name"],
                    status=201,
                    response="incident",
                    tag="Incidents",
                ),
            },
            name="incidents",
        ),
    ]
    for suffix, handler, summary in (
        ("unresolved", incidents_unresolved, "Open incidents"),
        ("upcoming", incidents_upcoming, "Scheduled maintenances yet to start"),
        ("scheduled", incidents_scheduled, "Scheduled maintenances"),
        ("active_maintenance", incidents_active_maintenance, "Maintenances in progress"),
    ):
        table.append(
            Route(
                f"incidents/{suffix}",
                {
                    "GET": op(
                        "GET",
                        handler,
                        R,
                        summary,
                        paginated=True,
                        query=PAGED,
                        response="incident",
                        many=True,
                        tag="Incidents",
                    )
                },
                name=f"incidents_{suffix}",
            )
        )
    patch_incident = op(
        "PATCH",
        incident_patch,
        W_INC,
        "Update an incident; a new status, body or component statuses add a timeline update",
        envelope="incident",
        fields=INCIDENT_FIELDS,
        response="incident",
        tag="Incidents",
    )
    table += [
        Route(
            "incidents/{incident_id}",
            {
                "GET": op(
                    "GET", incident_get, R, "An incident", response="incident", tag="Incidents"
                ),
                "PATCH": patch_incident,
                "PUT": Operation(**{**patch_incident.__dict__, "method": "PUT"}),
                "DELETE": op(
                    "DELETE",
                    incident_remove,
                    W_INC,
                    "Delete an incident",
                    status=204,
                    tag="Incidents",
                ),
            },
            name="incident",
        ),
        Route(
            "incidents/{incident_id}/incident_updates/{update_id}",
            {
                method: op(
                    method,
                    incident_update_patch,
                    W_INC,
                    "Correct an incident update (it is not sent again)",
                    envelope="incident_update",
                    fields={"body": {**S, "maxLength": MAX_BODY}, "deliver_notifications": B},
                    response="incident_update",
                    tag="Incidents",
                )
                for method in ("PATCH", "PUT")
            },
            name="incident_update",
        ),
        Route(
            "incidents/{incident_id}/postmortem",
            {
                "GET": op(
                    "GET",
                    postmortem_get,
                    R,
                    "The postmortem of an incident",
                    response="postmortem",
                    tag="Postmortems",
                ),
                "PUT": op(
                    "PUT",
                    postmortem_put,
                    W_INC,
                    "Publish (or replace) the postmortem of a resolved incident",
                    envelope="postmortem",
                    fields={
                        "body": {**S, "maxLength": MAX_BODY},
                        "body_draft": S,
                        "notify_subscribers": B,
                    },
                    response="postmortem",
                    tag="Postmortems",
                ),
            },
            name="postmortem",
        ),
        Route(
            "scheduled-maintenances",
            {
                "GET": op(
                    "GET",
                    maintenances_list,
                    R,
                    "List scheduled maintenances",
                    paginated=True,
                    query={**PAGED, "status": "scheduled, in_progress, verifying or completed"},
                    response="incident",
                    many=True,
                    tag="Scheduled maintenance",
                ),
                "POST": op(
                    "POST",
                    maintenance_post,
                    W_INC,
                    "Schedule a maintenance",
                    envelope="scheduled_maintenance",
                    fields=INCIDENT_FIELDS,
                    required=["name", "scheduled_for", "scheduled_until"],
                    status=201,
                    response="incident",
                    tag="Scheduled maintenance",
                ),
            },
            name="maintenances",
        ),
        Route(
            "scheduled-maintenances/{maintenance_id}",
            {
                "GET": op(
                    "GET",
                    maintenance_get,
                    R,
                    "A scheduled maintenance",
                    response="incident",
                    tag="Scheduled maintenance",
                ),
                "PATCH": op(
                    "PATCH",
                    maintenance_patch,
                    W_INC,
                    "Move a maintenance on (in_progress, verifying, completed) or edit it",
                    envelope="scheduled_maintenance",
                    fields=INCIDENT_FIELDS,
                    response="incident",
                    tag="Scheduled maintenance",
                ),
            },
            name="maintenance",
        ),
        Route(
            "components",
            {
                "GET": op(
                    "GET",
                    components_get_list,
                    R,
                    "List components and component groups, in page order",
                    paginated=True,
                    query=PAGED,
                    response="component",
                    many=True,
                    tag="Components",
                ),
                "POST": op(
                    "POST",
                    component_post,
                    W_COMP,
                    "Create a component (with group_id and region: that service in a region; "
                    "without: a new global service)",
                    envelope="component",
                    fields=COMPONENT_FIELDS,
                    status=201,
                    response="component",
                    tag="Components",
                ),
            },
            name="components",
        ),
        Route(
            "components/{component_id}/status_history",
            {
                "GET": op(
                    "GET",
                    component_history,
                    R,
                    "The status history of a component, newest first",
                    paginated=True,
                    query=PAGED,
                    response="status_change",
                    many=True,
                    tag="Components",
                )
            },
            name="component_history",
        ),
    ]
    patch_component = op(
        "PATCH",
        component_patch,
        W_COMP,
        "Update a component: status (recorded in its history), description, display fields",
        envelope="component",
        fields=COMPONENT_FIELDS,
        response="component",
        tag="Components",
    )
    patch_group = op(
        "PATCH",
        group_patch,
        W_COMP,
        "Rename or describe a component group",
        envelope="component_group",
        fields=GROUP_FIELDS,
        response="component",
        tag="Component groups",
    )
    patch_service = op(
        "PATCH",
        service_patch,
        W_COMP,
        "Rename or describe a service",
        envelope="service",
        fields=SERVICE_FIELDS,
        response="service",
        tag="Services",
    )
    table += [
        Route(
            "components/{component_id}",
            {
                "GET": op(
                    "GET",
                    component_get,
                    R,
                    "A component (or group)",
                    response="component",
                    tag="Components",
                ),
                "PATCH": patch_component,
                "PUT": Operation(**{**patch_component.__dict__, "method": "PUT"}),
                "DELETE": op(
                    "DELETE",
                    component_remove,
                    W_COMP,
                    "Delete a component and its history (its service too if it was the last)",
                    status=204,
                    tag="Components",
                ),
            },
            name="component",
        ),
        Route(
            "component-groups",
            {
                "GET": op(
                    "GET",
                    groups_list,
                    R,
                    "List component groups (services offered in regions)",
                    paginated=True,
                    query=PAGED,
                    response="component",
                    many=True,
                    tag="Component groups",
                ),
                "POST": op(
                    "POST",
                    group_post,
                    W_COMP,
                    "Create a component group: a service with one component per region",
                    envelope="component_group",
                    fields=GROUP_FIELDS,
                    required=["name", "regions"],
                    status=201,
                    response="component",
                    tag="Component groups",
                ),
            },
            name="groups",
        ),
        Route(
            "component-groups/{group_id}",
            {
                "GET": op(
                    "GET",
                    group_get,
                    R,
                    "A component group",
                    response="component",
                    tag="Component groups",
                ),
                "PATCH": patch_group,
                "PUT": Operation(**{**patch_group.__dict__, "method": "PUT"}),
                "DELETE": op(
                    "DELETE",
                    group_remove,
                    W_COMP,
                    "Delete a component group with its components",
                    status=204,
                    tag="Component groups",
                ),
            },
            name="group",
        ),
        Route(
            "regions",
            {
                "GET": op(
                    "GET",
                    regions_list,
                    R,
                    "List regions",
                    paginated=True,
                    query=PAGED,
                    response="region",
                    many=True,
                    tag="Regions",
                ),
                "POST": op(
                    "POST",
                    region_post,
                    W_COMP,
                    "Create a region",
                    envelope="region",
                    fields={"slug": S, "name": S, "position": I},
                    required=["slug", "name"],
                    status=201,
                    response="region",
                    tag="Regions",
                ),
            },
            name="regions",
        ),
        Route(
            "regions/{region_id}",
            {
                "GET": op(
                    "GET", region_get, R, "A region (by slug)", response="region", tag="Regions"
                )
            },
            name="region",
        ),
        Route(
            "services",
            {
                "GET": op(
                    "GET",
                    services_list,
                    R,
                    "List services with their components",
                    paginated=True,
                    query=PAGED,
                    response="service",
                    many=True,
                    tag="Services",
                ),
                "POST": op(
                    "POST",
                    service_post,
                    W_COMP,
                    "Create a service: one component per region given, or one global component",
                    envelope="service",
                    fields=SERVICE_FIELDS,
                    required=["name"],
                    status=201,
                    response="service",
                    tag="Services",
                ),
            },
            name="services",
        ),
        Route(
            "services/{service_id}",
            {
                "GET": op(
                    "GET",
                    service_get,
                    R,
                    "A service (by id or slug)",
                    response="service",
                    tag="Services",
                ),
                "PATCH": patch_service,
                "PUT": Operation(**{**patch_service.__dict__, "method": "PUT"}),
                "DELETE": op(
                    "DELETE",
                    service_remove,
                    W_COMP,
                    "Delete a service with its components",
                    status=204,
                    tag="Services",
                ),
            },
            name="service",
        ),
    ]
    return table


# Subscribers/channels/deliveries, credits and metrics have their own handler modules; they
# share this route table (and so the OpenAPI document, the docs page and the MCP server).
from statuspage.api.credits_views import CREDIT_ROUTES  # noqa: E402
from statuspage.api.metrics_views import METRIC_ROUTES  # noqa: E402
from statuspage.api.notify_views import NOTIFY_ROUTES  # noqa: E402

ROUTES = routes() + NOTIFY_ROUTES + CREDIT_ROUTES + METRIC_ROUTES
