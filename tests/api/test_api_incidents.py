"""Incidents through the v1 API: declare, list, update, resolve, edit updates, delete,
maintenance and postmortems — JSON and form-encoded, with the errors of bad input."""

from __future__ import annotations

from api_helpers import BASE

from incidents.models import Incident, IncidentUpdate
from statuspage.models import AuditEntry, Component, ComponentStatusChange


def declare(api, catalogue, **fields) -> dict:
    body = {
        "name": "Runs not starting in us-east-1",
        "status": "investigating",
        "body": "We are looking into it.",
        "components": {catalogue["runs_us"].public_id: "major_outage"},
        **fields,
    }
    response = api("POST", "incidents.json", json_body={"incident": body})
    assert response.status_code == 201, response.content
    return response.json()


def test_declare_with_json_sets_component_statuses(api, catalogue):
    data = declare(api, catalogue)
    assert data["name"] == "Runs not starting in us-east-1"
    assert data["status"] == "investigating"
    assert data["impact"] == "critical"  # derived from major_outage
    assert data["page_id"] == "heliograph"
    [update] = data["incident_updates"]
    assert update["body"] == "We are looking into it."
    assert update["affected_components"] == [
        {
            "code": catalogue["runs_us"].public_id,
            "name": "Run execution (us-east-1)",
            "old_status": "operational",
            "new_status": "major_outage",
        }
    ]
    assert Component.objects.get(pk=catalogue["runs_us"].pk).status == "major_outage"
    audit = AuditEntry.objects.get(action="incident.declare")
    assert audit.actor_name == "api:deploy-bot"
    change = ComponentStatusChange.objects.get(component=catalogue["runs_us"])
    assert change.actor_name == "api:deploy-bot"


def test_declare_form_encoded_with_nested_fields(api, catalogue):
    runs_eu = catalogue["runs_eu"].public_id
    api_global = catalogue["api_global"].public_id
    response = api(
        "POST",
        "incidents",
        form=[
            ("incident[name]", "API errors"),
            ("incident[status]", "identified"),
            ("incident[impact_override]", "minor"),
            ("incident[body]", "Elevated 5xx."),
            (f"incident[components][{runs_eu}]", "degraded_performance"),
            ("incident[component_ids][]", api_global),
            ("incident[deliver_notifications]", "false"),
        ],
    )
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["status"], data["impact"]) == ("identified", "minor")
    assert {c["id"] for c in data["components"]} == {runs_eu, api_global}
    assert data["incident_updates"][0]["deliver_notifications"] is False
    assert Component.objects.get(public_id=runs_eu).status == "degraded_performance"
    assert Component.objects.get(public_id=api_global).status == "operational"


def test_patch_status_adds_update_and_resolve_restores_components(api, catalogue):
    incident = declare(api, catalogue)
    url = f"incidents/{incident['id']}.json"
    response = api(
        "PATCH", url, json_body={"incident": {"status": "monitoring", "body": "Fix deployed."}}
    )
    assert response.status_code == 200
    data = response.json()
    assert data["status"] == "monitoring" and data["monitoring_at"]
    assert [u["status"] for u in data["incident_updates"]] == ["monitoring", "investigating"]
    response = api("PATCH", url, form={"incident[status]": "resolved", "incident[body]": "Done."})
    data = response.json()
    assert data["status"] == "resolved" and data["resolved_at"]
    assert data["incident_updates"][0]["affected_components"][0]["new_status"] == "operational"
    assert Component.objects.get(pk=catalogue["runs_us"].pk).status == "operational"
    # A closed incident takes no more updates: 422 naming the field, nothing written.
    response = api("PATCH", url, json_body={"incident": {"status": "investigating", "body": "x"}})
    assert response.status_code == 422
    assert response.json()["message"].startswith("status:")
    assert IncidentUpdate.objects.count() == 3


def test_patch_name_and_impact_does_not_add_update(api, catalogue):
    incident = declare(api, catalogue)
    response = api(
        "PUT",
        f"incidents/{incident['id']}",
        json_body={"incident": {"name": "Runs delayed", "impact_override": "major"}},
    )
    assert response.status_code == 200
    data = response.json()
    assert (data["name"], data["impact"]) == ("Runs delayed", "major")
    alias = api("PATCH", f"incidents/{incident['id']}", form={"incident[impact]": "minor"})
    assert alias.json()["impact"] == "minor"  # `impact` is taken as impact_override
    assert len(data["incident_updates"]) == 1


