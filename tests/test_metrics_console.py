from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from statuspage.metrics import services

pytestmark = pytest.mark.django_db


def test_anonymous_is_sent_to_login(client):
    response = client.get("/console/metrics/")
    assert response.status_code == 302 and "/console/login/" in response["Location"]


def test_staff_without_console_permission_gets_403(client, staff_user):
    client.force_login(staff_user)
    assert client.get("/console/metrics/").status_code == 403


def test_superuser_sees_graph_alert_and_thresholds(client, django_user_model, catalogue, actor):
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    metric = services.metric_create(
        name="etcd <write> latency",
        slug="etcd-latency",
        unit=" ms",
        actor=actor,
        warning_threshold=50,
        critical_threshold=200,
    )
    now = timezone.now()
    services.metric_points_record(
        metric=metric,
        points=[(now - timedelta(minutes=m), v) for m, v in [(30, 10), (20, 80), (10, 450)]],
        actor=actor,
    )
    client.force_login(admin)
    html = client.get("/console/metrics/").content.decode()
    assert "<polyline" in html and "chart-critical" in html
    assert "etcd &lt;write&gt; latency" in html and "<write>" not in html
    assert "Critical since" in html and "peak 450 ms" in html


def test_dashboard_shows_open_metric_alerts(client, django_user_model, catalogue, actor):
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    metric = services.metric_create(
        name="Queued runs (us-east-1)", slug="q", unit=" runs", actor=actor, warning_threshold=100
    )
    client.force_login(admin)
    assert "Metric alerts" not in client.get("/console/").content.decode()
    services.metric_points_record(metric=metric, points=[(timezone.now(), 5000)], actor=actor)
    html = client.get("/console/").content.decode()
    assert "Metric alerts (1)" in html and "Queued runs (us-east-1): warning since" in html
