"""Components and component groups (a v1 group is a service offered in regions; its
components are the service's regional components), a component's status history, and the
bulk status action."""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from incidents.documents import component_dict, components_list, group_dict, iso
from incidents.services import MAX_BODY, MAX_NAME
from statuspage.api.framework import (
    Call,
    Page,
    delete,
    get,
    given,
    invalid,
    paginate,
    patch_and_put,
    post,
    route,
)
from statuspage.api.lookups import (
    SERVICE_COMPONENTS,
    component_or_none,
    find_component,
    find_components,
    find_group,
    find_region,
    find_regions,
    service_components,
)
from statuspage.api.models import ApiScope
from statuspage.api.schema import COMPONENT_STATUS, DATE, IDS, PAGED, B, I, S
from statuspage.models import Component, ComponentStatus, ComponentStatusChange, Region, Service
from statuspage.selectors import components_for_page
from statuspage.services import (
    component_add,
    component_change,
    component_delete,
    components_set_status_bulk,
    service_change,
    service_create,
    service_delete,
    service_update,
)


def _group_children(service: Service) -> list[Component]:
    return [c for c in service_components(service) if c.region_id is not None]


def _group_json(service: Service) -> dict:
    return group_dict(service, _group_children(service))


def _display_fields(call: Call) -> dict[str, Any]:
    """The display fields given; `start_date` may be given as null to clear it."""
    fields: dict[str, Any] = {
        "description": call.str("description"),
        "position": call.int("position"),
        "showcase": call.bool("showcase"),
        "only_show_if_degraded": call.bool("only_show_if_degraded"),
    }
    if "start_date" in call.data:
        fields["start_date"] = call.date("start_date")
    return {k: v for k, v in fields.items() if v is not None or k == "start_date"}


# --- Components ---------------------------------------------------------------------------


def components_get_list(call: Call) -> Page:
    return paginate(components_list(components_for_page()), call, lambda d: d)


def component_get(call: Call, component_id: str) -> dict:
    component = component_or_none(component_id)
    if component is not None:
        return component_dict(component)
    return _group_json(find_group(component_id))


def component_post(call: Call) -> dict:
    """A component with a group_id is that service in a region (`region`, or a region whose
    slug or name is the component's name); without one it is a new global service."""
    name = call.str("name", max_length=MAX_NAME)
    status = call.choice("status", ComponentStatus.values)
    group_id = call.str("group_id")
    region_slug = call.str("region")
    display = _display_fields(call)
    region = find_region(region_slug) if region_slug else None
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
        **given(status=status),
        **display,
    )
    return component_dict(component)


def component_patch(call: Call, component_id: str) -> dict:
    """A component's status (kept in its history with `reason`), name and display fields;
    a group's id sets the status of all its components."""
    status = call.choice("status", ComponentStatus.values)
    name = call.str("name", max_length=MAX_NAME)
    reason = call.str("reason", max_length=MAX_BODY) or ""
    component = component_or_none(component_id)
    if component is None:
        service = service_change(
            service=find_group(component_id),
            actor=call.actor,
            name=name,
            description=call.str("description"),
            position=call.int("position"),
            status=status,
            reason=reason,
        )
        return _group_json(service)
    component = component_change(
        component=component,
        actor=call.actor,
        status=status,
        reason=reason,
        name=name,
        **_display_fields(call),
    )
    return component_dict(component)


def component_remove(call: Call, component_id: str) -> None:
    component_delete(component=find_component(component_id), actor=call.actor)


def component_history(call: Call, component_id: str) -> Page:
    component = find_component(component_id)
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


def components_bulk_status(call: Call) -> dict:
    """Set every selected component to one status: by ids, region and/or service."""
    status = call.choice("status", ComponentStatus.values, required=True) or ""
    ids = call.list("component_ids")
    region_slug = call.str("region")
    service_id = call.str("service")
    if ids is None and not region_slug and not service_id:
        raise invalid("component_ids", "give component_ids, region or service.")
    qs = Component.objects.select_related("service", "region")
    if ids is not None:
        qs = qs.filter(pk__in=[c.pk for c in find_components(ids, "component_ids")])
    if region_slug:
        qs = qs.filter(region=find_region(region_slug))
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


# --- Component groups ---------------------------------------------------------------------