def test_patch_components_map_changes_status_in_an_update(api, catalogue):
    incident = declare(api, catalogue)
    response = api(
        "PATCH",
        f"incidents/{incident['id']}",
        json_body={
            "incident": {
                "body": "Recovering.",
                "components": {catalogue["runs_us"].public_id: "partial_outage"},
            }
        },
    )
    data = response.json()
    assert data["status"] == "investigating"
    assert data["incident_updates"][0]["affected_components"][0]["new_status"] == "partial_outage"


def test_edit_incident_update(api, catalogue):
    incident = declare(api, catalogue)
    update_id = incident["incident_updates"][0]["id"]
    response = api(
        "PATCH",
        f"incidents/{incident['id']}/incident_updates/{update_id}",
        json_body={"incident_update": {"body": "We are looking into it (typo fixed)."}},
    )
    assert response.status_code == 200
    assert response.json()["body"] == "We are looking into it (typo fixed)."
    assert IncidentUpdate.objects.get(public_id=update_id).body.endswith("(typo fixed).")
    missing = api(
        "PATCH",
        f"incidents/{incident['id']}/incident_updates/nope",
        json_body={"incident_update": {"body": "x"}},
    )
    assert missing.status_code == 404


def test_delete_incident(api, catalogue):
    incident = declare(api, catalogue)
    response = api("DELETE", f"incidents/{incident['id']}.json")
    assert response.status_code == 204 and response.content == b""
    assert api("GET", f"incidents/{incident['id']}").status_code == 404
    assert AuditEntry.objects.filter(action="incident.delete", actor_name="api:deploy-bot").exists()


def test_list_search_limit_and_page(api, catalogue):
    for n in range(3):
        declare(api, catalogue, name=f"Incident {n}", components={})
    declare(api, catalogue, name="Queue backlog", components={})
    response = api("GET", f"{BASE}/incidents.json?q=incident&limit=2&page=1")
    assert response.status_code == 200
    assert [i["name"] for i in response.json()] == ["Incident 2", "Incident 1"]
    assert response["X-Total-Count"] == "3"
    assert 'rel="next"' in response["Link"]
    page2 = api("GET", f"{BASE}/incidents?q=incident&limit=2&page=2").json()
    assert [i["name"] for i in page2] == ["Incident 0"]
    assert api("GET", f"{BASE}/incidents?limit=101").status_code == 422


def test_unresolved_list(api, catalogue):
    open_one = declare(api, catalogue, name="Open", components={})
    closed = declare(api, catalogue, name="Closed", components={})
    api("PATCH", f"incidents/{closed['id']}", json_body={"incident": {"status": "resolved"}})
    data = api("GET", "incidents/unresolved.json").json()
    assert [i["id"] for i in data] == [open_one["id"]]


def test_bad_input_names_the_field_and_writes_nothing(api, catalogue):
    cases = [
        ({"incident": {"body": "no name"}}, "name"),
        ({"incident": {"name": "x" * 256}}, "name"),
        ({"incident": {"name": "x", "body": "b" * 25001}}, "body"),
        ({"incident": {"name": "x", "status": "on_fire"}}, "status"),
        ({"incident": {"name": "x", "impact_override": "huge"}}, "impact_override"),
        ({"incident": {"name": "x", "components": {"nope": "major_outage"}}}, "components"),
        (
            {"incident": {"name": "x", "components": {catalogue["api_global"].public_id: "down"}}},
            "components",
        ),
        ({"incident": {"name": "x", "component_ids": ["nope"]}}, "component_ids"),
        ({"incident": {"name": "x", "scheduled_for": "tomorrow"}}, "scheduled_for"),
    ]
    for body, field in cases:
        response = api("POST", "incidents", json_body=body)
        assert response.status_code == 422, (body, response.content)
        message = response.json()["message"]
        assert message.startswith(f"{field}:"), (body, message)
    assert not Incident.objects.exists()
    assert Component.objects.exclude(status="operational").count() == 0


