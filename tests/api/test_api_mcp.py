"""The MCP server: the same actions, tokens and scopes as the HTTP API, through the real MCP
protocol (in-process client, and the `manage.py mcp_server` stdio command)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from mcp import Client
from mcp.client.stdio import StdioServerParameters

from incidents.models import Incident
from statuspage.api.mcp_server import build_server
from statuspage.models import AuditEntry, Component

ROOT = Path(__file__).resolve().parents[2]


def call(server, name: str, arguments: dict | None = None):
    async def go():
        async with Client(server) as client:
            return await client.call_tool(name, arguments or {})

    return asyncio.run(go())


def payload(result) -> dict:
    assert not result.is_error, result.content
    return json.loads(result.content[0].text)


def test_assistant_declares_and_resolves(transactional_db, catalogue, make_token):
    server = build_server(make_token("assistant"))
    runs_us = catalogue["runs_us"].public_id
    incident = payload(
        call(
            server,
            "declare_incident",
            {
                "name": "Runs not starting",
                "body": "Investigating.",
                "components": {runs_us: "major_outage"},
            },
        )
    )
    assert incident["impact"] == "critical"
    assert Component.objects.get(public_id=runs_us).status == "major_outage"
    listed = payload(call(server, "list_incidents", {"unresolved_only": True}))
    assert [i["id"] for i in listed["items"]] == [incident["id"]]
    payload(
        call(
            server,
            "post_incident_update",
            {"incident_id": incident["id"], "body": "Found it.", "status": "identified"},
        )
    )
    resolved = payload(call(server, "resolve_incident", {"incident_id": incident["id"]}))
    assert resolved["status"] == "resolved"
    assert Component.objects.get(public_id=runs_us).status == "operational"
    assert AuditEntry.objects.filter(actor_name="api:assistant", action="incident.declare").exists()
    status = payload(call(server, "get_page_status"))
    assert status["status_indicator"] == "none"
    deliveries = payload(call(server, "incident_deliveries", {"incident_id": incident["id"]}))
    assert [u["status"] for u in deliveries["incident_updates"]] == [
        "investigating",
        "identified",
        "resolved",
    ]


def test_assistant_bulk_sets_a_region(transactional_db, catalogue, make_token):
    server = build_server(make_token("assistant"))
    result = payload(
        call(
            server,
            "bulk_set_component_status",
            {"region": "eu-central-1", "status": "partial_outage"},
        )
    )
    assert result["changed"] == 1
    assert Component.objects.get(pk=catalogue["runs_eu"].pk).status == "partial_outage"


def test_scopes_and_validation_apply(transactional_db, catalogue, make_token):
    reader = build_server(make_token("reader", ["read"]))
    components = payload(call(reader, "list_components"))
    assert len(components["items"]) == 4
    refused = call(reader, "declare_incident", {"name": "x"})
    assert refused.is_error
    assert "403" in refused.content[0].text and "incidents" in refused.content[0].text
    writer = build_server(make_token("writer"))
    bad = call(
        writer,
        "set_component_status",
        {"component_id": catalogue["runs_us"].public_id, "status": "down"},
    )
    assert bad.is_error and "422: status:" in bad.content[0].text
    assert not Incident.objects.exists()


def test_revoked_or_missing_token_is_refused(transactional_db, catalogue):
    result = call(build_server("hg_unknown"), "list_regions")
    assert result.is_error and "401" in result.content[0].text


def test_stdio_command_lists_the_tools():
    params = StdioServerParameters(
        command=sys.executable,
        args=[str(ROOT / "manage.py"), "mcp_server", "--token", "hg_listing-needs-no-db"],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "statuspage.conf.settings_test"},
        cwd=str(ROOT),
    )

    async def go():
        async with Client(params) as client:
            return await client.list_tools()

    tools = {t.name for t in asyncio.run(go()).tools}
    assert {
        "declare_incident",
        "post_incident_update",
        "resolve_incident",
        "resolve_incidents",
        "set_component_status",
        "bulk_set_component_status",
        "schedule_maintenance",
        "list_components",
        "get_page_status",
        "incident_deliveries",
        "list_channels",
    } <= tools


def test_the_assistant_gets_the_same_refusal_of_nul_and_impossible_times(
    transactional_db, catalogue, make_token
):
    """The checks of any body (check_values) run for the MCP server's arguments too."""
    writer = build_server(make_token("writer"))
    nul = call(writer, "declare_incident", {"name": "Runs\x00down", "body": "x"})
    assert nul.is_error and "422: name: contains a NUL character" in nul.content[0].text
    window = call(
        writer,
        "schedule_maintenance",
        {
            "name": "Disk move",
            "body": "x",
            "scheduled_for": "2027-02-30T10:00:00Z",
            "scheduled_until": "2027-03-01T10:00:00Z",
        },
    )
    assert window.is_error and "422: scheduled_for:" in window.content[0].text
    assert not Incident.objects.exists()
