"""An MCP server (stdio) that gives AI assistants the actions of the automation API.

Each tool runs the SAME operation of the API's route table (statuspage/api/routes.py) with
the same checks — token, scope, rate limit, validation — so an assistant can do exactly what a
script with that token can do, and every write is audited as `api:<token name>`. The token
is read from HELIOGRAPH_API_TOKEN (or `manage.py mcp_server --token`) and authenticated on
every call, so revoking it in the admin stops the assistant at once.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import close_old_connections
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from statuspage.api.framework import (
    ApiError,
    Call,
    Operation,
    Page,
    authenticate_raw,
    check_rate,
    run_operation,
)
from statuspage.api.routes import ROUTES

OPERATIONS: dict[tuple[str, str], Operation] = {
    (route.name, method): operation
    for route in ROUTES
    for method, operation in route.operations.items()
}

INSTRUCTIONS = """Heliograph status page. Components are services in regions (ids are short
strings; list_components shows them). Component statuses: operational, degraded_performance,
partial_outage, major_outage, under_maintenance. Incident statuses: investigating, identified,
monitoring, resolved. Impacts: none, minor, major, critical. Updates are sent to subscribers
and channels unless deliver_notifications is false."""


class ToolRunner:
    """Runs API operations for one token (given as its secret)."""

    def __init__(self, raw_token: str | None = None) -> None:
        self.raw_token = raw_token

    def __call__(
        self,
        route: str,
        method: str,
        data: dict | None = None,
        query: dict | None = None,
        **path: str,
    ) -> dict:
        close_old_connections()
        try:
            token = authenticate_raw(self.raw_token or settings.HELIOGRAPH_API_TOKEN)
            check_rate(token)
            operation = OPERATIONS[(route, method)]
            call = Call(
                token=token,
                data={k: v for k, v in (data or {}).items() if v is not None},
                query={k: str(v) for k, v in (query or {}).items() if v not in (None, "")},
            )
            result = run_operation(operation, call, path)
        except ApiError as exc:
            raise ToolError(f"{exc.status}: {exc.message}") from None
        finally:
            close_old_connections()
        if isinstance(result, Page):
            return {
                "items": result.items,
                "total": result.total,
                "page": result.page,
                "per_page": result.per_page,
            }
        if isinstance(result, list):
            return {"items": result}
        return result if isinstance(result, dict) else {"ok": True}


def build_server(raw_token: str | None = None) -> MCPServer:
    """The MCP server with one tool per assistant action."""
    run = ToolRunner(raw_token)
    server = MCPServer("heliograph", instructions=INSTRUCTIONS)

    @server.tool()
    def get_page_status() -> dict[str, Any]:
        """The page's overall status (indicator and description) and when it last changed."""
        return run("page", "GET")

    @server.tool()
    def list_components(page: int = 1) -> dict[str, Any]:
        """List components and component groups (services offered in regions) with status."""
        return run("components", "GET", query={"page": page})

    @server.tool()
    def list_regions() -> dict[str, Any]:
        """List regions (their slugs are used to select components by region)."""
        return run("regions", "GET")

    @server.tool()
    def list_services() -> dict[str, Any]:
        """List services with their regional components."""
        return run("services", "GET")

    @server.tool()
    def set_component_status(component_id: str, status: str, reason: str = "") -> dict[str, Any]:
        """Set one component's status (recorded in its history and published)."""
        return run(
            "component",
            "PATCH",
            {"status": status, "reason": reason},
            component_id=component_id,
        )

    @server.tool()
    def bulk_set_component_status(
        status: str,
        component_ids: list[str] | None = None,
        region: str | None = None,
        service: str | None = None,
        reason: str = "",
    ) -> dict[str, Any]:
        """Set many components to one status, e.g. everything in region us-east-1 to
        major_outage. Select by component_ids, region slug and/or service id or slug.
        All or nothing."""
        return run(
            "components_bulk_status",
            "POST",
            {
                "status": status,
                "component_ids": component_ids,
                "region": region,
                "service": service,
                "reason": reason,
            },
        )

    @server.tool()
    def list_incidents(q: str = "", unresolved_only: bool = False, page: int = 1) -> dict[str, Any]:
        """List incidents and maintenances, newest first; optionally search or only open ones."""
        if unresolved_only:
            return run("incidents_unresolved", "GET", query={"page": page})
        return run("incidents", "GET", query={"q": q, "page": page})

    @server.tool()
    def get_incident(incident_id: str) -> dict[str, Any]:
        """One incident with its timeline of updates and affected components."""
        return run("incident", "GET", incident_id=incident_id)

    @server.tool()
    def declare_incident(
        name: str,
        body: str = "",
        status: str = "investigating",
        impact: str | None = None,
        components: dict[str, str] | None = None,
        component_ids: list[str] | None = None,
        deliver_notifications: bool = True,
    ) -> dict[str, Any]:
        """Declare an incident. `components` maps component id → new component status;
        `component_ids` are affected components whose status stays as it is."""
        return run(
            "incidents",
            "POST",
            {
                "name": name,
                "body": body,
                "status": status,
                "impact_override": impact,
                "components": components,
                "component_ids": component_ids,
                "deliver_notifications": deliver_notifications,
            },
        )

    @server.tool()
    def post_incident_update(
        incident_id: str,
        body: str,
        status: str | None = None,
        components: dict[str, str] | None = None,
        deliver_notifications: bool = True,
    ) -> dict[str, Any]:
        """Add an update to an incident's timeline (status left as it is when not given)."""
        return run(
            "incident",
            "PATCH",
            {
                "status": status,
                "body": body,
                "components": components,
                "deliver_notifications": deliver_notifications,
            },
            incident_id=incident_id,
        )

    @server.tool()
    def resolve_incident(
        incident_id: str, body: str = "This incident has been resolved."
    ) -> dict[str, Any]:
        """Resolve an incident; its affected components become operational."""
        return run(
            "incident", "PATCH", {"status": "resolved", "body": body}, incident_id=incident_id
        )

    @server.tool()
    def resolve_incidents(
        incident_ids: list[str], body: str = "This incident has been resolved."
    ) -> dict[str, Any]:
        """Resolve several incidents at once (all or nothing)."""
        return run("incidents_bulk_resolve", "POST", {"incident_ids": incident_ids, "body": body})

    @server.tool()
    def schedule_maintenance(
        name: str,
        scheduled_for: str,
        scheduled_until: str,
        body: str = "",
        component_ids: list[str] | None = None,
    ) -> dict[str, Any]:
        """Schedule maintenance (ISO 8601 times); its components go under maintenance during
        the window."""
        return run(
            "maintenances",
            "POST",
            {
                "name": name,
                "body": body,
                "scheduled_for": scheduled_for,
                "scheduled_until": scheduled_until,
                "component_ids": component_ids,
            },
        )

    @server.tool()
    def incident_deliveries(incident_id: str) -> dict[str, Any]:
        """Who was notified of each update of an incident: counts by status and the failures."""
        return run("incident_deliveries", "GET", incident_id=incident_id)

    @server.tool()
    def list_channels() -> dict[str, Any]:
        """Slack, Discord and webhook channels with their health (last success, last error)."""
        return run("channels", "GET")

    return server
