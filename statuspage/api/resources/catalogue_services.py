"""Services of the catalogue (`/services`), named by id or slug, with their components.

Named catalogue_services so that it is not taken for a module of service functions."""

from __future__ import annotations

from incidents.documents import component_dict, iso
from incidents.services import MAX_NAME
from statuspage.api.framework import (
    Call,
    Page,
    delete,
    get,
    given,
    paginate,
    patch_and_put,
    post,
    route,
)
from statuspage.api.lookups import (
    SERVICE_COMPONENTS,
    find_regions,
    find_service,
    service_components,
)
from statuspage.api.models import ApiScope
from statuspage.api.schema import IDS, PAGED, I, S
from statuspage.models import Service
from statuspage.services import service_create, service_delete, service_update


def service_dict(service: Service) -> dict:
    components = service_components(service)
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
    return paginate(Service.objects.prefetch_related(SERVICE_COMPONENTS), call, service_dict)


def service_get(call: Call, service_id: str) -> dict:
    return service_dict(find_service(service_id))


def service_post(call: Call) -> dict:
    service = service_create(
        name=call.str("name", required=True, max_length=MAX_NAME) or "",
        actor=call.actor,
        regions=find_regions(call, "regions") or None,
        **given(
            description=call.str("description"),
            position=call.int("position"),
            slug=call.str("slug", max_length=100),
        ),
    )
    return service_dict(service)


def service_patch(call: Call, service_id: str) -> dict:
    service = service_update(
        service=find_service(service_id),
        actor=call.actor,
        name=call.str("name", max_length=MAX_NAME),
        description=call.str("description"),
        position=call.int("position"),
    )
    return service_dict(service)


def service_remove(call: Call, service_id: str) -> None:
    service_delete(service=find_service(service_id), actor=call.actor)


SERVICE_FIELDS = {
    "name": {**S, "maxLength": MAX_NAME},
    "slug": S,
    "description": S,
    "position": I,
    "regions": IDS,
}

ROUTES = [
    route(
        "services",
        "services",
        get(
            services_list,
            "List services with their components",
            paginated=True,
            query=PAGED,
            response="service",
            many=True,
        ),
        post(
            service_post,
            ApiScope.COMPONENTS,
            "Create a service: one component per region given, or one global component",
            envelope="service",
            fields=SERVICE_FIELDS,
            required=["name"],
            status=201,
            response="service",
        ),
        tag="Services",
    ),
    route(
        "services/{service_id}",
        "service",
        get(service_get, "A service (by id or slug)", response="service"),
        patch_and_put(
            service_patch,
            ApiScope.COMPONENTS,
            "Rename or describe a service",
            envelope="service",
            fields=SERVICE_FIELDS,
            response="service",
        ),
        delete(service_remove, ApiScope.COMPONENTS, "Delete a service with its components"),
        tag="Services",
    ),
]