def test_malformed_json_is_400(api, catalogue):
    response = api("POST", "incidents", raw='{"incident": {"name": ')
    assert response.status_code == 400
    assert response.json()["message"].startswith("Malformed JSON")
    assert not Incident.objects.exists()


def test_unknown_fields_are_ignored(api, catalogue):
    data = declare(api, catalogue, wants_twitter_update=True, metadata={"x": 1}, nonsense="y")
    assert data["status"] == "investigating"


def test_unknown_incident_is_404(api, catalogue):
    response = api("GET", "incidents/doesnotexist")
    assert response.status_code == 404
    assert response.json() == {"message": "Unknown incident: doesnotexist"}


def test_schedule_maintenance_and_move_it_on(api, catalogue):
    runs_us = catalogue["runs_us"].public_id
    response = api(
        "POST",
        "incidents",
        json_body={
            "incident": {
                "name": "Database upgrade",
                "body": "Planned.",
                "scheduled_for": "2099-01-01T10:00:00Z",
                "scheduled_until": "2099-01-01T12:00:00Z",
                "component_ids": [runs_us],
            }
        },
    )
    assert response.status_code == 201, response.content
    maintenance = response.json()
    assert maintenance["status"] == "scheduled"
    assert maintenance["scheduled_for"] == "2099-01-01T10:00:00.000Z"
    assert [m["id"] for m in api("GET", "incidents/upcoming").json()] == [maintenance["id"]]
    assert [m["id"] for m in api("GET", "incidents/scheduled").json()] == [maintenance["id"]]
    assert [m["id"] for m in api("GET", "scheduled-maintenances?status=scheduled").json()] == [
        maintenance["id"]
    ]
    response = api(
        "PATCH",
        f"scheduled-maintenances/{maintenance['id']}",
        json_body={"scheduled_maintenance": {"status": "in_progress", "body": "Started."}},
    )
    assert response.status_code == 200, response.content
    assert Component.objects.get(public_id=runs_us).status == "under_maintenance"
    assert [m["id"] for m in api("GET", "incidents/active_maintenance").json()] == [
        maintenance["id"]
    ]
    api(
        "PATCH",
        f"scheduled-maintenances/{maintenance['id']}",
        json_body={"scheduled_maintenance": {"status": "completed", "body": "Done."}},
    )
    assert Component.objects.get(public_id=runs_us).status == "operational"


def test_it_reschedules_a_maintenance_with_a_patch_and_its_calendar_sequence_goes_up(
    api, catalogue
):
    created = api(
        "POST",
        "scheduled-maintenances",
        json_body={
            "scheduled_maintenance": {
                "name": "Database upgrade",
                "scheduled_for": "2099-01-01T10:00:00Z",
                "scheduled_until": "2099-01-01T12:00:00Z",
            }
        },
    ).json()
    before = Incident.objects.get(public_id=created["id"]).sequence
    response = api(
        "PATCH",
        f"scheduled-maintenances/{created['id']}",
        json_body={
            "scheduled_maintenance": {
                "scheduled_for": "2099-01-08T10:00:00Z",
                "scheduled_until": "2099-01-08T13:00:00Z",
            }
        },
    )
    assert response.status_code == 200, response.content
    assert response.json()["scheduled_for"] == "2099-01-08T10:00:00.000Z"
    assert response.json()["scheduled_until"] == "2099-01-08T13:00:00.000Z"
    moved = Incident.objects.get(public_id=created["id"])
    assert moved.sequence > before
    # A window that ends before it starts is refused, and nothing moves.
    response = api(
        "PATCH",
        f"scheduled-maintenances/{created['id']}",
        json_body={"scheduled_maintenance": {"scheduled_until": "2099-01-02T00:00:00Z"}},
    )
    assert response.status_code == 422
    assert Incident.objects.get(public_id=created["id"]).scheduled_until == moved.scheduled_until