def groups_list(call: Call) -> Page:
    services = Service.objects.filter(components__region__isnull=False).distinct()
    return paginate(services.prefetch_related(SERVICE_COMPONENTS), call, _group_json)


def group_get(call: Call, group_id: str) -> dict:
    return _group_json(find_group(group_id))


def group_post(call: Call) -> dict:
    """A component group is a service offered in regions: one component per region."""
    name = call.str("name", required=True, max_length=MAX_NAME) or ""
    if call.list("components"):
        raise invalid(
            "components",
            "existing components cannot move between groups; give `regions` (slugs) and the "
            "group is created with one component per region.",
        )
    regions = find_regions(call, "regions")
    if not regions:
        raise invalid("regions", "is required: the slugs of the regions the service runs in.")
    service = service_create(
        name=name,
        actor=call.actor,
        regions=regions,
        **given(description=call.str("description"), position=call.int("position")),
    )
    return _group_json(service)


def group_patch(call: Call, group_id: str) -> dict:
    service = service_update(
        service=find_group(group_id),
        actor=call.actor,
        name=call.str("name", max_length=MAX_NAME),
        description=call.str("description"),
        position=call.int("position"),
    )
    return _group_json(service)


def group_remove(call: Call, group_id: str) -> None:
    service_delete(service=find_group(group_id), actor=call.actor)


# --- Routes -------------------------------------------------------------------------------

COMPONENT_FIELDS = {
    "name": {**S, "maxLength": MAX_NAME},
    "description": S,
    "status": COMPONENT_STATUS,
    "group_id": S,
    "region": {**S, "description": "Heliograph: region slug of a component in a group"},
    "showcase": B,
    "only_show_if_degraded": B,
    "start_date": DATE,
    "position": I,
    "reason": {**S, "description": "Heliograph: kept in the component's status history"},
}
GROUP_FIELDS = {
    "name": {**S, "maxLength": MAX_NAME},
    "description": S,
    "position": I,
    "regions": {**IDS, "description": "Heliograph: region slugs, one component per region"},
}
LIST = {"paginated": True, "query": PAGED, "response": "component", "many": True}

ROUTES = [
    # Fixed paths before `components/{component_id}`, which would match them too.
    route(
        "components/bulk-status",
        "components_bulk_status",
        post(
            components_bulk_status,
            ApiScope.COMPONENTS,
            "Set the status of many components: by ids, region and/or service (all or nothing)",
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
        ),
        tag="Bulk actions",
    ),
    route(
        "components",
        "components",
        get(components_get_list, "List components and component groups, in page order", **LIST),
        post(
            component_post,
            ApiScope.COMPONENTS,
            "Create a component (with group_id and region: that service in a region; "
            "without: a new global service)",
            envelope="component",
            fields=COMPONENT_FIELDS,
            status=201,
            response="component",
        ),
        tag="Components",
    ),
    route(
        "components/{component_id}/status_history",
        "component_history",
        get(
            component_history,
            "The status history of a component, newest first",
            paginated=True,
            query=PAGED,
            response="status_change",
            many=True,
        ),
        tag="Components",
    ),
    route(
        "components/{component_id}",
        "component",
        get(component_get, "A component (or group)", response="component"),
        patch_and_put(
            component_patch,
            ApiScope.COMPONENTS,
            "Update a component: status (recorded in its history), description, display fields",
            envelope="component",
            fields=COMPONENT_FIELDS,
            response="component",
        ),
        delete(
            component_remove,
            ApiScope.COMPONENTS,
            "Delete a component and its history (its service too if it was the last)",
        ),
        tag="Components",
    ),
    route(
        "component-groups",
        "groups",
        get(groups_list, "List component groups (services offered in regions)", **LIST),
        post(
            group_post,
            ApiScope.COMPONENTS,
            "Create a component group: a service with one component per region",
            envelope="component_group",
            fields=GROUP_FIELDS,
            required=["name", "regions"],
            status=201,
            response="component",
        ),
        tag="Component groups",
    ),
    route(
        "component-groups/{group_id}",
        "group",
        get(group_get, "A component group", response="component"),
        patch_and_put(
            group_patch,
            ApiScope.COMPONENTS,
            "Rename or describe a component group",
            envelope="component_group",
            fields=GROUP_FIELDS,
            response="component",
        ),
        delete(group_remove, ApiScope.COMPONENTS, "Delete a component group with its components"),
        tag="Component groups",
    ),
]
