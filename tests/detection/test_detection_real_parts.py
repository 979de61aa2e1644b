"""Real parts: Debian's prometheus-alertmanager posting to Heliograph's intake URL over a
real socket (Django's live server), and Debian's prometheus scraping a tiny exporter that a
PromQL-fed metric reads. Both run on loopback ports with temporary configs (servers.py);
`make test` installs the packages when they are missing."""

from __future__ import annotations

import io
import time
from datetime import timedelta

import pytest
import requests
from django.core.management import call_command
from django.utils import timezone
from servers import Alertmanager, Exporter, Prometheus, wait_until

from statuspage.metrics.models import Alert, AlertSource, AlertState, MetricAlert
from statuspage.metrics.services import (
    alerts_release_due,
    metric_create,
    metric_pull_prometheus,
    metrics_pull_prometheus,
)

pytestmark = pytest.mark.django_db(transaction=True)


def summary_status(base: str, component_name: str) -> str | None:
    """The component's status as the public /api/v2/summary.json shows it."""
    response = requests.get(f"{base}/api/v2/summary.json", timeout=5)
    if response.status_code != 200:
        return None
    for component in response.json()["components"]:
        if component["name"] == component_name:
            return component["status"]
    return None


def test_an_alert_through_the_real_alertmanager_moves_the_public_page_and_back(
    live_server, catalogue
):
    out = io.StringIO()
    call_command(
        "create_alert_source",
        "prod-am",
        "--kind",
        "alertmanager",
        "--automation",
        "component",
        stdout=out,
    )
    url = out.getvalue().splitlines()[0].removeprefix("url: ")
    source = AlertSource.objects.get()
    # The printed URL is on the configured site; Alertmanager posts to the live server's.
    assert url.endswith(source.intake_path)
    alertmanager = Alertmanager(f"{live_server.url}{source.intake_path}")
    try:
        labels = {
            "alertname": "RunQueueStalled",
            "service": "run-execution",
            "region": "us-east-1",
            "severity": "critical",
        }
        started = time.monotonic()
        alertmanager.post_alert(labels, {"summary": "Runs are not being dequeued"})
        wait_until(
            lambda: summary_status(live_server.url, "Run execution (us-east-1)") == "major_outage",
            timeout=15,
            what="major outage on summary.json",
        )
        assert time.monotonic() - started < 5  # the goal
        assert summary_status(live_server.url, "Run execution (eu-central-1)") == "operational"

        alertmanager.post_alert(labels, resolved=True)
        wait_until(
            lambda: Alert.objects.filter(state=AlertState.RESOLVING).exists(),
            timeout=15,
            what="the resolved notification",
        )
        # Held for the hold-down (a flapping alert does not flap the page), then given back.
        assert summary_status(live_server.url, "Run execution (us-east-1)") == "major_outage"
        later = timezone.now() + timedelta(seconds=source.hold_down + 1)
        assert alerts_release_due(now=later) == 1
        wait_until(
            lambda: summary_status(live_server.url, "Run execution (us-east-1)") == "operational",
            timeout=10,
            what="operational on summary.json",
        )
        intakes = list(source.intakes.order_by("received_at"))
        assert [i.status_code for i in intakes] == [200, 200]
        assert intakes[0].actions[-1] == "Run execution (us-east-1): operational → major_outage"
    finally:
        alertmanager.close()


def test_a_promql_fed_metric_crosses_its_threshold_and_raises_an_alert(catalogue, actor):
    exporter = Exporter(heliograph_test_queue_depth=1200)
    prometheus = Prometheus([exporter.address])
    try:
        metric = metric_create(
            name="Queued runs (us-east-1)",
            slug="queued-runs",
            actor=actor,
            component=catalogue["runs_us"],
            warning_threshold=50_000,
            critical_threshold=500_000,
            critical_component_status="degraded_performance",
            prometheus_url=prometheus.url,
            prometheus_query="max(heliograph_test_queue_depth)",
            prometheus_interval=5,
        )
        wait_until(
            lambda: metric_pull_prometheus(metric=metric) is not None,
            timeout=20,
            interval=0.5,
            what="a first value from Prometheus",
        )
        assert metric.points.get().value == 1200 and not MetricAlert.objects.exists()

        exporter.values["heliograph_test_queue_depth"] = 900_000
        result = wait_until(
            lambda: (r := metric_pull_prometheus(metric=metric)) and r.level == "critical" and r,
            timeout=20,
            interval=0.5,
            what="the critical value through Prometheus",
        )
        assert result.alert.level == "critical" and result.alert.last_value == 900_000
        catalogue["runs_us"].refresh_from_db()
        assert catalogue["runs_us"].status == "degraded_performance"
        metric.refresh_from_db()
        assert metric.prometheus_error == ""

        # A query that answers several series is refused with a reason kept for staff.
        metric.prometheus_query = "up or vector(1)"
        metric.save()
        assert metric_pull_prometheus(metric=metric) is None
        metric.refresh_from_db()
        assert "series" in metric.prometheus_error

        # Beat pulls only what is due.
        metric.refresh_from_db()
        assert metrics_pull_prometheus(now=metric.prometheus_pulled_at + timedelta(seconds=1)) == 0
    finally:
        prometheus.close()
        exporter.close()


def test_an_unreachable_prometheus_is_an_error_on_the_metric_not_a_crash(catalogue, actor):
    metric = metric_create(
        name="Lag",
        slug="lag",
        actor=actor,
        critical_threshold=10,
        prometheus_url="http://127.0.0.1:9",  # discard port: nothing listens
        prometheus_query="max(lag)",
    )
    assert metrics_pull_prometheus() == 1
    metric.refresh_from_db()
    assert metric.prometheus_error.startswith("Prometheus unreachable")
    assert not metric.points.exists()