def test_maintenance_endpoint_requires_window(api, catalogue):
    response = api(
        "POST", "scheduled-maintenances", json_body={"scheduled_maintenance": {"name": "x"}}
    )
    assert response.status_code == 422
    assert response.json()["message"].startswith("scheduled_for:")
    response = api(
        "POST",
        "scheduled-maintenances",
        json_body={
            "scheduled_maintenance": {
                "name": "x",
                "scheduled_for": "2099-01-01T12:00:00Z",
                "scheduled_until": "2099-01-01T10:00:00Z",
            }
        },
    )
    assert response.status_code == 422
    assert response.json()["message"].startswith("scheduled_until:")
    assert not Incident.objects.exists()


def test_postmortem(api, catalogue):
    incident = declare(api, catalogue)
    url = f"incidents/{incident['id']}/postmortem"
    early = api("PUT", url, json_body={"postmortem": {"body": "Root cause."}})
    assert early.status_code == 422  # not resolved yet
    assert api("GET", url).status_code == 404
    api("PATCH", f"incidents/{incident['id']}", json_body={"incident": {"status": "resolved"}})
    response = api("PUT", url, json_body={"postmortem": {"body_draft": "## Root cause\nDisk."}})
    assert response.status_code == 200, response.content
    assert "<h2>Root cause</h2>" in response.json()["body_html"]
    assert api("GET", url).json()["body"] == "## Root cause\nDisk."
    assert api("GET", f"incidents/{incident['id']}").json()["status"] == "postmortem"


def test_scheduled_maintenance_endpoint(api, catalogue):
    runs_eu = catalogue["runs_eu"].public_id
    response = api(
        "POST",
        "scheduled-maintenances.json",
        form={
            "scheduled_maintenance[name]": "Network upgrade",
            "scheduled_maintenance[body]": "Brief blips expected.",
            "scheduled_maintenance[scheduled_for]": "2099-05-01T01:00:00Z",
            "scheduled_maintenance[scheduled_until]": "2099-05-01T03:00:00Z",
            "scheduled_maintenance[component_ids][]": runs_eu,
            "scheduled_maintenance[scheduled_auto_completed]": "false",
        },
    )
    assert response.status_code == 201, response.content
    created = response.json()
    fetched = api("GET", f"scheduled-maintenances/{created['id']}").json()
    assert fetched["scheduled_until"] == "2099-05-01T03:00:00.000Z"
    assert [c["id"] for c in fetched["components"]] == [runs_eu]
    assert Incident.objects.get(public_id=created["id"]).scheduled_auto_completed is False
    # An incident is not a maintenance.
    incident = declare(api, catalogue, components={})
    assert api("GET", f"scheduled-maintenances/{incident['id']}").status_code == 404


def test_put_update_and_component(api, catalogue):
    incident = declare(api, catalogue)
    update_id = incident["incident_updates"][0]["id"]
    response = api(
        "PUT",
        f"incidents/{incident['id']}/incident_updates/{update_id}.json",
        form={"incident_update[deliver_notifications]": "false"},
    )
    assert response.status_code == 200
    assert response.json()["deliver_notifications"] is False
    component = catalogue["runs_eu"].public_id
    response = api(
        "PUT", f"components/{component}", json_body={"component": {"status": "partial_outage"}}
    )
    assert response.json()["status"] == "partial_outage"


def test_idempotency_key_makes_a_retried_post_safe(api, catalogue):
    body = {"incident": {"name": "Retried", "body": "Once."}}
    headers = {"HTTP_IDEMPOTENCY_KEY": "declare-1"}
    url = "/v1/pages/heliograph/incidents"
    auth = {"HTTP_AUTHORIZATION": f"OAuth {api.token}"}
    import json

    first = api.client.post(url, json.dumps(body), "application/json", **headers, **auth)
    again = api.client.post(url, json.dumps(body), "application/json", **headers, **auth)
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert Incident.objects.count() == 1
    other = api.client.post(
        url, json.dumps(body), "application/json", HTTP_IDEMPOTENCY_KEY="declare-2", **auth
    )
    assert other.status_code == 201 and Incident.objects.count() == 2
    # A refused request is not remembered: corrected, it goes through with the same key.
    bad = api.client.post(
        url, json.dumps({"incident": {}}), "application/json", HTTP_IDEMPOTENCY_KEY="k3", **auth
    )
    assert bad.status_code == 422
    fixed = api.client.post(
        url, json.dumps(body), "application/json", HTTP_IDEMPOTENCY_KEY="k3", **auth
    )
    assert fixed.status_code == 201 and Incident.objects.count() == 3


