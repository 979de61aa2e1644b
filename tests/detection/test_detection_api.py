"""Detection and the completed metrics endpoints in the v1 API: alert sources, check-ins,
alerts, drafts; a metric's points over a range, its thresholds and display changed, deleted
(the endpoints that answered 405 before)."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime, timedelta

import pytest
from api_helpers import Api
from detection_helpers import alertmanager_payload

from incidents.models import Incident
from statuspage.api.services import api_token_create
from statuspage.metrics.models import AlertSource, CheckIn, Metric, MetricPoint
from statuspage.metrics.services import (
    alert_source_create,
    checkin_create,
    metric_create,
    metric_points_record,
)
from statuspage.services import Actor

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(client) -> Api:
    _, raw = api_token_create(name="ops-bot", scopes=None, actor=Actor.system("test"))
    return Api(client, raw)


@pytest.fixture
def reader(client) -> Api:
    _, raw = api_token_create(name="reader", scopes=["read"], actor=Actor.system("test"))
    return Api(client, raw)


def test_alert_sources_are_created_listed_changed_and_deleted(api, reader, catalogue, client):
    created = api(
        "POST",
        "alert-sources",
        json_body={
            "alert_source": {
                "name": "prod-am",
                "kind": "alertmanager",
                "automation": "draft",
                "severity_map": {"critical": "partial_outage", "page": "major_outage"},
                "hold_down": 30,
            }
        },
    )
    assert created.status_code == 201, created.content
    source = created.json()
    secret = AlertSource.objects.get().secret
    assert source["intake_url"] == f"http://testserver/intake/alerts/{secret}"
    assert source["severity_map"] == {"critical": "partial_outage", "page": "major_outage"}
    # A read-only token does not see the secret URL (posting alerts changes components).
    assert reader("GET", f"alert-sources/{source['id']}").json()["intake_url"] is None
    assert [s["name"] for s in reader("GET", "alert-sources").json()] == ["prod-am"]

    changed = api(
        "PATCH", f"alert-sources/{source['id']}", json_body={"hold_down": 0, "new_secret": True}
    ).json()
    assert changed["hold_down"] == 0 and changed["intake_url"] != source["intake_url"]
    assert (
        client.post(
            f"/intake/alerts/{secret}", data="{}", content_type="application/json"
        ).status_code
        == 404
    )  # the old URL stopped working

    bad = api("POST", "alert-sources", json_body={"name": "x", "kind": "nagios"})
    assert bad.status_code == 422 and "kind" in bad.json()["message"]
    bad = api(
        "POST",
        "alert-sources",
        json_body={"name": "y", "kind": "generic", "severity_map": {"critical": "down"}},
    )
    assert bad.status_code == 422 and "not a component status" in bad.json()["message"]
    assert (
        reader("POST", "alert-sources", json_body={"name": "z", "kind": "generic"}).status_code
        == 403
    )

    assert api("DELETE", f"alert-sources/{source['id']}").status_code == 204
    assert not AlertSource.objects.exists()


def test_alerts_intakes_and_drafts_through_the_api(api, catalogue, client):
    source = api(
        "POST",
        "alert-sources",
        json_body={"name": "am", "kind": "alertmanager", "automation": "draft", "hold_down": 0},
    ).json()
    path = source["intake_url"].removeprefix("http://testserver")
    payload = alertmanager_payload(service="run-execution", region="us-east-1")
    client.post(path, data=payload, content_type="application/json")

    alerts = api("GET", "alerts?state=open").json()
    assert [(a["name"], a["component_status"], a["state"]) for a in alerts] == [
        ("RunQueueStalled", "major_outage", "firing")
    ]
    intakes = api("GET", f"alert-sources/{source['id']}/intakes").json()
    assert intakes[0]["status_code"] == 200 and "alert opened" in intakes[0]["actions"][0]
    drafts = api("GET", "incident-drafts?state=open").json()
    assert [d["name"] for d in drafts] == ["Runs are not being dequeued"]
    published = api("POST", f"incident-drafts/{drafts[0]['id']}/publish")
    assert published.status_code == 200, published.content
    incident = Incident.objects.get()
    assert published.json()["incident_id"] == incident.public_id
    again = api("POST", f"incident-drafts/{drafts[0]['id']}/publish")
    assert again.status_code == 422 and "already published" in again.json()["message"]
    assert api("GET", "incident-drafts?state=open").json() == []


def test_check_ins_through_the_api(api, catalogue, client):
    created = api(
        "POST",
        "checkins",
        json_body={
            "checkin": {
                "name": "nightly",
                "period": 86400,
                "grace": 600,
                "component_id": catalogue["runs_eu"].public_id,
            }
        },
    )
    assert created.status_code == 201, created.content
    checkin = created.json()
    assert checkin["url"] == f"http://testserver/checkin/{CheckIn.objects.get().secret}"
    assert client.get(checkin["url"].removeprefix("http://testserver")).status_code == 200
    got = api("GET", f"checkins/{checkin['id']}").json()
    assert got["last_ping_at"] is not None and got["due_at"] is not None
    changed = api(
        "PATCH", f"checkins/{checkin['id']}", json_body={"component_id": None, "period": 3600}
    ).json()
    assert changed["component_id"] is None and changed["period"] == 3600
    assert api("POST", "checkins", json_body={"name": "x"}).status_code == 422
    assert api("DELETE", f"checkins/{checkin['id']}").status_code == 204


@pytest.fixture
def depth(catalogue, actor):
    return metric_create(
        name="Queued runs",
        slug="queue-depth",
        actor=actor,
        component=catalogue["runs_us"],
        warning_threshold=100,
        critical_threshold=1000,
        critical_component_status="degraded_performance",
    )


def test_a_metrics_points_are_read_over_a_range(api, depth, actor):
    t0 = datetime(2026, 6, 22, 19, 0, tzinfo=UTC)
    metric_points_record(
        metric=depth, points=[(t0 + timedelta(minutes=m), m) for m in range(10)], actor=actor
    )
    start, end = int((t0 + timedelta(minutes=2)).timestamp()), "2026-06-22T19:05:00Z"
    data = api("GET", f"metrics/queue-depth/data?from={start}&to={end}").json()
    assert [p["value"] for p in data["data"]] == [2, 3, 4, 5]
    assert data["data"][0]["timestamp"] == start and data["truncated"] is False
    assert api("GET", "metrics/queue-depth/data").json()["data"] == []  # the last 24 h
    bad = api("GET", f"metrics/queue-depth/data?from={end}&to=2026-06-22T18:00:00Z")
    assert bad.status_code == 422


def test_a_metrics_thresholds_display_and_source_are_changed(api, depth):
    response = api(
        "PATCH",
        "metrics/queue-depth",
        json_body={
            "metric": {
                "warning_threshold": None,
                "critical_threshold": 2000,
                "display": False,
                "prometheus_url": "http://10.0.0.5:9090",
                "prometheus_query": "sum(queue_depth)",
            }
        },
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["warning_threshold"] is None and body["critical_threshold"] == 2000
    assert body["display"] is False
    # A private Prometheus address is allowed: staff configure an internal pull.
    assert body["prometheus_url"] == "http://10.0.0.5:9090"
    refused = api("PUT", "metrics/queue-depth", json_body={"prometheus_url": "ftp://prometheus"})
    assert refused.status_code == 422 and "http(s) URL" in refused.json()["message"]
    refused = api(
        "PATCH", "metrics/queue-depth", json_body={"prometheus_url": "http://u:p@prom:9090"}
    )
    assert refused.status_code == 422 and "Credentials" in refused.json()["message"]
    cleared = api("PATCH", "metrics/queue-depth", json_body={"prometheus_query": None}).json()
    assert cleared["prometheus_query"] is None and cleared["prometheus_url"] is None


def test_a_metric_is_deleted_with_its_points(api, reader, depth, actor):
    metric_points_record(metric=depth, points=[(datetime.now(UTC), 5)], actor=actor)
    assert reader("DELETE", "metrics/queue-depth").status_code == 403
    assert api("DELETE", "metrics/queue-depth").status_code == 204
    assert not Metric.objects.exists() and not MetricPoint.objects.exists()
    assert api("GET", "metrics/queue-depth").status_code == 404


def test_numbers_of_seconds_out_of_range_are_refused_by_every_door(
    api, catalogue, client, django_user_model
):
    too_big = 10 * 365 * 24 * 3600 + 1
    response = api("POST", "checkins", json_body={"name": "x", "period": too_big})
    assert response.status_code == 422 and "period" in response.json()["message"]
    response = api(
        "POST", "alert-sources", json_body={"name": "y", "kind": "generic", "hold_down": too_big}
    )
    assert response.status_code == 422 and "hold_down" in response.json()["message"]
    response = api(
        "POST", "metrics", json_body={"name": "z", "slug": "z", "prometheus_interval": 2}
    )
    assert response.status_code == 422 and "prometheus_interval" in response.json()["message"]
    staff = django_user_model.objects.create_superuser("ic", "ic@example.com", "pw-ic-123456")
    client.force_login(staff)
    page = client.post(
        "/console/metrics/alerts/",
        {
            "checkin-name": "huge",
            "checkin-period": str(10**20),
            "checkin-grace": "0",
            "checkin-component_status": "degraded_performance",
            "checkin-automation": "off",
        },
    )
    assert page.status_code == 200 and "ten years" in page.content.decode()
    assert not CheckIn.objects.exists() and not AlertSource.objects.exists()


def test_it_leaves_the_defaults_of_fields_not_sent_to_the_services(api):
    """The API passes only what the client sent: a field left out takes the service's
    default (one owner), not a second copy spelled in the API."""

    def default(service, name):
        return inspect.signature(service).parameters[name].default

    checkin = api("POST", "checkins", json_body={"name": "nightly", "period": 3600}).json()
    for field in ("grace", "component_status", "automation", "enabled"):
        assert checkin[field] == default(checkin_create, field), field
    source = api("POST", "alert-sources", json_body={"name": "am", "kind": "alertmanager"}).json()
    for field in ("automation", "enabled"):
        assert source[field] == default(alert_source_create, field), field
    metric = api("POST", "metrics", json_body={"name": "Depth", "slug": "depth"}).json()
    assert metric["display"] == default(metric_create, "public")
    assert metric["direction"] == default(metric_create, "direction")
