"""The open, upcoming and active lists are ONE definition (incidents.selectors), so v1, /api/v2
and the page agree, including for a maintenance whose window has begun but which nobody (and
no beat) has started yet: it is still to come, only late."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from incidents.services import (
    incident_declare,
    incident_resolve,
    maintenance_schedule,
    maintenance_start,
)
from statuspage.public.snapshot import snapshot_publish


@pytest.fixture
def lists(catalogue, actor) -> dict:
    now = timezone.now()

    def maintenance(name: str, starts: timedelta, *, auto: bool = True):
        return maintenance_schedule(
            name=name,
            body="Planned work.",
            actor=actor,
            scheduled_for=now + starts,
            scheduled_until=now + starts + timedelta(hours=4),
            components=[catalogue["runs_eu"]],
            auto_in_progress=auto,
        )

    late = maintenance("Registry upgrade (late)", -timedelta(hours=1), auto=False)
    later = maintenance("Database failover drill", timedelta(days=2))
    soon = maintenance("Certificate rotation", timedelta(days=1))
    # Started in the opposite order of their windows: newest-first and by-window disagree.
    early_window = maintenance("Network maintenance", -timedelta(hours=3))
    late_window = maintenance("Storage maintenance", -timedelta(hours=2))
    maintenance_start(incident=late_window, actor=actor)
    maintenance_start(incident=early_window, actor=actor)
    first = incident_declare(name="Runs slow", body="Looking.", actor=actor)
    second = incident_declare(name="Webhooks delayed", body="Looking.", actor=actor)
    closed = incident_declare(name="Login errors", body="Looking.", actor=actor)
    incident_resolve(incident=closed, actor=actor)
    return {
        "upcoming": [late, soon, later],
        "active": [early_window, late_window],
        "open": [second, first],
    }


def _v1_ids(api, path: str) -> list[str]:
    response = api("GET", path)
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()]


def _v2_ids(client, path: str, key: str) -> list[str]:
    response = client.get(path)
    assert response.status_code == 200, path
    return [item["id"] for item in response.json()[key]]


def test_v1_v2_and_the_page_list_the_same_upcoming_active_and_open(api, client, lists):
    snapshot_publish()
    upcoming = [m.public_id for m in lists["upcoming"]]
    active = [m.public_id for m in lists["active"]]
    open_ = [i.public_id for i in lists["open"]]

    v2_upcoming = _v2_ids(
        client, "/api/v2/scheduled-maintenances/upcoming.json", "scheduled_maintenances"
    )
    assert v2_upcoming == upcoming
    assert _v1_ids(api, "incidents/upcoming") == upcoming
    assert _v1_ids(api, "incidents/scheduled") == upcoming

    v2_active = _v2_ids(
        client, "/api/v2/scheduled-maintenances/active.json", "scheduled_maintenances"
    )
    assert v2_active == active
    assert _v1_ids(api, "incidents/active_maintenance") == active

    assert _v2_ids(client, "/api/v2/incidents/unresolved.json", "incidents") == open_
    assert _v1_ids(api, "incidents/unresolved") == open_

    page = client.get("/").content.decode()
    upcoming_section = page.split('id="upcoming-maintenance"', 1)[1]
    assert "Registry upgrade (late)" in upcoming_section
    names = ["Registry upgrade (late)", "Certificate rotation", "Database failover drill"]
    assert sorted(names, key=upcoming_section.index) == names