def test_it_refuses_a_patch_whole_when_its_update_is_refused(api, catalogue):
    """PATCH = edit + timeline update in ONE service call (incidents.services.incident_change):
    a status the update refuses leaves the rename and the new affected components unwritten."""
    incident = declare(api, catalogue)
    response = api(
        "PATCH",
        f"incidents/{incident['id']}",
        json_body={
            "incident": {
                "name": "Renamed",
                "component_ids": [catalogue["api_global"].public_id],
                "status": "in_progress",  # a maintenance status
                "body": "x",
            }
        },
    )
    assert response.status_code == 422
    assert response.json()["message"].startswith("status:")
    stored = Incident.objects.get(public_id=incident["id"])
    assert stored.name == "Runs not starting in us-east-1"
    assert {c.public_id for c in stored.components.all()} == {catalogue["runs_us"].public_id}
    assert not AuditEntry.objects.filter(action="incident.edit").exists()
    assert IncidentUpdate.objects.count() == 1


def test_a_window_already_begun_is_scheduled_and_started_in_one_call(api, catalogue):
    """POST with a window and status in_progress: scheduled and moved on by ONE service call
    (incidents.services.maintenance_create), its components under maintenance."""
    runs_eu, api_global = catalogue["runs_eu"].public_id, catalogue["api_global"].public_id
    response = api(
        "POST",
        "incidents",
        json_body={
            "incident": {
                "name": "Emergency database patch",
                "status": "in_progress",
                "body": "Patching now.",
                "scheduled_for": "2026-06-22T20:00:00Z",
                "scheduled_until": "2099-06-22T22:00:00Z",
                "components": {runs_eu: "under_maintenance"},
                "component_ids": [api_global],
            }
        },
    )
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["status"], data["impact"]) == ("in_progress", "maintenance")
    assert [u["status"] for u in data["incident_updates"]] == ["in_progress", "scheduled"]
    assert {c["id"] for c in data["components"]} == {runs_eu, api_global}
    assert Component.objects.get(public_id=runs_eu).status == "under_maintenance"
    assert Component.objects.get(public_id=api_global).status == "operational"
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"maintenance.schedule", "incident.update"} <= actions


def test_it_takes_staff_translations_of_an_update(api, catalogue):
    incident = declare(api, catalogue, translations={"de": "Wir untersuchen das."})
    update = IncidentUpdate.objects.get(public_id=incident["incident_updates"][0]["id"])
    assert list(update.translations.values_list("language", "body")) == [
        ("de", "Wir untersuchen das.")
    ]
    # A new update through PATCH carries its own translations.
    response = api(
        "PATCH",
        f"incidents/{incident['id']}",
        json_body={
            "incident": {
                "status": "identified",
                "body": "Found.",
                "translations": {"ja": "原因を特定しました。"},
            }
        },
    )
    assert response.status_code == 200, response.content
    newest = Incident.objects.get(public_id=incident["id"]).updates.order_by("-id").first()
    assert newest.translations.get().body == "原因を特定しました。"
    # Correcting: replace German, add French; the answer lists them.
    response = api(
        "PATCH",
        f"incidents/{incident['id']}/incident_updates/{update.public_id}",
        json_body={
            "incident_update": {"translations": {"de": "Wir prüfen das.", "fr": "Nous enquêtons."}}
        },
    )
    assert response.status_code == 200
    assert response.json()["translations"] == {"de": "Wir prüfen das.", "fr": "Nous enquêtons."}


def test_it_refuses_a_translation_into_a_language_the_page_does_not_speak(api, catalogue):
    response = api(
        "POST",
        "incidents.json",
        json_body={"incident": {"name": "x", "body": "y", "translations": {"xx": "?"}}},
    )
    assert response.status_code == 422
    assert "'xx' is not one of the page's languages" in response.content.decode()
    assert not Incident.objects.exists()
    bad = api(
        "POST",
        "incidents.json",
        json_body={"incident": {"name": "x", "body": "y", "translations": ["de"]}},
    )
    assert bad.status_code == 422 and "translations" in bad.content.decode()
