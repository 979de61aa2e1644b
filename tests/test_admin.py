"""The Django admin: who can reach it, and that its writes go through the service functions."""

from __future__ import annotations

import pytest
from django.conf import settings

from incidents import services
from incidents.models import Incident, IncidentTemplate, IncidentUpdate
from statuspage.models import (
    AuditEntry,
    Component,
    ComponentStatusChange,
    Region,
    Service,
)

pytestmark = pytest.mark.django_db

ADMIN_URLS = [
    "/admin/",
    "/admin/statuspage/region/",
    "/admin/statuspage/servicegroup/",
    "/admin/statuspage/service/",
    "/admin/statuspage/component/",
    "/admin/statuspage/componentstatuschange/",
    "/admin/statuspage/auditentry/",
    "/admin/incidents/incident/",
    "/admin/incidents/incidentupdate/",
    "/admin/incidents/postmortem/",
    "/admin/incidents/incidenttemplate/",
]


@pytest.fixture
def admin_client_(client, django_user_model):
    user = django_user_model.objects.create_superuser("boss", "b@example.com", "pw-boss-123")
    client.force_login(user)
    return client


def test_anonymous_cannot_reach_admin(client):
    for url in ADMIN_URLS:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/admin/login/"), url


def test_non_staff_cannot_reach_admin(client, django_user_model):
    user = django_user_model.objects.create_user("visitor", "v@example.com", "pw-visitor-1")
    client.force_login(user)
    for url in ADMIN_URLS:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/admin/login/"), url


def test_non_staff_cannot_log_in_to_admin(client, django_user_model):
    django_user_model.objects.create_user("visitor", "v@example.com", "pw-visitor-1")
    response = client.post(
        "/admin/login/?next=/admin/", {"username": "visitor", "password": "pw-visitor-1"}
    )
    assert response.status_code == 200  # the login form again, with an error
    assert client.get("/admin/").status_code == 302


def test_every_model_is_listed_and_page_id_is_shown(admin_client_, catalogue, actor):
    incident = services.incident_declare(name="Listed", body="b", actor=actor)
    services.incident_resolve(incident=incident, actor=actor)
    services.postmortem_publish(incident=incident, body="pm", actor=actor)
    IncidentTemplate.objects.create(name="T", body="b")
    for url in ADMIN_URLS:
        response = admin_client_.get(url)
        assert response.status_code == 200, url
    index = admin_client_.get("/admin/").content.decode()
    assert f"page id {settings.PAGE_ID}" in index


