"""The issue's "done when": a script written for the Statuspage v1 API, using a published
client library (crunch-statuspageio, `import statuspageio`, written independently of us),
with only the base URL and key changed, declares, updates and resolves an incident here."""

from __future__ import annotations

import pytest
import statuspageio
from django.conf import settings
from statuspageio.errors import RequestError, ResourceError

from incidents.models import Incident
from statuspage.models import AuditEntry, Component


@pytest.fixture
def v1(transactional_db, live_server, token) -> statuspageio.Client:
    return statuspageio.Client(api_key=token, page_id=settings.PAGE_ID, base_url=live_server.url)


def test_client_declares_updates_and_resolves_an_incident(v1, catalogue):
    assert v1.pages.get().id == settings.PAGE_ID
    components = {c.name: c for c in v1.components.list()}
    runs_us = components["Run execution (us-east-1)"]
    assert runs_us.status == "operational"
    assert components["Run execution"].group is True

    # The script's usual flow: mark the component, open the incident, update, resolve.
    v1.components.update(runs_us.id, status="major_outage")
    incident = v1.incidents.create(
        name="Runs not starting in us-east-1",
        status="investigating",
        body="We are investigating runs that do not start.",
        component_ids=[runs_us.id],
        impact_override="critical",
    )
    assert incident.status == "investigating" and incident.impact == "critical"
    assert [c.id for c in incident.components] == [runs_us.id]
    assert [i.id for i in v1.incidents.list_unresolved()] == [incident.id]

    updated = v1.incidents.update(
        incident.id, status="identified", body="A bad deploy; rolling back."
    )
    assert updated.status == "identified"
    assert len(updated.incident_updates) == 2

    first_update = updated.incident_updates[-1]
    v1.incidents.update_previous(
        incident.id, first_update.id, body="We are investigating runs that don't start."
    )

    resolved = v1.incidents.update(incident.id, status="resolved", body="Runs start again.")
    assert resolved.status == "resolved" and resolved.resolved_at
    assert [u.status for u in resolved.incident_updates] == [
        "resolved",
        "identified",
        "investigating",
    ]
    assert resolved.incident_updates[-1].body == "We are investigating runs that don't start."
    assert v1.incidents.list_unresolved() == []
    assert [i.id for i in v1.incidents.list(q="us-east-1")] == [incident.id]

    # Resolving gave the affected component back, as resolving in the console does.
    assert Component.objects.get(public_id=runs_us.id).status == "operational"
    assert Incident.objects.get(public_id=incident.id).status == "resolved"
    actors = set(AuditEntry.objects.values_list("actor_name", flat=True))
    assert "api:deploy-bot" in actors


def test_client_sees_validation_and_auth_errors(v1, live_server, catalogue):
    with pytest.raises(ResourceError) as excinfo:
        v1.incidents.create(name="", body="x")
    assert excinfo.value.http_status == 422
    assert excinfo.value.errors["message"].startswith("name:")
    bad = statuspageio.Client(
        api_key="hg_wrong", page_id=settings.PAGE_ID, base_url=live_server.url
    )
    with pytest.raises(RequestError) as excinfo:
        bad.components.list()
    assert excinfo.value.http_status == 401
    assert not Incident.objects.exists()


def test_client_manages_components_and_scheduled_maintenance(v1, catalogue):
    created = v1.components.create(name="Dashboard", description="The web app")
    assert created.name == "Dashboard" and created.status == "operational"
    changed = v1.components.update(created.id, status="degraded_performance")
    assert changed.status == "degraded_performance"
    assert v1.components.get(created.id).description == "The web app"
    maintenance = v1.incidents.create_scheduled(
        name="Database upgrade",
        status="scheduled",
        body="Planned downtime.",
        scheduled_for="2099-03-01T10:00:00Z",
        scheduled_until="2099-03-01T11:00:00Z",
        component_ids=[created.id],
    )
    assert maintenance.scheduled_for == "2099-03-01T10:00:00.000Z"
    assert [m.id for m in v1.incidents.list_upcoming()] == [maintenance.id]
    assert [m.id for m in v1.incidents.list_scheduled()] == [maintenance.id]
    assert v1.incidents.list_active_maintenance() == []
    assert v1.incidents.delete(maintenance.id) == 204
    assert [g.id for g in v1.component_groups.list()] == [catalogue["runs"].public_id]
