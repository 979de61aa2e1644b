"""Demo metrics for `manage.py load_demo`: queue depth per region (public) and the control
plane signals the June report names (staff only), with a week of points. Idempotent: a metric
that exists already is left as it is."""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta

from django.utils import timezone

from statuspage.metrics.models import Metric
from statuspage.metrics.services import metric_create, metric_points_record
from statuspage.models import Component
from statuspage.services import Actor

ACTOR = Actor.system("demo")
STEP = timedelta(minutes=10)
SPAN = timedelta(days=7)

# slug, name, unit, region, public, warning, critical, base, daily swing
DEMO_METRICS = [
    (
        "queue-depth-us-east-1",
        "Queued runs (us-east-1)",
        " runs",
        "us-east-1",
        True,
        50_000,
        500_000,
        9_000,
        6_000,
    ),
    (
        "queue-depth-eu-central-1",
        "Queued runs (eu-central-1)",
        " runs",
        "eu-central-1",
        True,
        20_000,
        200_000,
        3_000,
        2_000,
    ),
    (
        "control-plane-cpu-us-east-1",
        "Control plane CPU (us-east-1)",
        "%",
        "us-east-1",
        False,
        70,
        90,
        30,
        10,
    ),
    (
        "etcd-write-latency-us-east-1",
        "etcd write latency (us-east-1)",
        " ms",
        "us-east-1",
        False,
        50,
        200,
        8,
        4,
    ),
]


def _series(
    now: datetime, base: float, swing: float, seed: int, *, count: bool = False
) -> list[tuple[datetime, float]]:
    """A week of points; a count (queued runs) is a whole number, a latency has a decimal."""
    rng = random.Random(seed)
    start = (now - SPAN).replace(second=0, microsecond=0)
    points, at = [], start
    while at <= now:
        hour = at.hour + at.minute / 60
        daily = math.sin((hour - 8) / 24 * 2 * math.pi)  # busiest in the UTC afternoon
        top_of_hour = 1.4 if at.minute == 0 else 1.0  # scheduled runs fire on the hour
        value = max(0.0, (base + swing * daily) * top_of_hour * rng.uniform(0.9, 1.1))
        points.append((at, float(round(value)) if count else round(value, 1)))
        at += STEP
    return points


def load_demo_metrics(*, now: datetime | None = None) -> int:
    """Create the demo metrics that are missing, each with a week of points. Returns how many."""
    now = now or timezone.now()
    created = 0
    for index, (slug, name, unit, region, public, warning, critical, base, swing) in enumerate(
        DEMO_METRICS
    ):
        if Metric.objects.filter(slug=slug).exists():
            continue
        component = Component.objects.filter(
            service__slug="run-execution", region__slug=region
        ).first()
        metric = metric_create(
            name=name,
            slug=slug,
            unit=unit,
            actor=ACTOR,
            component=component,
            public=public,
            warning_threshold=warning,
            critical_threshold=critical,
            position=index,
            description="Runs waiting to start" if slug.startswith("queue") else "",
        )
        points = _series(now, base, swing, index, count=unit.strip() == "runs")
        metric_points_record(metric=metric, points=points, actor=ACTOR)
        created += 1
    return created
