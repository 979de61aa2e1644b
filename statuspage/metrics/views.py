"""Staff page of metrics: every metric's last day as a graph, its thresholds, open alerts and
the alert history. Thresholds and metrics are edited in the admin; points come from the API."""

from __future__ import annotations

from datetime import timedelta

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.safestring import mark_safe

from incidents.views import console_view
from statuspage.metrics.charts import series_svg
from statuspage.metrics.models import Metric, MetricAlert
from statuspage.metrics.selectors import metric_latest_points, metric_series


@console_view
def metrics_console(request: HttpRequest) -> HttpResponse:
    hours = request.GET.get("hours", "24")
    # isdigit() alone takes "²", which int() refuses: ASCII digits only.
    valid = hours.isascii() and hours.isdigit() and int(hours) > 0
    span = timedelta(hours=min(int(hours), 24 * 90) if valid else 24)
    latest = metric_latest_points()
    open_alerts = {a.metric_id: a for a in MetricAlert.objects.filter(closed_at__isnull=True)}
    rows = []
    for metric in Metric.objects.select_related("component__service", "component__region"):
        rows.append(
            {
                "metric": metric,
                "latest": latest.get(metric.pk),
                "alert": open_alerts.get(metric.pk),
                "svg": mark_safe(  # built by series_svg, which escapes every text it writes
                    series_svg(
                        metric_series(metric, span=span),
                        title=f"{metric.name}, last {span.total_seconds() / 3600:g} h",
                        unit=metric.unit,
                        warning=metric.warning_threshold,
                        critical=metric.critical_threshold,
                    )
                ),
            }
        )
    history = MetricAlert.objects.select_related("metric")[:50]
    return render(
        request,
        "console/metrics.html",
        {"rows": rows, "history": history, "hours": int(span.total_seconds() // 3600)},
    )
