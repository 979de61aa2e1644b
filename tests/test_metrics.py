from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError

from statuspage.metrics import services
from statuspage.metrics.charts import series_svg
from statuspage.metrics.models import MetricAlert, MetricPoint
from statuspage.metrics.notify import metric_alert_email_staff
from statuspage.metrics.selectors import metric_series
from statuspage.models import AuditEntry, ComponentStatusChange

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 6, 22, 19, 0, tzinfo=UTC)


@pytest.fixture
def queue_depth(catalogue, actor):
    return services.metric_create(
        name="Queued runs (us-east-1)",
        slug="queue-depth-us-east-1",
        unit=" runs",
        actor=actor,
        component=catalogue["runs_us"],
        warning_threshold=50_000,
        critical_threshold=500_000,
        critical_component_status="degraded_performance",
    )


def test_points_below_thresholds_raise_nothing(queue_depth, actor):
    result = services.metric_points_record(
        metric=queue_depth, points=[(T0, 10_000), (T0 + timedelta(minutes=1), 12_000)], actor=actor
    )
    assert result.recorded == 2 and result.level is None
    assert MetricAlert.objects.count() == 0


def test_critical_opens_alert_drives_component_and_clears(queue_depth, catalogue, actor):
    services.metric_points_record(metric=queue_depth, points=[(T0, 60_000)], actor=actor)
    alert = MetricAlert.objects.get()
    assert alert.level == "warning" and alert.closed_at is None
    services.metric_points_record(
        metric=queue_depth, points=[(T0 + timedelta(minutes=5), 2_000_000)], actor=actor
    )
    alert.refresh_from_db()
    component = catalogue["runs_us"]
    component.refresh_from_db()
    assert alert.level == "critical" and alert.peak_value == 2_000_000
    assert component.status == "degraded_performance"
    change = ComponentStatusChange.objects.get(component=component)
    assert change.actor_name == "metric:queue-depth-us-east-1"
    services.metric_points_record(
        metric=queue_depth, points=[(T0 + timedelta(hours=9), 1_000)], actor=actor
    )
    alert.refresh_from_db()
    component.refresh_from_db()
    assert alert.closed_at == T0 + timedelta(hours=9)
    assert component.status == "operational"
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"metric.alert_open", "metric.alert_escalate", "metric.alert_close"} <= actions


def test_clearing_leaves_a_status_set_by_a_human(queue_depth, catalogue, actor):
    from statuspage.services import component_set_status

    services.metric_points_record(metric=queue_depth, points=[(T0, 900_000)], actor=actor)
    component_set_status(component=catalogue["runs_us"], status="major_outage", actor=actor)
    services.metric_points_record(
        metric=queue_depth, points=[(T0 + timedelta(hours=1), 5)], actor=actor
    )
    catalogue["runs_us"].refresh_from_db()
    assert catalogue["runs_us"].status == "major_outage"


def test_bad_points_are_refused_whole(queue_depth, actor):
    with pytest.raises(ValidationError, match="not a number"):
        services.metric_points_record(
            metric=queue_depth, points=[(T0, 1), (T0 + timedelta(seconds=1), "lots")], actor=actor
        )
    with pytest.raises(ValidationError, match="time zone"):
        services.metric_points_record(
            metric=queue_depth, points=[(datetime(2026, 6, 22), 1)], actor=actor
        )
    with pytest.raises(ValidationError, match="finite"):
        services.metric_points_record(metric=queue_depth, points=[(T0, float("nan"))], actor=actor)
    assert MetricPoint.objects.count() == 0


def test_same_time_recorded_twice_is_stored_once(queue_depth, actor):
    for _ in range(2):
        services.metric_points_record(metric=queue_depth, points=[(T0, 7)], actor=actor)
    assert MetricPoint.objects.count() == 1


def test_inconsistent_thresholds_are_refused(catalogue, actor):
    with pytest.raises(ValidationError, match="must not be above"):
        services.metric_create(
            name="x", slug="x", actor=actor, warning_threshold=10, critical_threshold=5
        )
    with pytest.raises(ValidationError, match="Choose the component"):
        services.metric_create(
            name="x",
            slug="x",
            actor=actor,
            critical_threshold=5,
            critical_component_status="major_outage",
        )


def test_it_refuses_an_update_that_makes_the_thresholds_inconsistent(queue_depth, actor):
    """The thresholds are checked as they would be after the change, and nothing is written."""
    component_id = queue_depth.component_id
    with pytest.raises(ValidationError, match="must not be above"):
        services.metric_update(metric=queue_depth, actor=actor, critical_threshold=1_000)
    with pytest.raises(ValidationError, match="Choose the component"):
        services.metric_update(metric=queue_depth, actor=actor, component=None)
    queue_depth.refresh_from_db()
    assert (queue_depth.critical_threshold, queue_depth.component_id) == (500_000, component_id)
    assert not AuditEntry.objects.filter(action="metric.update").exists()


