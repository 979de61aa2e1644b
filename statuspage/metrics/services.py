"""Writes of metrics: define a metric, record points, and raise or clear threshold alerts.

Recording points is the automation entry point (the API and `manage.py record_metric` call
it). Each call is one transaction: the points, the alert state and — when a metric is set
to drive a component — the component status change, through `component_set_status`, so the
history, audit trail, snapshot and notifications behave as if staff had done it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from statuspage import hooks, queues
from statuspage.metrics.models import AlertLevel, Metric, MetricAlert, MetricPoint
from statuspage.models import Component, ComponentStatus, ComponentStatusChange
from statuspage.services import UNSET, Actor, audit_record, component_set_status
from statuspage.text import clean_text, one_line

log = logging.getLogger(__name__)

MAX_POINTS_PER_CALL = 10_000
RETENTION = timedelta(days=90)


@dataclass(frozen=True)
class RecordResult:
    recorded: int
    level: str | None
    alert: MetricAlert | None


def _validate_thresholds(
    direction: str,
    warning: float | None,
    critical: float | None,
    component_status: str,
    has_component: bool,
) -> None:
    errors = {}
    if warning is not None and critical is not None:
        if direction == "above" and warning > critical:
            errors["warning_threshold"] = (
                "The warning threshold must not be above the critical one."
            )
        if direction == "below" and warning < critical:
            errors["warning_threshold"] = (
                "The warning threshold must not be below the critical one."
            )
    if component_status:
        if component_status not in ComponentStatus.values:
            errors["critical_component_status"] = f"'{component_status}' is not a component status."
        elif not has_component:
            errors["critical_component_status"] = "Choose the component the metric drives."
        elif critical is None:
            errors["critical_component_status"] = "Set a critical threshold first."
    if errors:
        raise ValidationError(errors)


def _clean_texts(
    *, name: str | None, unit: str | None, description: str | None
) -> tuple[str | None, str | None, str | None]:
    """A metric's texts as stored (`clean_text`): name and unit are one line each."""
    return (
        clean_text(name, field="name", single_line=True),
        clean_text(unit, field="unit", single_line=True, strip=False),
        clean_text(description, field="description"),
    )


@transaction.atomic
def metric_create(
    *,
    name: str,
    slug: str,
    actor: Actor,
    unit: str = "",
    description: str = "",
    component=None,
    public: bool = True,
    direction: str = "above",
    warning_threshold: float | None = None,
    critical_threshold: float | None = None,
    critical_component_status: str = "",
    position: int = 0,
) -> Metric:
    name, unit, description = _clean_texts(name=name, unit=unit, description=description)
    _validate_thresholds(
        direction,
        warning_threshold,
        critical_threshold,
        critical_component_status,
        component is not None,
    )
    metric = Metric(
        name=name,
        slug=slug,
        unit=unit,
        description=description,
        component=component,
        public=public,
        direction=direction,
        warning_threshold=warning_threshold,
        critical_threshold=critical_threshold,
        critical_component_status=critical_component_status,
        position=position,
    )
    metric.full_clean()
    metric.save()
    audit_record(actor=actor, action="metric.create", obj=metric, summary=name)
    if metric.public:
        hooks.public_changed()  # its graph is on the page
    return metric


@transaction.atomic
def metric_update(
    *,
    metric: Metric,
    actor: Actor,
    name: str | None = None,
    slug: str | None = None,
    unit: str | None = None,
    description: str | None = None,
    component: Component | None = UNSET,
    public: bool | None = None,
    direction: str | None = None,
    warning_threshold: float | None = UNSET,
    critical_threshold: float | None = UNSET,
    critical_component_status: str | None = None,
    position: int | None = None,
) -> Metric:
    """Change a metric's definition. `component` and the thresholds may be set to None (no
    component, no threshold); the new thresholds apply from the next point recorded."""
    name, unit, description = _clean_texts(name=name, unit=unit, description=description)
    metric = Metric.objects.select_for_update(of=("self",)).get(pk=metric.pk)
    was_public = metric.public
    for field, value in (
        ("name", name),
        ("slug", slug),
        ("unit", unit),
        ("description", description),
        ("public", public),
        ("direction", direction),
        ("critical_component_status", critical_component_status),
        ("position", position),
    ):
        if value is not None:
            setattr(metric, field, value)
    for field, value in (
        ("component", component),
        ("warning_threshold", warning_threshold),
        ("critical_threshold", critical_threshold),
    ):
        if value is not UNSET:
            setattr(metric, field, value)
    _validate_thresholds(
        metric.direction,
        metric.warning_threshold,
        metric.critical_threshold,
        metric.critical_component_status,
        metric.component_id is not None,
    )
    metric.full_clean()
    metric.save()
    audit_record(actor=actor, action="metric.update", obj=metric, summary=metric.name)
    if was_public or metric.public:
        hooks.public_changed()
    return metric


@transaction.atomic
def metric_delete(*, metric: Metric, actor: Actor) -> None:
    """Delete a metric with its points and alerts (a driven component keeps its status)."""
    audit_record(actor=actor, action="metric.delete", obj=metric, summary=metric.name)
    public = metric.public
    metric.delete()
    if public:
        hooks.public_changed()


def metric_level(metric: Metric, value: float) -> str | None:
    """The alert level a value reaches: critical, warning, or None."""

    def crosses(threshold: float | None) -> bool:
        if threshold is None:
            return False
        return value > threshold if metric.direction == "above" else value < threshold

    if crosses(metric.critical_threshold):
        return AlertLevel.CRITICAL
    if crosses(metric.warning_threshold):
        return AlertLevel.WARNING
    return None


