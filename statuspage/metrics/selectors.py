"""Reads of metrics and detection: series bucketed for graphs, open alerts, open drafts."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Max
from django.utils import timezone
from django.utils.safestring import mark_safe

from statuspage.metrics.charts import Bucket, format_value, is_count, series_svg
from statuspage.metrics.models import (
    Alert,
    AlertIntake,
    AlertSource,
    CheckIn,
    IncidentDraft,
    Metric,
    MetricAlert,
    MetricPoint,
)


def metric_series(
    metric: Metric,
    *,
    span: timedelta = timedelta(hours=24),
    buckets: int = 96,
    now: datetime | None = None,
) -> list[Bucket]:
    """The metric over `span`, in `buckets` equal slices, each showing its worst value, so a
    spike is never averaged away."""
    now = now or timezone.now()
    start = now - span
    width = span / buckets
    values: list[float | None] = [None] * buckets
    worse = max if metric.direction == "above" else min
    rows = MetricPoint.objects.filter(metric=metric, at__gte=start, at__lte=now).values_list(
        "at", "value"
    )
    for at, value in rows.iterator(chunk_size=5000):
        index = min(int((at - start) / width), buckets - 1)
        current = values[index]
        values[index] = value if current is None else worse(current, value)
    return [Bucket(start=start + i * width, value=v) for i, v in enumerate(values)]


def metric_points_between(
    metric: Metric, *, start: datetime, end: datetime, limit: int
) -> list[tuple[datetime, float]]:
    """The points of `metric` from `start` to `end` (both included), oldest first, at most
    `limit` of them."""
    rows = MetricPoint.objects.filter(metric=metric, at__gte=start, at__lte=end).order_by("at")
    return list(rows.values_list("at", "value")[:limit])


def metrics_public():
    return Metric.objects.filter(public=True).select_related(
        "component__service", "component__region"
    )


def metric_latest_points() -> dict[int, tuple[datetime, float]]:
    """The newest point of every metric, in two queries."""
    newest = dict(
        MetricPoint.objects.values("metric").annotate(at=Max("at")).values_list("metric", "at")
    )
    if not newest:
        return {}
    rows = MetricPoint.objects.filter(at__in=set(newest.values()), metric__in=newest.keys())
    return {p.metric_id: (p.at, p.value) for p in rows if newest.get(p.metric_id) == p.at}


def alerts_open():
    return MetricAlert.objects.filter(closed_at__isnull=True).select_related("metric")


def detection_alerts_open():
    """Alerts of alert sources and check-ins not closed yet (firing, or resolved and held)."""
    return Alert.objects.filter(closed_at__isnull=True).select_related(
        "source", "checkin", "component__service", "component__region"
    )


def incident_drafts_open():
    """Incidents drafted from alerts that nobody published or discarded yet."""
    return IncidentDraft.objects.filter(
        published_at__isnull=True, discarded_at__isnull=True
    ).select_related("alert__source", "alert__checkin")


def dashboard_alerts() -> dict:
    """The console dashboard's open alerts and drafts: early signals, not yet declared."""
    return {
        "metric_alerts": list(alerts_open()),
        "detection_alerts": list(detection_alerts_open()),
        "incident_drafts": list(incident_drafts_open()),
    }


def detection_overview(*, recent: int = 50) -> dict:
    """The console's alerts page: sources and check-ins with their URLs, open and recent
    alerts, the last intakes (what came in, what was done)."""
    return {
        "sources": list(AlertSource.objects.all()),
        "checkins": list(CheckIn.objects.select_related("component__service", "component__region")),
        "open_alerts": list(detection_alerts_open()),
        "recent_alerts": list(
            Alert.objects.filter(closed_at__isnull=False).select_related(
                "source", "checkin", "component__service", "component__region"
            )[:recent]
        ),
        "intakes": list(AlertIntake.objects.select_related("source", "checkin")[:30]),
    }


def metrics_for_page(*, now: datetime, span: timedelta = timedelta(hours=24)) -> list[dict]:
    """The public metrics with their graph of the last day, for the published page. `now` is
    the one latest value (the caption says it; the graph says none of its own), written like
    the graph's axis: whole numbers for a count."""
    latest = metric_latest_points()
    rows = []
    for metric in metrics_public():
        point = latest.get(metric.pk)
        buckets = metric_series(metric, span=span, now=now)
        known = [b.value for b in buckets if b.value is not None]
        integral = is_count(known + ([point[1]] if point else []))
        rows.append(
            {
                "metric": metric,
                "latest_value": point[1] if point else None,
                "latest_at": point[0] if point else None,
                "now": {
                    "text": format_value(point[1], integral=integral, unit=metric.unit),
                    "at": point[0],
                }
                if point
                else None,
                # series_svg escapes every text it writes.
                "svg": mark_safe(
                    series_svg(
                        buckets,
                        title=f"{metric.name} over the last {span.total_seconds() / 3600:g} hours",
                        unit=metric.unit,
                    )
                ),
            }
        )
    return rows
