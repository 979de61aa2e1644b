"""Bulk actions: all or nothing."""

from __future__ import annotations

from api_helpers import BASE

from incidents.models import Incident, IncidentUpdate
from incidents.services import incident_declare, incident_resolve
from statuspage.models import AuditEntry, Component, ComponentStatusChange


def statuses() -> dict[str, str]:
    return dict(Component.objects.values_list("public_id", "status"))


def test_everything_in_a_region_to_major_outage(api, catalogue):
    response = api(
        "POST",
        "components/bulk-status.json",
        json_body={"region": "us-east-1", "status": "major_outage", "reason": "AZ down"},
    )
    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["matched"], data["changed"]) == (1, 1)
    assert statuses()[catalogue["runs_us"].public_id] == "major_outage"
    assert statuses()[catalogue["runs_eu"].public_id] == "operational"
    assert AuditEntry.objects.filter(
        action="component.bulk_set_status", actor_name="api:deploy-bot"
    ).exists()


def test_by_service_and_by_ids_form_encoded(api, catalogue):
    response = api(
        "POST",
        "components/bulk-status",
        form={"bulk[service]": "run-execution", "bulk[status]": "degraded_performance"},
    )
    assert response.json()["changed"] == 2
    response = api(
        "POST",
        "components/bulk-status",
        form=[
            ("bulk[component_ids][]", catalogue["runs_us"].public_id),
            ("bulk[component_ids][]", catalogue["api_global"].public_id),
            ("bulk[status]", "partial_outage"),
        ],
    )
    assert response.json()["changed"] == 2
    assert statuses() == {
        catalogue["runs_us"].public_id: "partial_outage",
        catalogue["runs_eu"].public_id: "degraded_performance",
        catalogue["api_global"].public_id: "partial_outage",
    }


def test_bulk_status_all_or_nothing(api, catalogue):
    before = statuses()
    unknown = api(
        "POST",
        "components/bulk-status",
        json_body={
            "component_ids": [catalogue["runs_us"].public_id, "nope"],
            "status": "major_outage",
        },
    )
    assert unknown.status_code == 422
    assert unknown.json()["message"] == "component_ids: unknown component nope."
    bad_status = api(
        "POST", "components/bulk-status", json_body={"region": "us-east-1", "status": "down"}
    )
    assert bad_status.status_code == 422 and bad_status.json()["message"].startswith("status:")
    bad_region = api(
        "POST", "components/bulk-status", json_body={"region": "mars", "status": "major_outage"}
    )
    assert bad_region.status_code == 422 and bad_region.json()["message"].startswith("region:")
    nothing = api("POST", "components/bulk-status", json_body={"status": "major_outage"})
    assert nothing.status_code == 422
    assert statuses() == before
    assert not ComponentStatusChange.objects.exists()


def test_bulk_status_rolls_back_when_a_later_change_fails(api, catalogue, monkeypatch):
    """A failure in the middle of the writes undoes the earlier ones (one transaction)."""
    from django.db import connection

    before = statuses()
    # Make the second component's history insert fail at the database, as a lost row lock or
    # a constraint would: the first component's change must be rolled back with it.
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "ALTER TABLE statuspage_componentstatuschange ADD CONSTRAINT no_eu "
                f"CHECK (component_id <> {catalogue['runs_eu'].pk})"
            )
        else:
            cursor.execute(
                "CREATE TRIGGER no_eu BEFORE INSERT ON statuspage_componentstatuschange "
                f"WHEN NEW.component_id = {catalogue['runs_eu'].pk} "
                "BEGIN SELECT RAISE(ABORT, 'no eu'); END"
            )
    response = api(
        "POST",
        "components/bulk-status",
        json_body={"service": "run-execution", "status": "major_outage"},
    )
    assert response.status_code == 500
    assert statuses() == before
    assert not ComponentStatusChange.objects.exists()


def test_resolve_several_incidents(api, catalogue, actor):
    one = incident_declare(
        name="One", body="b", actor=actor, component_statuses={catalogue["runs_us"]: "major_outage"}
    )
    two = incident_declare(name="Two", body="b", actor=actor)
    response = api(
        "POST",
        f"{BASE}/incidents/bulk-resolve.json",
        json_body={"incident_ids": [one.public_id, two.public_id], "body": "All clear."},
    )
    assert response.status_code == 200, response.content
    assert {i["status"] for i in response.json()} == {"resolved"}
    assert Component.objects.get(pk=catalogue["runs_us"].pk).status == "operational"
    assert IncidentUpdate.objects.filter(body="All clear.").count() == 2


def test_resolve_several_all_or_nothing(api, catalogue, actor):
    one = incident_declare(name="One", body="b", actor=actor)
    closed = incident_declare(name="Closed", body="b", actor=actor)
    incident_resolve(incident=closed, actor=actor)
    response = api(
        "POST",
        "incidents/bulk-resolve",
        json_body={"bulk": {"incident_ids": [one.public_id, closed.public_id]}},
    )
    assert response.status_code == 422
    assert closed.public_id in response.json()["message"]
    one.refresh_from_db()
    assert one.status == "investigating" and one.updates.count() == 1
    unknown = api("POST", "incidents/bulk-resolve", json_body={"incident_ids": ["nope"]})
    assert unknown.status_code == 422
    assert unknown.json()["message"].startswith("incident_ids:")


def test_post_one_update_to_several(api, catalogue, actor):
    one = incident_declare(name="One", body="b", actor=actor)
    two = incident_declare(name="Two", body="b", actor=actor)
    response = api(
        "POST",
        "incidents/bulk-update",
        form=[
            ("bulk[incident_ids][]", one.public_id),
            ("bulk[incident_ids][]", two.public_id),
            ("bulk[status]", "identified"),
            ("bulk[body]", "Root cause found: a bad deploy."),
        ],
    )
    assert response.status_code == 200, response.content
    assert set(Incident.objects.values_list("status", flat=True)) == {"identified"}
    bad = api(
        "POST",
        "incidents/bulk-update",
        json_body={"incident_ids": [one.public_id, two.public_id], "status": "exploded"},
    )
    assert bad.status_code == 422 and bad.json()["message"].startswith("status:")
    assert IncidentUpdate.objects.count() == 4