def _clean_points(points: Iterable[tuple[datetime, float]]) -> list[tuple[datetime, float]]:
    cleaned = []
    for index, (at, value) in enumerate(points):
        if len(cleaned) >= MAX_POINTS_PER_CALL:
            raise ValidationError({"points": f"At most {MAX_POINTS_PER_CALL} points per call."})
        if not isinstance(at, datetime) or timezone.is_naive(at):
            raise ValidationError({"points": f"Point {index}: the time needs a time zone."})
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValidationError(
                {"points": f"Point {index}: '{value}' is not a number."}
            ) from None
        if not math.isfinite(number):
            raise ValidationError({"points": f"Point {index}: the value must be finite."})
        cleaned.append((at, number))
    if not cleaned:
        raise ValidationError({"points": "No points given."})
    return cleaned


def _drive_component(metric: Metric, alert: MetricAlert, actor: Actor, *, opening: bool) -> None:
    """Set (on a critical alert) or give back (when it clears) the driven component's status."""
    component = metric.component
    target = metric.critical_component_status
    if component is None or not target:
        return
    # As one line: a name stored before `clean_text` must not make the reason refused.
    name, unit = one_line(metric.name), one_line(metric.unit)
    if opening:
        component_set_status(
            component=component,
            status=target,
            actor=actor,
            reason=f"{name} is {alert.last_value:g}{unit} "
            f"({metric.direction} {metric.critical_threshold:g})",
        )
        return
    component.refresh_from_db()
    last = (
        ComponentStatusChange.objects.filter(component=component)
        .order_by("-created_at", "-id")
        .first()
    )
    # Give the status back only if nobody changed it since the metric did.
    if component.status == target and last is not None and last.actor_name == actor.name:
        component_set_status(
            component=component,
            status=last.old_status,
            actor=actor,
            reason=f"{name} is back to normal ({alert.last_value:g}{unit})",
        )


def _notify_staff_after_commit(alert: MetricAlert) -> None:
    def enqueue() -> None:
        try:
            queues.task("statuspage.metrics.tasks.metric_alert_notify").delay(alert.pk)
        except Exception:  # the broker may be down; the alert is visible in the console
            log.exception("could not enqueue the staff notification of metric alert %s", alert.pk)

    transaction.on_commit(enqueue)


@transaction.atomic
def metric_points_record(
    *, metric: Metric, points: Iterable[tuple[datetime, float]], actor: Actor
) -> RecordResult:
    """Store points (a point already stored for the same time is kept) and evaluate the
    thresholds on the newest point of the metric."""
    cleaned = _clean_points(points)
    metric = (
        Metric.objects.select_for_update(of=("self",)).select_related("component").get(pk=metric.pk)
    )
    MetricPoint.objects.bulk_create(
        [MetricPoint(metric=metric, at=at, value=value) for at, value in cleaned],
        ignore_conflicts=True,
        batch_size=1000,
    )
    newest = MetricPoint.objects.filter(metric=metric).order_by("-at").first()
    level = metric_level(metric, newest.value)
    alert = MetricAlert.objects.filter(metric=metric, closed_at__isnull=True).first()
    system = Actor.system(f"metric:{metric.slug}")
    if level and alert is None:
        alert = MetricAlert.objects.create(
            metric=metric,
            level=level,
            opened_at=newest.at,
            first_value=newest.value,
            peak_value=newest.value,
            last_value=newest.value,
        )
        audit_record(
            actor=actor,
            action="metric.alert_open",
            obj=metric,
            summary=f"{metric.name}: {level} at {newest.value:g}{metric.unit}",
        )
        if level == AlertLevel.CRITICAL:
            _drive_component(metric, alert, system, opening=True)
        _notify_staff_after_commit(alert)
    elif level and alert is not None:
        worse = max if metric.direction == "above" else min
        alert.peak_value = worse(alert.peak_value, newest.value)
        alert.last_value = newest.value
        escalated = level == AlertLevel.CRITICAL and alert.level == AlertLevel.WARNING
        if escalated:
            alert.level = AlertLevel.CRITICAL
        alert.save()
        if escalated:
            audit_record(
                actor=actor,
                action="metric.alert_escalate",
                obj=metric,
                summary=f"{metric.name}: critical at {newest.value:g}{metric.unit}",
            )
            _drive_component(metric, alert, system, opening=True)
            _notify_staff_after_commit(alert)
    elif alert is not None:
        alert.closed_at = newest.at
        alert.last_value = newest.value
        alert.save()
        audit_record(
            actor=actor,
            action="metric.alert_close",
            obj=metric,
            summary=f"{metric.name}: back to normal at {newest.value:g}{metric.unit}",
        )
        if alert.level == AlertLevel.CRITICAL:
            _drive_component(metric, alert, system, opening=False)
        alert = None
    return RecordResult(recorded=len(cleaned), level=level, alert=alert)


def metric_points_prune(*, now: datetime | None = None) -> int:
    """Delete points older than the retention (90 days, the span of the uptime bars)."""
    cutoff = (now or timezone.now()) - RETENTION
    deleted, _ = MetricPoint.objects.filter(at__lt=cutoff).delete()
    return deleted


@transaction.atomic
def metric_points_record_many(
    *, batches: Iterable[tuple[Metric, Iterable[tuple[datetime, float]]]], actor: Actor
) -> list[RecordResult]:
    """Points of several metrics in one transaction (the API's `metrics/data`): a batch
    refused for one metric records nothing for the others."""
    return [
        metric_points_record(metric=metric, points=points, actor=actor)
        for metric, points in batches
    ]
