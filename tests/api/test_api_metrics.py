"""Metrics through the v1 API: create, push points (single, list, several metrics), alerts."""

from __future__ import annotations

import pytest
from django.utils import timezone

from statuspage.metrics.models import MetricAlert, MetricPoint

pytestmark = pytest.mark.django_db


@pytest.fixture
def depth(api, catalogue):
    response = api(
        "POST",
        "metrics",
        json_body={
            "metric": {
                "name": "Queued runs",
                "slug": "queue-depth",
                "suffix": " runs",
                "component_id": catalogue["runs_us"].public_id,
                "warning_threshold": 100,
                "critical_threshold": 1000,
                "critical_component_status": "degraded_performance",
            }
        },
    )
    assert response.status_code == 201, response.content
    return response.json()


def test_create_and_get_a_metric(api, depth):
    assert depth["slug"] == "queue-depth" and depth["last_value"] is None
    got = api("GET", f"metrics/{depth['id']}.json").json()
    assert got["name"] == "Queued runs" and got["critical_threshold"] == 1000


def test_it_names_an_unknown_component_of_the_body_with_a_422(api, depth):
    """A component named in a metric's body is a field to correct (422), not a missing URL."""
    for method, path in [("POST", "metrics"), ("PATCH", f"metrics/{depth['id']}")]:
        body = {"name": "Other", "slug": "other", "component_id": "nope"}
        response = api(method, path, json_body={"metric": body})
        assert response.status_code == 422, response.content
        assert response.json()["message"].startswith("component_id:")
        assert "unknown component 'nope'" in response.json()["message"]
    assert api("GET", "metrics/other").status_code == 404


def test_push_points_in_the_v1_shape_and_raise_an_alert(api, depth, catalogue):
    one = api(
        "POST",
        "metrics/queue-depth/data",
        json_body={"data": {"timestamp": 1782158400, "value": 5}},
    )
    assert one.status_code == 201 and one.json()["recorded"] == 1
    many = api(
        "POST",
        f"metrics/{depth['id']}/data",
        json_body={"data": [{"timestamp": "2026-06-22T20:09:00Z", "value": 5000}]},
    )
    assert many.json()["level"] == "critical"
    catalogue["runs_us"].refresh_from_db()
    assert catalogue["runs_us"].status == "degraded_performance"
    assert api("GET", "metrics/queue-depth").json()["alert"]["level"] == "critical"
    assert MetricAlert.objects.filter(closed_at__isnull=True).count() == 1


def test_push_several_metrics_is_all_or_nothing(api, depth):
    bad = api(
        "POST",
        "metrics/data",
        json_body={"data": {"queue-depth": [{"timestamp": 1782158400, "value": 1}], "nope": []}},
    )
    # A metric named in the body is not the URL: a 422 naming the field, not a 404.
    assert bad.status_code == 422, bad.content
    assert (
        bad.json()["message"].startswith("data.nope:") and "unknown metric" in bad.json()["message"]
    )
    worse = api(
        "POST",
        "metrics/data",
        json_body={
            "data": {
                "queue-depth": [
                    {"timestamp": 1782158400, "value": 1},
                    {"timestamp": 1782158460, "value": "x"},
                ]
            }
        },
    )
    assert worse.status_code == 422 and "not a number" in worse.json()["message"]
    assert MetricPoint.objects.count() == 0
    ok = api(
        "POST",
        "metrics/data",
        json_body={"data": {"queue-depth": [{"timestamp": 1782158400, "value": 1}]}},
    )
    assert ok.status_code == 200 and MetricPoint.objects.count() == 1


def test_pushing_needs_the_components_scope(api_as, depth):
    reader = api_as("dashboards", ["read"])
    response = reader(
        "POST", "metrics/queue-depth/data", json_body={"data": {"timestamp": 1, "value": 1}}
    )
    assert response.status_code == 403
    assert reader("GET", "metrics").status_code == 200


def test_bad_timestamp_is_named(api, depth):
    response = api(
        "POST", "metrics/queue-depth/data", json_body={"data": {"timestamp": "soon", "value": 1}}
    )
    assert response.status_code == 422 and "timestamp" in response.json()["message"]


def test_listing_metrics_costs_the_same_queries_for_one_or_many(
    api, depth, actor, django_assert_max_num_queries
):
    from statuspage.metrics import services

    for i in range(5):
        metric = services.metric_create(name=f"m{i}", slug=f"m{i}", actor=actor)
        services.metric_points_record(
            metric=metric, points=[(timezone.now(), float(i))], actor=actor
        )
    with django_assert_max_num_queries(12):
        listed = api("GET", "metrics").json()
    assert {m["slug"]: m["last_value"] for m in listed}["m4"] == 4.0