def test_component_status_edit_goes_through_component_set_status(admin_client_, catalogue):
    component = catalogue["runs_us"]
    response = admin_client_.post(
        f"/admin/statuspage/component/{component.pk}/change/",
        {
            "status": "partial_outage",
            "reason": "Investigating from the admin",
            "description": "",
            "position": "1",
            "showcase": "on",
            "start_date": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    component.refresh_from_db()
    assert component.status == "partial_outage"
    change = ComponentStatusChange.objects.get(component=component)
    assert (change.old_status, change.new_status) == ("operational", "partial_outage")
    assert change.reason == "Investigating from the admin" and change.actor_name == "boss"
    assert AuditEntry.objects.filter(action="component.set_status", actor_name="boss").exists()


def test_component_description_edit_leaves_status_history_alone(admin_client_, catalogue):
    component = catalogue["runs_us"]
    response = admin_client_.post(
        f"/admin/statuspage/component/{component.pk}/change/",
        {
            "status": "operational",
            "reason": "",
            "description": "Starting runs",
            "position": "3",
            "showcase": "on",
            "start_date": "",
        },
    )
    assert response.status_code == 302
    component.refresh_from_db()
    assert (component.description, component.position) == ("Starting runs", 3)
    assert not ComponentStatusChange.objects.filter(component=component).exists()
    # The same audit action as the API's component_update (it was "component.edit").
    assert AuditEntry.objects.filter(action="component.update", actor_name="boss").exists()


def test_bad_component_status_is_refused_by_the_admin_form(admin_client_, catalogue):
    component = catalogue["runs_us"]
    response = admin_client_.post(
        f"/admin/statuspage/component/{component.pk}/change/",
        {"status": "on_fire", "position": "1", "showcase": "on"},
    )
    assert response.status_code == 200
    assert b"Select a valid choice. on_fire is not one of the available choices." in (
        response.content
    )
    component.refresh_from_db()
    assert component.status == "operational"


def test_creating_a_service_creates_its_components(admin_client_, catalogue):
    us, eu = catalogue["us"], catalogue["eu"]
    response = admin_client_.post(
        "/admin/statuspage/service/add/",
        {
            "name": "Realtime",
            "slug": "realtime",
            "description": "Live updates",
            "position": "5",
            "group": "",
            "regions": [us.pk, eu.pk],
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    service = Service.objects.get(slug="realtime")
    assert sorted(service.components.values_list("region__slug", flat=True)) == [
        "eu-central-1",
        "us-east-1",
    ]
    assert AuditEntry.objects.filter(action="service.create", actor_name="boss").exists()


def test_creating_a_global_service_and_a_region(admin_client_, db):
    admin_client_.post(
        "/admin/statuspage/service/add/",
        {"name": "Dashboard", "slug": "dashboard", "description": "", "position": "0"},
    )
    assert [c.region_id for c in Component.objects.filter(service__slug="dashboard")] == [None]
    response = admin_client_.post(
        "/admin/statuspage/region/add/",
        {"slug": "us-west-2", "name": "US West (Oregon)", "position": "3"},
    )
    assert response.status_code == 302
    assert Region.objects.filter(slug="us-west-2").exists()
    assert AuditEntry.objects.filter(action="region.create", actor_name="boss").exists()


def test_incidents_are_read_only_in_the_admin_with_a_console_link(admin_client_, catalogue, actor):
    incident = services.incident_declare(name="Read only", body="b", actor=actor)
    assert admin_client_.get("/admin/incidents/incident/add/").status_code == 403
    page = admin_client_.get(f"/admin/incidents/incident/{incident.pk}/change/")
    assert page.status_code == 200
    assert f"/console/incidents/{incident.public_id}/".encode() in page.content
    admin_client_.post(
        f"/admin/incidents/incident/{incident.pk}/change/",
        {"name": "Changed", "status": "resolved"},
    )
    incident.refresh_from_db()
    assert (incident.name, incident.status) == ("Read only", "investigating")
    assert admin_client_.get("/admin/statuspage/componentstatuschange/add/").status_code == 403
    assert admin_client_.get("/admin/statuspage/auditentry/add/").status_code == 403


def test_deleting_an_incident_goes_through_incident_delete(admin_client_, catalogue, actor):
    incident = services.incident_declare(name="Mistake", body="b", actor=actor)
    response = admin_client_.post(
        f"/admin/incidents/incident/{incident.pk}/delete/", {"post": "yes"}
    )
    assert response.status_code == 302
    assert not Incident.objects.filter(pk=incident.pk).exists()
    assert AuditEntry.objects.filter(
        action="incident.delete", actor_name="boss", summary="Mistake"
    ).exists()


def test_update_text_correction_goes_through_incident_update_edit(admin_client_, catalogue, actor):
    incident = services.incident_declare(name="Typo", body="Investigatign", actor=actor)
    update = incident.updates.get()
    response = admin_client_.post(
        f"/admin/incidents/incidentupdate/{update.pk}/change/",
        {"body": "Investigating <script>x</script>", "deliver_notifications": "on"},
    )
    assert response.status_code == 302
    update = IncidentUpdate.objects.get(pk=update.pk)
    assert update.body.startswith("Investigating") and "<script" not in update.body_html
    assert AuditEntry.objects.filter(action="incident_update.edit", actor_name="boss").exists()


def test_postmortem_added_in_admin_goes_through_postmortem_publish(admin_client_, catalogue, actor):
    incident = services.incident_declare(name="Done", body="b", actor=actor)
    services.incident_resolve(incident=incident, actor=actor)
    response = admin_client_.post(
        "/admin/incidents/postmortem/add/", {"incident": incident.pk, "body": "## Causes"}
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    incident.refresh_from_db()
    assert incident.status == "postmortem"
    assert "<h2>Causes</h2>" in incident.postmortem.body_html
    assert AuditEntry.objects.filter(action="postmortem.publish", actor_name="boss").exists()


def test_component_with_history_cannot_be_deleted_but_a_new_one_can(admin_client_, catalogue):
    component = catalogue["runs_us"]
    admin_client_.post(
        f"/admin/statuspage/component/{component.pk}/change/",
        {"status": "degraded_performance", "reason": "r", "position": "1", "showcase": "on"},
    )
    assert (
        admin_client_.get(f"/admin/statuspage/component/{component.pk}/delete/").status_code == 403
    )
    response = admin_client_.post(
        "/admin/statuspage/component/",
        {"action": "delete_selected", "_selected_action": [component.pk], "post": "yes"},
    )
    assert Component.objects.filter(pk=component.pk).exists()
    fresh = catalogue["runs_eu"]
    response = admin_client_.post(
        f"/admin/statuspage/component/{fresh.pk}/delete/", {"post": "yes"}
    )
    assert response.status_code == 302
    assert not Component.objects.filter(pk=fresh.pk).exists()
    assert AuditEntry.objects.filter(action="component.delete", actor_name="boss").exists()
