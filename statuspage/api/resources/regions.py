"""Regions, named by slug."""

from __future__ import annotations

from incidents.documents import iso
from statuspage.api.framework import Call, Page, get, given, not_found, paginate, post, route
from statuspage.api.models import ApiScope
from statuspage.api.schema import PAGED, I, S
from statuspage.models import Region
from statuspage.services import region_create


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
        actor=call.actor,
        **given(position=call.int("position")),
    )
    return region_dict(region)


ROUTES = [
    route(
        "regions",
        "regions",
        get(
            regions_list,
            "List regions",
            paginated=True,
            query=PAGED,
            response="region",
            many=True,
        ),
        post(
            region_post,
            ApiScope.COMPONENTS,
            "Create a region",
            envelope="region",
            fields={"slug": S, "name": S, "position": I},
            required=["slug", "name"],
            status=201,
            response="region",
        ),
        tag="Regions",
    ),
    route(
        "regions/{region_id}",
        "region",
        get(region_get, "A region (by slug)", response="region"),
        tag="Regions",
    ),
]
