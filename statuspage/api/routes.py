"""The route table of the v1 API: every resource module's ROUTES, in matching order.

urls.py serves it, docs.py describes it (OpenAPI and /v1/docs) and mcp_server.py calls its
operations. The first route whose pattern matches a URL answers it; a `{parameter}` matches
any one path segment, so within a module a fixed path (`incidents/unresolved`) comes before
the parameter it would match (`incidents/{incident_id}`) — tests/api/test_api_routes.py
checks that every route answers its own URLs.
"""

from __future__ import annotations

from statuspage.api.framework import Route
from statuspage.api.resources import (
    alert_sources,
    catalogue_services,
    channels,
    components,
    credits,
    deliveries,
    incidents,
    maintenances,
    metrics,
    pages,
    regions,
    subscribers,
)

ROUTES: list[Route] = [
    *pages.ROUTES,
    *incidents.ROUTES,
    *maintenances.ROUTES,
    *components.ROUTES,
    *regions.ROUTES,
    *catalogue_services.ROUTES,
    *subscribers.ROUTES,
    *channels.ROUTES,
    *deliveries.ROUTES,
    *credits.ROUTES,
    *metrics.ROUTES,
    *alert_sources.ROUTES,
]
