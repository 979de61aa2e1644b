"""The rows a path or a body field names, looked up once for every resource module: an
unknown id in the path answers 404 (`Unknown incident: …`), in a body field 422 naming the
field."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, Q, prefetch_related_objects

from incidents.models import Incident
from notifier.models import Scope
from statuspage.api.framework import Call, invalid, not_found
from statuspage.models import Component, Region, Service
from statuspage.services import UNSET

# --- In the path (404) --------------------------------------------------------------------


def find_incident(incident_id: str, *, kind: str | None = None) -> Incident:
    """An incident or maintenance by public id; with `kind`, only of that kind."""
    qs = Incident.objects.all()
    if kind:
        qs = qs.filter(kind=kind)
    incident = qs.filter(public_id=incident_id).first()
    if incident is None:
        raise not_found("scheduled maintenance" if kind else "incident", incident_id)
    return incident


def component_or_none(component_id: str) -> Component | None:
    """The component of a public id, with its service and region, in one query; None when
    there is none (a v1 component id may also be a group's)."""
    return (
        Component.objects.select_related("service", "region").filter(public_id=component_id).first()
    )


def find_component(component_id: str) -> Component:
    component = component_or_none(component_id)
    if component is None:
        raise not_found("component", component_id)
    return component


def find_group(group_id: str) -> Service:
    """A v1 component group: a service offered in regions (by the service's public id)."""
    service = Service.objects.filter(public_id=group_id, components__region__isnull=False).first()
    if service is None:
        raise not_found("component group", group_id)
    return service


def find_service(service_id: str) -> Service:
    """A service by public id or slug."""
    service = Service.objects.filter(Q(public_id=service_id) | Q(slug=service_id)).first()
    if service is None:
        raise not_found("service", service_id)
    return service


# --- In the body (422 naming the field) ---------------------------------------------------


def find_region(slug: str, field_name: str = "region") -> Region:
    region = Region.objects.filter(slug=slug).first()
    if region is None:
        raise invalid(field_name, f"unknown region '{slug}'.")
    return region


def find_regions(call: Call, field_name: str) -> list[Region]:
    """The regions a list field names by slug, in its order."""
    return [find_region(slug, field_name) for slug in call.list(field_name) or []]


def component_field(call: Call, field_name: str = "component_id") -> Any:
    """The one component a body field names: absent → UNSET (a PATCH leaves it), null →
    None (cleared), an id → the component; an unknown id is a 422 naming the field."""
    if field_name not in call.data:
        return UNSET
    if not call.has(field_name):
        return None
    component_id = call.str(field_name) or ""
    component = component_or_none(component_id)
    if component is None:
        raise invalid(field_name, f"unknown component '{component_id}'.")
    return component


def find_components(ids: list[str], field_name: str) -> list[Component]:
    """The components of a list of public ids, in its order, duplicates dropped."""
    found = {
        c.public_id: c
        for c in Component.objects.select_related("service", "region").filter(public_id__in=ids)
    }
    unknown = [i for i in ids if i not in found]
    if unknown:
        raise invalid(field_name, f"unknown component {', '.join(unknown)}.")
    return [found[i] for i in dict.fromkeys(ids)]


def recipient_scope(call: Call) -> dict[str, Any]:
    """What a subscriber or channel hears about: v1's `component_ids`, or Heliograph's
    `scope` with `region_ids` / `service_ids`. Without `scope`, the narrowest given."""
    component_ids = call.list("component_ids")
    region_ids = call.list("region_ids") or []
    service_ids = call.list("service_ids") or []
    scope = call.choice("scope", list(Scope.values))
    components = find_components(component_ids, "component_ids") if component_ids else []
    regions = list(Region.objects.filter(slug__in=region_ids))
    if len(regions) != len(set(region_ids)):
        raise invalid("region_ids", "unknown region among " + ", ".join(region_ids) + ".")
    services = list(Service.objects.filter(Q(public_id__in=service_ids) | Q(slug__in=service_ids)))
    if len(services) != len(set(service_ids)):
        raise invalid("service_ids", "unknown service among " + ", ".join(service_ids) + ".")
    if scope is None:
        scope = (
            Scope.COMPONENTS
            if components
            else Scope.SERVICES
            if services
            else Scope.REGIONS
            if regions
            else Scope.ALL
        )
    return {"scope": scope, "regions": regions, "services": services, "components": components}


# A service's components with what their JSON reads (service, region), fetched once for a
# whole page of services (list endpoints) or for one.
SERVICE_COMPONENTS = Prefetch(
    "components", queryset=Component.objects.select_related("service", "region")
)


def service_components(service: Service) -> list[Component]:
    """The components of `service`, in page order, prefetched unless they already are."""
    prefetch_related_objects([service], SERVICE_COMPONENTS)
    return list(service.components.all())