def test_update_clears_a_threshold_and_delete_takes_the_points(queue_depth, actor):
    services.metric_update(
        metric=queue_depth,
        actor=actor,
        warning_threshold=None,
        critical_component_status="",
        name="Queue depth",
    )
    queue_depth.refresh_from_db()
    assert (queue_depth.name, queue_depth.warning_threshold) == ("Queue depth", None)
    assert queue_depth.critical_threshold == 500_000
    services.metric_points_record(metric=queue_depth, points=[(T0, 1.0)], actor=actor)
    services.metric_delete(metric=queue_depth, actor=actor)
    assert not MetricPoint.objects.exists()
    assert list(
        AuditEntry.objects.filter(action__in=["metric.update", "metric.delete"])
        .order_by("id")
        .values_list("action", "summary")
    ) == [("metric.update", "Queue depth"), ("metric.delete", "Queue depth")]


def test_below_metrics_alert_when_falling(catalogue, actor):
    m = services.metric_create(
        name="Dequeue rate",
        slug="dequeue",
        actor=actor,
        direction="below",
        warning_threshold=100,
        critical_threshold=10,
    )
    assert services.metric_level(m, 50) == "warning"
    assert services.metric_level(m, 5) == "critical"
    assert services.metric_level(m, 500) is None


def test_series_keeps_the_spike_and_the_gaps(queue_depth, actor):
    now = T0 + timedelta(hours=1)
    services.metric_points_record(
        metric=queue_depth,
        points=[(T0 + timedelta(minutes=m), v) for m, v in [(1, 5), (2, 900), (3, 7), (50, 3)]],
        actor=actor,
    )
    buckets = metric_series(queue_depth, span=timedelta(hours=1), buckets=6, now=now)
    assert [b.value for b in buckets] == [900, None, None, None, None, 3]
    svg = series_svg(buckets, title="Queue <depth>", unit=" runs", critical=500_000)
    assert "<title>Queue &lt;depth&gt;</title>" in svg and "chart-critical" in svg
    assert svg.count("<polyline") == 2  # the gap splits the line


def test_prune_keeps_90_days(queue_depth, actor):
    services.metric_points_record(
        metric=queue_depth, points=[(T0, 1), (T0 + timedelta(days=95), 2)], actor=actor
    )
    assert services.metric_points_prune(now=T0 + timedelta(days=95)) == 1
    assert list(MetricPoint.objects.values_list("value", flat=True)) == [2]


def test_staff_are_emailed_about_an_alert(queue_depth, actor, staff_user, django_user_model):
    django_user_model.objects.create_user("visitor", "v@example.com", "pw")
    services.metric_points_record(metric=queue_depth, points=[(T0, 600_000)], actor=actor)
    sent = metric_alert_email_staff(alert_id=MetricAlert.objects.get().pk)
    assert sent == 1
    assert mail.outbox[0].to == ["ic@example.com"]
    assert "critical" in mail.outbox[0].subject


def test_demo_metrics_are_a_quiet_week_and_load_once(catalogue):
    from statuspage.metrics.demo import DEMO_METRICS, load_demo_metrics

    now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    assert load_demo_metrics(now=now) == len(DEMO_METRICS)
    assert load_demo_metrics(now=now) == 0
    assert MetricPoint.objects.count() == len(DEMO_METRICS) * (7 * 24 * 6 + 1)
    assert MetricAlert.objects.count() == 0  # a demo week below every threshold
    catalogue["runs_us"].refresh_from_db()
    assert catalogue["runs_us"].metrics.count() == 3


def test_public_metrics_are_on_the_published_page_and_private_ones_are_not(
    catalogue, actor, client, django_capture_on_commit_callbacks
):
    from django.utils import timezone

    from statuspage.public.snapshot import snapshot_publish

    now = timezone.now()
    public = services.metric_create(name="Queued runs", slug="q", unit=" runs", actor=actor)
    services.metric_create(name="etcd write latency", slug="etcd", actor=actor, public=False)
    services.metric_points_record(
        metric=public, points=[(now - timedelta(minutes=30), 4200)], actor=actor
    )
    snapshot_publish(full=True)
    html = client.get("/").content.decode()
    assert "Queued runs" in html and "4200 runs" in html and "<polyline" in html
    assert "etcd write latency" not in html
