"""The Django admin: who can reach it, and that its writes go through the service functions."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError

from incidents import services
from incidents.models import Incident, IncidentTemplate, IncidentUpdate
from statuspage import services as catalogue_services
from statuspage.metrics.models import Metric, MetricPoint
from statuspage.metrics.services import metric_create, metric_points_record, metric_update
from statuspage.models import (
    AuditEntry,
    Component,
    ComponentStatusChange,
    Region,
    Service,
    ServiceGroup,
)
from statuspage.services import Actor

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


# --- One write path: the admin writes what the services write --------------------------------


def _entry(entry: AuditEntry) -> tuple[str, str, str, str, str]:
    return (entry.action, entry.object_type, entry.object_id, entry.summary, entry.actor_name)


def _last_entry() -> AuditEntry:
    return AuditEntry.objects.order_by("-id").first()


@pytest.fixture
def boss_actor(admin_client_, django_user_model) -> Actor:
    return Actor.for_user(django_user_model.objects.get(username="boss"))


@pytest.fixture
def template(actor) -> IncidentTemplate:
    return services.template_create(
        name="Region down",
        title="Runs not starting",
        status="investigating",
        impact="critical",
        component_status="major_outage",
        body="We are investigating.",
        actor=actor,
    )


@pytest.fixture
def metric(catalogue, actor) -> Metric:
    return metric_create(
        name="Queued runs",
        slug="queue-depth",
        unit=" runs",
        component=catalogue["runs_us"],
        warning_threshold=50_000,
        critical_threshold=500_000,
        actor=actor,
    )


TEMPLATE_FORM = {
    "name": "Region down",
    "kind": "incident",
    "title": "Runs not starting",
    "status": "investigating",
    "impact": "critical",
    "component_status": "major_outage",
    "body": "We are investigating.",
}
METRIC_FORM = {
    "name": "Queued runs",
    "slug": "queue-depth",
    "unit": " runs",
    "description": "",
    "component": "",
    "public": "on",
    "position": "0",
    "direction": "above",
    "warning_threshold": "50000",
    "critical_threshold": "500000",
    "critical_component_status": "",
}
# The component inline of a service's change page, with no rows posted.
NO_INLINE_ROWS = {
    "components-TOTAL_FORMS": "0",
    "components-INITIAL_FORMS": "0",
    "components-MIN_NUM_FORMS": "0",
    "components-MAX_NUM_FORMS": "1000",
}


def test_admin_region_edit_writes_the_entry_region_update_writes(
    admin_client_, catalogue, boss_actor
):
    region = catalogue["us"]
    response = admin_client_.post(
        f"/admin/statuspage/region/{region.pk}/change/",
        {"slug": "us-east-1", "name": "US East (Virginia)", "position": "4"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    region.refresh_from_db()
    assert (region.name, region.position) == ("US East (Virginia)", 4)
    from_admin = _entry(_last_entry())
    catalogue_services.region_update(region=region, actor=boss_actor, position=4)
    assert from_admin == _entry(_last_entry())
    assert from_admin[0] == "region.update"


def test_admin_region_position_in_the_list_goes_through_region_update(admin_client_, catalogue):
    us, eu = catalogue["us"], catalogue["eu"]
    response = admin_client_.post(
        "/admin/statuspage/region/",
        {
            "form-TOTAL_FORMS": "2",
            "form-INITIAL_FORMS": "2",
            "form-MIN_NUM_FORMS": "0",
            "form-MAX_NUM_FORMS": "1000",
            "form-0-id": str(eu.pk),
            "form-0-position": "2",
            "form-1-id": str(us.pk),
            "form-1-position": "7",
            "_save": "Save",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    us.refresh_from_db()
    assert us.position == 7
    # Only the row that changed is written, and audited as the service does.
    entries = AuditEntry.objects.filter(actor_name="boss")
    assert [(e.action, e.summary) for e in entries] == [
        ("region.update", "us-east-1: US East (N. Virginia)")
    ]


def test_admin_service_edit_writes_the_entry_service_update_writes(
    admin_client_, catalogue, boss_actor
):
    service = catalogue["runs"]
    group = catalogue_services.service_group_create(name="Runs", actor=boss_actor)
    response = admin_client_.post(
        f"/admin/statuspage/service/{service.pk}/change/",
        {
            "name": "Run execution",
            "slug": "runs",
            "description": "Starting runs",
            "position": "1",
            "group": str(group.pk),
            **NO_INLINE_ROWS,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    service.refresh_from_db()
    assert (service.slug, service.description, service.group) == ("runs", "Starting runs", group)
    from_admin = _entry(_last_entry())
    catalogue_services.service_update(
        service=service, actor=boss_actor, description="Starting runs"
    )
    assert from_admin == _entry(_last_entry())
    assert from_admin[0] == "service.update"


def test_admin_component_edit_writes_the_entry_component_update_writes(
    admin_client_, catalogue, boss_actor
):
    component = catalogue["runs_us"]
    response = admin_client_.post(
        f"/admin/statuspage/component/{component.pk}/change/",
        {
            "status": "operational",
            "description": "Starting runs",
            "position": "2",
            "showcase": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    from_admin = _entry(_last_entry())
    catalogue_services.component_update(component=component, actor=boss_actor, position=2)
    assert from_admin == _entry(_last_entry())
    assert from_admin[0] == "component.update"


def test_admin_component_add_goes_through_component_create(admin_client_, catalogue):
    new_region = catalogue_services.region_create(
        slug="us-west-2", name="Oregon", actor=Actor.system()
    )
    response = admin_client_.post(
        "/admin/statuspage/component/add/",
        {
            "service": str(catalogue["runs"].pk),
            "region": str(new_region.pk),
            "status": "degraded_performance",
            "description": "New region",
            "position": "3",
            "showcase": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    component = Component.objects.get(service=catalogue["runs"], region=new_region)
    assert (component.status, component.position) == ("degraded_performance", 3)
    actions = list(AuditEntry.objects.filter(actor_name="boss").values_list("action", flat=True))
    assert sorted(actions) == ["component.create", "component.set_status", "component.update"]
    # Created degraded: the status is in the history, which uptime is computed from.
    (change,) = ComponentStatusChange.objects.filter(component=component)
    assert (change.old_status, change.new_status) == ("operational", "degraded_performance")


def test_admin_template_add_edit_and_delete_write_the_template_entries(
    admin_client_, db, boss_actor
):
    response = admin_client_.post("/admin/incidents/incidenttemplate/add/", TEMPLATE_FORM)
    assert response.status_code == 302, response.content.decode()[:2000]
    template = IncidentTemplate.objects.get(name="Region down")
    assert _entry(_last_entry()) == (
        "template.create",
        "incidents.incidenttemplate",
        str(template.pk),
        "Region down",
        "boss",
    )
    response = admin_client_.post(
        f"/admin/incidents/incidenttemplate/{template.pk}/change/",
        {**TEMPLATE_FORM, "body": "Runs are not starting."},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    template.refresh_from_db()
    assert template.body == "Runs are not starting."
    from_admin = _entry(_last_entry())
    services.template_update(template=template, actor=boss_actor, title="Runs not starting")
    assert from_admin == _entry(_last_entry())
    assert from_admin[0] == "template.update"
    response = admin_client_.post(
        f"/admin/incidents/incidenttemplate/{template.pk}/delete/", {"post": "yes"}
    )
    assert response.status_code == 302
    assert not IncidentTemplate.objects.exists()
    assert _last_entry().action == "template.delete"


def test_admin_metric_add_and_edit_write_the_metric_entries(admin_client_, catalogue, boss_actor):
    response = admin_client_.post("/admin/metrics/metric/add/", METRIC_FORM)
    assert response.status_code == 302, response.content.decode()[:2000]
    metric = Metric.objects.get(slug="queue-depth")
    assert _entry(_last_entry()) == (
        "metric.create",
        "metrics.metric",
        metric.public_id,
        "Queued runs",
        "boss",
    )
    response = admin_client_.post(
        f"/admin/metrics/metric/{metric.pk}/change/",
        {**METRIC_FORM, "warning_threshold": "80000", "critical_threshold": ""},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    metric.refresh_from_db()
    assert (metric.warning_threshold, metric.critical_threshold) == (80_000, None)
    from_admin = _entry(_last_entry())
    metric_update(metric=metric, actor=boss_actor, warning_threshold=80_000)
    assert from_admin == _entry(_last_entry())
    assert from_admin[0] == "metric.update"


def test_admin_service_group_add_edit_and_delete_go_through_the_services(admin_client_, catalogue):
    assert (
        admin_client_.post(
            "/admin/statuspage/servicegroup/add/", {"name": "Runs", "position": "1"}
        ).status_code
        == 302
    )
    group = ServiceGroup.objects.get(name="Runs")
    catalogue_services.service_update(service=catalogue["runs"], actor=Actor.system(), group=group)
    assert (
        admin_client_.post(
            f"/admin/statuspage/servicegroup/{group.pk}/change/",
            {"name": "Runs and queues", "position": "1"},
        ).status_code
        == 302
    )
    assert (
        admin_client_.post(
            f"/admin/statuspage/servicegroup/{group.pk}/delete/", {"post": "yes"}
        ).status_code
        == 302
    )
    catalogue["runs"].refresh_from_db()
    assert catalogue["runs"].group is None  # the service stays, without its heading
    entries = AuditEntry.objects.filter(actor_name="boss").order_by("id")
    assert [(e.action, e.summary) for e in entries] == [
        ("service_group.create", "Runs"),
        ("service_group.update", "Runs and queues"),
        ("service_group.delete", "Runs and queues"),
    ]


def test_admin_region_delete_goes_through_region_delete(admin_client_, db):
    region = catalogue_services.region_create(
        slug="ap-south-1", name="Mumbai", actor=Actor.system()
    )
    response = admin_client_.post(f"/admin/statuspage/region/{region.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Region.objects.filter(pk=region.pk).exists()
    assert _entry(_last_entry())[::3] == ("region.delete", "ap-south-1: Mumbai")


def test_it_refuses_to_delete_a_region_that_has_components(catalogue, actor):
    with pytest.raises(ValidationError, match="has components"):
        catalogue_services.region_delete(region=catalogue["us"], actor=actor)
    assert Region.objects.filter(pk=catalogue["us"].pk).exists()
    assert not AuditEntry.objects.filter(action="region.delete").exists()


def test_admin_bulk_delete_of_templates_goes_through_template_delete(admin_client_, actor):
    for name in ("One", "Two"):
        services.template_create(name=name, body="b", actor=actor)
    response = admin_client_.post(
        "/admin/incidents/incidenttemplate/",
        {
            "action": "delete_selected",
            "_selected_action": list(IncidentTemplate.objects.values_list("pk", flat=True)),
            "post": "yes",
        },
    )
    assert response.status_code == 302
    assert not IncidentTemplate.objects.exists()
    deleted = AuditEntry.objects.filter(action="template.delete", actor_name="boss")
    assert sorted(deleted.values_list("summary", flat=True)) == ["One", "Two"]


# --- A refusal of the service shows on the form and writes nothing ---------------------------


def _nothing_written_by_boss() -> bool:
    return not AuditEntry.objects.filter(actor_name="boss").exists()


def test_it_refuses_a_duplicate_region_slug_in_the_admin(admin_client_, catalogue):
    region = catalogue["eu"]
    response = admin_client_.post(
        f"/admin/statuspage/region/{region.pk}/change/",
        {"slug": "us-east-1", "name": "Frankfurt", "position": "2"},
    )
    assert response.status_code == 200
    assert b"Region with this Slug already exists." in response.content
    region.refresh_from_db()
    assert (region.slug, region.name) == ("eu-central-1", "EU (Frankfurt)")
    assert _nothing_written_by_boss()


def test_it_refuses_an_invalid_component_status_in_the_admin(admin_client_, catalogue):
    component = catalogue["runs_us"]
    response = admin_client_.post(
        f"/admin/statuspage/component/{component.pk}/change/",
        {"status": "on_fire", "description": "Changed", "position": "9", "showcase": "on"},
    )
    assert response.status_code == 200
    assert b"on_fire is not one of the available choices" in response.content
    component.refresh_from_db()
    assert (component.status, component.description, component.position) == ("operational", "", 1)
    assert not ComponentStatusChange.objects.exists()
    assert _nothing_written_by_boss()


def test_it_refuses_a_metric_warning_above_its_critical_threshold_in_the_admin(
    admin_client_, metric
):
    response = admin_client_.post(
        f"/admin/metrics/metric/{metric.pk}/change/",
        {**METRIC_FORM, "warning_threshold": "900000"},
    )
    assert response.status_code == 200
    assert b"The warning threshold must not be above the critical one." in response.content
    metric.refresh_from_db()
    assert metric.warning_threshold == 50_000
    assert _nothing_written_by_boss()
    response = admin_client_.post(
        "/admin/metrics/metric/add/",
        {**METRIC_FORM, "slug": "other", "warning_threshold": "900000"},
    )
    assert response.status_code == 200
    assert b"The warning threshold must not be above the critical one." in response.content
    assert not Metric.objects.filter(slug="other").exists()
    assert _nothing_written_by_boss()


def test_it_refuses_a_template_whose_status_is_not_one_of_its_kind_in_the_admin(
    admin_client_, template
):
    response = admin_client_.post(
        f"/admin/incidents/incidenttemplate/{template.pk}/change/",
        {**TEMPLATE_FORM, "kind": "maintenance", "status": "investigating"},
    )
    assert response.status_code == 200
    assert b"is not a status of a maintenance" in response.content
    template.refresh_from_db()
    assert template.kind == "incident"
    assert _nothing_written_by_boss()


def test_a_service_write_is_rolled_back_when_the_admin_shows_the_form_again(
    admin_client_, catalogue
):
    """The form is valid (so the service wrote) but the inline rows were not posted: the
    admin shows the page again and the write must not stay."""
    service = catalogue["runs"]
    response = admin_client_.post(
        f"/admin/statuspage/service/{service.pk}/change/",
        {"name": "Renamed", "slug": "run-execution", "description": "", "position": "1"},
    )
    assert response.status_code == 200
    service.refresh_from_db()
    assert service.name == "Run execution"
    assert _nothing_written_by_boss()


def test_metric_points_and_alerts_are_read_only_in_the_admin(admin_client_, metric, actor):
    metric_points_record(metric=metric, points=[(metric.created_at, 1.0)], actor=actor)
    point = MetricPoint.objects.get()
    assert admin_client_.get(f"/admin/metrics/metricpoint/{point.pk}/delete/").status_code == 403
    entry = AuditEntry.objects.first()
    assert admin_client_.get(f"/admin/statuspage/auditentry/{entry.pk}/delete/").status_code == 403
