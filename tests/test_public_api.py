"""The /api/v2 documents (interfaces.md §1): exact keys and values, served from the snapshot."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from incidents.services import (
    incident_declare,
    incident_post_update,
    incident_resolve,
    maintenance_schedule,
    maintenance_start,
)
from statuspage.public.snapshot import snapshot_publish

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
PAGE_KEYS = {"id", "name", "url", "time_zone", "updated_at"}
COMPONENT_KEYS = {
    "id",
    "name",
    "status",
    "created_at",
    "updated_at",
    "position",
    "description",
    "showcase",
    "start_date",
    "group_id",
    "page_id",
    "group",
    "only_show_if_degraded",
}
INCIDENT_KEYS = {
    "id",
    "name",
    "status",
    "impact",
    "shortlink",
    "created_at",
    "updated_at",
    "monitoring_at",
    "resolved_at",
    "started_at",
    "page_id",
    "incident_updates",
    "components",
}
UPDATE_KEYS = {
    "id",
    "status",
    "body",
    "incident_id",
    "created_at",
    "updated_at",
    "display_at",
    "affected_components",
    "deliver_notifications",
    "custom_tweet",
    "tweet_id",
}
MAINTENANCE_KEYS = INCIDENT_KEYS | {"scheduled_for", "scheduled_until"}


@pytest.fixture(autouse=True)
def snapshot_dir(settings, tmp_path):
    settings.SNAPSHOT_DIR = tmp_path / "snapshot"
    return settings.SNAPSHOT_DIR


@pytest.fixture
def published(catalogue, actor) -> dict:
    runs_us, runs_eu, api = catalogue["runs_us"], catalogue["runs_eu"], catalogue["api_global"]
    now = timezone.now()
    old = incident_declare(
        name="Dashboard slow",
        body="Looking into it",
        actor=actor,
        impact="minor",
        component_statuses={api: "degraded_performance"},
        display_at=now - timedelta(days=3),
    )
    incident_resolve(incident=old, actor=actor, display_at=now - timedelta(days=3, hours=-2))
    open_incident = incident_declare(
        name="Runs not starting in us-east-1",
        body="We are investigating.",
        actor=actor,
        impact="critical",
        component_statuses={runs_us: "major_outage"},
        display_at=now - timedelta(hours=2),
    )
    incident_post_update(
        incident=open_incident,
        status="identified",
        body="etcd lost quorum.",
        actor=actor,
        component_statuses={},
        display_at=now - timedelta(hours=1),
    )
    upcoming = maintenance_schedule(
        name="Registry upgrade",
        body="Planned upgrade.",
        actor=actor,
        scheduled_for=now + timedelta(days=1),
        scheduled_until=now + timedelta(days=1, hours=2),
        components=[api],
    )
    active = maintenance_schedule(
        name="EU database failover test",
        body="Planned.",
        actor=actor,
        scheduled_for=now - timedelta(minutes=5),
        scheduled_until=now + timedelta(hours=1),
        components=[runs_eu],
    )
    maintenance_start(incident=active, actor=actor)
    snapshot_publish()
    return {
        "old": old,
        "open": open_incident,
        "upcoming": upcoming,
        "active": active,
        **catalogue,
    }


def get_json(client, path: str) -> dict:
    response = client.get(path)
    assert response.status_code == 200, path
    assert response["Content-Type"] == "application/json"
    return response.json()


def assert_page(page: dict, settings) -> None:
    assert set(page) == PAGE_KEYS
    assert page["id"] == settings.PAGE_ID
    assert page["name"] == settings.SITE_NAME
    assert page["url"] == settings.SITE_URL
    assert page["time_zone"] == settings.PAGE_TIME_ZONE
    assert TIMESTAMP.match(page["updated_at"])


def assert_incident(data: dict, *, maintenance: bool = False) -> None:
    assert set(data) == (MAINTENANCE_KEYS if maintenance else INCIDENT_KEYS)
    for key in ("created_at", "updated_at", "started_at"):
        assert TIMESTAMP.match(data[key]), key
    assert data["shortlink"] == f"http://testserver/incidents/{data['id']}"
    for update in data["incident_updates"]:
        assert set(update) == UPDATE_KEYS
        assert update["incident_id"] == data["id"]
        assert TIMESTAMP.match(update["display_at"])
    for component in data["components"]:
        assert set(component) == COMPONENT_KEYS


def test_summary(client, published, settings, django_assert_num_queries):
    with django_assert_num_queries(0):
        data = get_json(client, "/api/v2/summary.json")
    assert set(data) == {"page", "status", "components", "incidents", "scheduled_maintenances"}
    assert_page(data["page"], settings)
    assert data["status"] == {"indicator": "critical", "description": "Major System Outage"}
    # Only unresolved incidents; the resolved one is left out.
    assert [i["id"] for i in data["incidents"]] == [published["open"].public_id]
    # Maintenance in progress and upcoming.
    assert [m["id"] for m in data["scheduled_maintenances"]] == [
        published["active"].public_id,
        published["upcoming"].public_id,
    ]
    assert [m["status"] for m in data["scheduled_maintenances"]] == ["in_progress", "scheduled"]
    assert len(data["components"]) == 4  # a group, its two regions, a global service


def test_components(client, published, settings):
    data = get_json(client, "/api/v2/components.json")
    assert set(data) == {"page", "components"}
    runs, runs_us, runs_eu, api = (
        published["runs"],
        published["runs_us"],
        published["runs_eu"],
        published["api_global"],
    )
    group, us, eu, api_json = data["components"]
    assert set(group) == COMPONENT_KEYS | {"components"}
    assert group["id"] == runs.public_id
    assert group["group"] is True
    assert group["components"] == [runs_us.public_id, runs_eu.public_id]
    assert group["status"] == "major_outage"  # its worst child
    assert set(us) == COMPONENT_KEYS
    assert us == {
        **us,
        "id": runs_us.public_id,
        "name": "Run execution (us-east-1)",
        "status": "major_outage",
        "group_id": runs.public_id,
        "page_id": settings.PAGE_ID,
        "group": False,
        "showcase": True,
        "only_show_if_degraded": False,
        "start_date": None,
        "description": None,
    }
    assert TIMESTAMP.match(us["created_at"]) and TIMESTAMP.match(us["updated_at"])
    assert (eu["id"], eu["status"], eu["group_id"]) == (
        runs_eu.public_id,
        "under_maintenance",
        runs.public_id,
    )
    assert (api_json["id"], api_json["name"], api_json["group_id"], api_json["status"]) == (
        api.public_id,
        "API",
        None,
        "operational",
    )


def test_status(client, published, settings):
    data = get_json(client, "/api/v2/status.json")
    assert set(data) == {"page", "status"}
    assert_page(data["page"], settings)
    assert data["status"] == {"indicator": "critical", "description": "Major System Outage"}


def test_unresolved_incidents_with_updates_and_affected_components(client, published):
    data = get_json(client, "/api/v2/incidents/unresolved.json")
    assert set(data) == {"page", "incidents"}
    (incident,) = data["incidents"]
    assert_incident(incident)
    runs_us = published["runs_us"]
    assert incident["id"] == published["open"].public_id
    assert (incident["name"], incident["status"], incident["impact"]) == (
        "Runs not starting in us-east-1",
        "identified",
        "critical",
    )
    assert incident["resolved_at"] is None and incident["monitoring_at"] is None
    assert [c["id"] for c in incident["components"]] == [runs_us.public_id]
    latest, first = incident["incident_updates"]  # newest first
    assert (latest["status"], latest["body"], latest["affected_components"]) == (
        "identified",
        "etcd lost quorum.",
        None,
    )
    assert first["status"] == "investigating"
    assert first["affected_components"] == [
        {
            "code": runs_us.public_id,
            "name": "Run execution (us-east-1)",
            "old_status": "operational",
            "new_status": "major_outage",
        }
    ]
    assert first["deliver_notifications"] is True
    assert first["custom_tweet"] is None and first["tweet_id"] is None


def test_incidents_lists_recent_including_resolved(client, published):
    data = get_json(client, "/api/v2/incidents.json")
    assert set(data) == {"page", "incidents"}
    assert [i["id"] for i in data["incidents"]] == [
        published["open"].public_id,
        published["old"].public_id,
    ]
    resolved = data["incidents"][1]
    assert_incident(resolved)
    assert resolved["status"] == "resolved"
    assert TIMESTAMP.match(resolved["resolved_at"])
    assert resolved["incident_updates"][0]["affected_components"] == [
        {
            "code": published["api_global"].public_id,
            "name": "API",
            "old_status": "degraded_performance",
            "new_status": "operational",
        }
    ]


def test_scheduled_maintenances_all_upcoming_active(client, published):
    everything = get_json(client, "/api/v2/scheduled-maintenances.json")
    upcoming = get_json(client, "/api/v2/scheduled-maintenances/upcoming.json")
    active = get_json(client, "/api/v2/scheduled-maintenances/active.json")
    for data in (everything, upcoming, active):
        assert set(data) == {"page", "scheduled_maintenances"}
        for item in data["scheduled_maintenances"]:
            assert_incident(item, maintenance=True)
            assert item["impact"] == "maintenance"
            assert TIMESTAMP.match(item["scheduled_for"])
            assert TIMESTAMP.match(item["scheduled_until"])
    assert {m["id"] for m in everything["scheduled_maintenances"]} == {
        published["upcoming"].public_id,
        published["active"].public_id,
    }
    assert [(m["id"], m["status"]) for m in upcoming["scheduled_maintenances"]] == [
        (published["upcoming"].public_id, "scheduled")
    ]
    assert [(m["id"], m["status"]) for m in active["scheduled_maintenances"]] == [
        (published["active"].public_id, "in_progress")
    ]
    started = active["scheduled_maintenances"][0]["incident_updates"][0]
    assert started["affected_components"] == [
        {
            "code": published["runs_eu"].public_id,
            "name": "Run execution (eu-central-1)",
            "old_status": "operational",
            "new_status": "under_maintenance",
        }
    ]


def test_incidents_json_keeps_the_fifty_most_recent(client, catalogue, actor):
    now = timezone.now()
    for n in range(52):
        incident_declare(
            name=f"Incident {n}",
            body="x",
            actor=actor,
            status="resolved",
            deliver_notifications=False,
            display_at=now - timedelta(hours=52 - n),
        )
    snapshot_publish()
    data = get_json(client, "/api/v2/incidents.json")
    assert len(data["incidents"]) == 50
    assert data["incidents"][0]["name"] == "Incident 51"
    assert data["incidents"][-1]["name"] == "Incident 2"
    assert get_json(client, "/api/v2/incidents/unresolved.json")["incidents"] == []
