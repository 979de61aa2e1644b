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

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from incidents.models import Incident
from incidents.services import incident_declare
from notifier.services import staff_notice_post
from statuspage import hooks, queues
from statuspage.metrics import prometheus
from statuspage.metrics.intake import IncomingAlert, PayloadError, parse_alerts
from statuspage.metrics.models import (
    Alert,
    AlertIntake,
    AlertLevel,
    AlertSource,
    AlertSourceKind,
    AlertState,
    Automation,
    CheckIn,
    IncidentDraft,
    Metric,
    MetricAlert,
    MetricPoint,
    default_severity_map,
    new_intake_secret,
)
from statuspage.metrics.prometheus import PrometheusError, check_prometheus_url
from statuspage.models import Component, ComponentStatus, ComponentStatusChange
from statuspage.selectors import component_last_change
from statuspage.services import UNSET, Actor, audit_record, component_set_status
from statuspage.status import impact_for_component_statuses, worse_status, worst_status
from statuspage.text import clean_text, one_line

log = logging.getLogger(__name__)

MAX_POINTS_PER_CALL = 10_000
RETENTION = timedelta(days=90)
MIN_PROMETHEUS_INTERVAL = 5
MAX_SECONDS = 10 * 365 * 24 * 3600


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


def _validate_prometheus(url: str, query: str, interval: int) -> tuple[str, str]:
    """A Prometheus source: both a base URL and a query, or neither. The URL may be private
    (see statuspage/metrics/prometheus.py for why)."""
    url = (url or "").strip()
    query = clean_text(query or "", field="prometheus_query").strip()
    if query and not url:
        raise ValidationError({"prometheus_url": "Give the Prometheus base URL for the query."})
    if url and not query:
        raise ValidationError({"prometheus_query": "Give the PromQL query to run."})
    _validate_seconds("prometheus_interval", interval, MIN_PROMETHEUS_INTERVAL)
    if url:
        url = check_prometheus_url(url)
    if len(query) > 2000:
        raise ValidationError({"prometheus_query": "At most 2000 characters."})
    return url, query


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
    prometheus_url: str = "",
    prometheus_query: str = "",
    prometheus_interval: int = 60,
) -> Metric:
    """Define a metric. With `prometheus_url` and `prometheus_query` beat pulls its points
    from Prometheus every `prometheus_interval` seconds instead of waiting for pushes."""
    name, unit, description = _clean_texts(name=name, unit=unit, description=description)
    prometheus_url, prometheus_query = _validate_prometheus(
        prometheus_url, prometheus_query, prometheus_interval
    )
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
        prometheus_url=prometheus_url,
        prometheus_query=prometheus_query,
        prometheus_interval=prometheus_interval,
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
    prometheus_url: str | None = None,
    prometheus_query: str | None = None,
    prometheus_interval: int | None = None,
) -> Metric:
    """Change a metric's definition. `component` and the thresholds may be set to None (no
    component, no threshold); the new thresholds apply from the next point recorded. An
    empty `prometheus_query` makes it a pushed metric again."""
    name, unit, description = _clean_texts(name=name, unit=unit, description=description)
    metric = Metric.objects.select_for_update(of=("self",)).get(pk=metric.pk)
    if prometheus_query == "" and prometheus_url is None:
        prometheus_url = ""  # no query: a pushed metric again
    url, query = _validate_prometheus(
        metric.prometheus_url if prometheus_url is None else prometheus_url,
        metric.prometheus_query if prometheus_query is None else prometheus_query,
        metric.prometheus_interval if prometheus_interval is None else prometheus_interval,
    )
    metric.prometheus_url, metric.prometheus_query = url, query
    if prometheus_interval is not None:
        metric.prometheus_interval = prometheus_interval
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


def component_drive(
    *,
    component: Component,
    actor: Actor,
    reason: str,
    status: str,
    taken: ComponentStatusChange | None = None,
) -> ComponentStatusChange | None:
    """The one way automation (metric thresholds, alert sources, check-ins) moves a
    component, through `component_set_status` (history, audit as `actor`, notifications,
    republish). Returns the change it made, or None.

    Without `taken`, *take* it: set `status`, unless the component already shows a status at
    least as bad (automation never makes the page look better than a human, or another alert,
    made it) or is under maintenance (people are working on it; an alert then is expected).

    With `taken` (the change the automation made when it took the component), *give it
    back*: set `status` (the status to return to) only if nobody changed the component since
    `taken` — a human who set a status in between keeps it.
    """
    component = Component.objects.get(pk=component.pk)
    if taken is None:
        if component.status == ComponentStatus.UNDER_MAINTENANCE:
            return None
        if worse_status(component.status, status) == component.status:
            return None
        return component_set_status(component=component, status=status, actor=actor, reason=reason)
    last = component_last_change(component)
    if last is None or last.pk != taken.pk:
        return None
    return component_set_status(component=component, status=status, actor=actor, reason=reason)


def _drive_component(metric: Metric, alert: MetricAlert, actor: Actor, *, opening: bool) -> None:
    """Set (on a critical alert) or give back (when it clears) the driven component's status,
    through `component_drive`."""
    component = metric.component
    target = metric.critical_component_status
    if component is None or not target:
        return
    # As one line: a name stored before `clean_text` must not make the reason refused.
    name, unit = one_line(metric.name), one_line(metric.unit)
    if opening:
        change = component_drive(
            component=component,
            status=target,
            actor=actor,
            reason=f"{name} is {alert.last_value:g}{unit} "
            f"({metric.direction} {metric.critical_threshold:g})",
        )
        if change is not None:
            alert.taken_change = change
            alert.save(update_fields=["taken_change"])
        return
    taken = alert.taken_change
    if taken is None:
        # An alert opened before alerts kept their change (v0.1): the last change, if the
        # metric made it.
        last = component_last_change(component)
        taken = last if last is not None and last.actor_name == actor.name else None
    if taken is not None:
        component_drive(
            component=component,
            status=taken.old_status,
            taken=taken,
            actor=actor,
            reason=f"{name} is back to normal ({alert.last_value:g}{unit})",
        )


def _notify_staff_after_commit(alert: MetricAlert) -> None:
    """Email staff (the metric's own email, after commit) and post a staff notice to the chat
    channels marked `staff_alerts` (in this transaction, through the outbox)."""
    metric = alert.metric
    staff_notice_post(
        key=f"metric-alert:{alert.pk}:{alert.level}",
        title=f"{one_line(metric.name)}: {alert.level} ({alert.last_value:g}{one_line(metric.unit)})",
        body=f"{one_line(metric.name)} crossed its {alert.level} threshold "
        f"({metric.direction} {metric.critical_threshold if alert.level == 'critical' else metric.warning_threshold:g}).",
        url=f"{settings.SITE_URL}/console/metrics/",
        status=(
            ComponentStatus.MAJOR_OUTAGE
            if alert.level == AlertLevel.CRITICAL
            else ComponentStatus.DEGRADED_PERFORMANCE
        ),
        status_label=f"Metric {alert.level}",
        email=False,
    )

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


# --- Detection: alert sources, check-ins, alerts, drafts, Prometheus -----------------------------
#
# An alert source's intake (`alert_source_intake`) and a check-in's (`checkin_ping`) are called
# by anonymous requests that carry the secret in the URL: they validate the payload first (a
# refused one is recorded and changes nothing else), then handle every alert in one
# transaction, recorded with what was done (`AlertIntake`). Handling the same payload twice
# changes nothing the second time: alerts are deduplicated by their fingerprint, one open
# alert per fingerprint and source.

INTAKE_RECORD_LIMIT = 64 * 1024
INTAKE_RETENTION = timedelta(days=30)
STATUS_LABELS = dict(ComponentStatus.choices)


@dataclass(frozen=True)
class IntakeResult:
    """What an intake answers: the HTTP status, a message, and what was done."""

    status_code: int
    message: str
    actions: list[str]


def _alerts_url() -> str:
    return f"{settings.SITE_URL}/console/metrics/alerts/"


def _validate_severity_map(value: object) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ValidationError({"severity_map": 'Give an object like {"critical": "major_outage"}.'})
    cleaned = {}
    for severity, status in value.items():
        key = one_line(severity).lower()
        if not key:
            raise ValidationError({"severity_map": "A severity name is empty."})
        if status and status not in ComponentStatus.values:
            raise ValidationError(
                {
                    "severity_map": f"{severity}: '{status}' is not a component status; use one "
                    f"of {', '.join(ComponentStatus.values)} (or leave it out)."
                }
            )
        if status:
            cleaned[key] = status
    return cleaned


def _validate_choice(field: str, value: str, choices: list[str]) -> None:
    if value not in choices:
        raise ValidationError({field: f"'{value}' is not one of {', '.join(choices)}."})


def _validate_name(name: str | None) -> str | None:
    name = clean_text(name, field="name", single_line=True)
    if name is not None and not name:
        raise ValidationError({"name": "The name is required."})
    if name is not None and len(name) > 200:
        raise ValidationError({"name": f"The name is {len(name)} characters long; at most 200."})
    return name


@transaction.atomic
def alert_source_create(
    *,
    name: str,
    kind: str,
    actor: Actor,
    automation: str = Automation.COMPONENT,
    severity_map: dict[str, str] | None = None,
    hold_down: int | None = None,
    enabled: bool = True,
) -> AlertSource:
    """Add an alert source; its intake URL carries a new secret (`AlertSource.intake_path`)."""
    name = _validate_name(name)
    _validate_choice("kind", kind, AlertSourceKind.values)
    _validate_choice("automation", automation, Automation.values)
    mapping = (
        _validate_severity_map(severity_map) if severity_map is not None else default_severity_map()
    )
    _validate_seconds("hold_down", hold_down, 0)
    if AlertSource.objects.filter(name=name).exists():
        raise ValidationError({"name": f"An alert source is already called “{name}”."})
    source = AlertSource.objects.create(
        name=name,
        kind=kind,
        automation=automation,
        severity_map=mapping,
        hold_down=settings.HELIOGRAPH_ALERT_HOLD_DOWN if hold_down is None else hold_down,
        enabled=enabled,
    )
    audit_record(actor=actor, action="alert_source.create", obj=source, summary=f"{name} ({kind})")
    return source


@transaction.atomic
def alert_source_update(
    *,
    source: AlertSource,
    actor: Actor,
    name: str | None = None,
    automation: str | None = None,
    severity_map: dict[str, str] | None = None,
    hold_down: int | None = None,
    enabled: bool | None = None,
    new_secret: bool = False,
) -> AlertSource:
    """Change an alert source. `new_secret` replaces its intake URL (the old one stops
    working at once: give the new one to the sender). Open alerts keep what they did."""
    name = _validate_name(name)
    if automation is not None:
        _validate_choice("automation", automation, Automation.values)
    mapping = _validate_severity_map(severity_map) if severity_map is not None else None
    _validate_seconds("hold_down", hold_down, 0)
    source = AlertSource.objects.select_for_update().get(pk=source.pk)
    if name is not None and AlertSource.objects.filter(name=name).exclude(pk=source.pk).exists():
        raise ValidationError({"name": f"An alert source is already called “{name}”."})
    for field, value in (
        ("name", name),
        ("automation", automation),
        ("severity_map", mapping),
        ("hold_down", hold_down),
        ("enabled", enabled),
    ):
        if value is not None:
            setattr(source, field, value)
    if new_secret:
        source.secret = new_intake_secret()
    source.save()
    audit_record(
        actor=actor,
        action="alert_source.update",
        obj=source,
        summary=source.name + (" (new intake URL)" if new_secret else ""),
    )
    return source


@transaction.atomic
def alert_source_delete(*, source: AlertSource, actor: Actor) -> None:
    """Delete an alert source with its alerts and intakes. Components keep their status."""
    audit_record(actor=actor, action="alert_source.delete", obj=source, summary=source.name)
    source.delete()


def _validate_seconds(field: str, value: int | None, minimum: int) -> None:
    """A number of seconds from `minimum` to MAX_SECONDS (ten years: also what a PostgreSQL
    integer holds, so no door gets a 500 for a huge number)."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= MAX_SECONDS:
        raise ValidationError(
            {field: f"A number of seconds from {minimum} to {MAX_SECONDS} (ten years)."}
        )


def _validate_checkin(
    period: int | None, grace: int | None, component_status: str | None, automation: str | None
) -> None:
    _validate_seconds("period", period, 1)
    _validate_seconds("grace", grace, 0)
    if component_status is not None:
        _validate_choice("component_status", component_status, ComponentStatus.values)
    if automation is not None:
        _validate_choice("automation", automation, Automation.values)


@transaction.atomic
def checkin_create(
    *,
    name: str,
    period: int,
    actor: Actor,
    grace: int = 300,
    component: Component | None = None,
    component_status: str = ComponentStatus.DEGRADED_PERFORMANCE,
    automation: str = Automation.COMPONENT,
    enabled: bool = True,
) -> CheckIn:
    """Add a check-in. It raises nothing until its job has called it once."""
    name = _validate_name(name)
    _validate_checkin(period, grace, component_status, automation)
    if CheckIn.objects.filter(name=name).exists():
        raise ValidationError({"name": f"A check-in is already called “{name}”."})
    checkin = CheckIn.objects.create(
        name=name,
        period=period,
        grace=grace,
        component=component,
        component_status=component_status,
        automation=automation,
        enabled=enabled,
    )
    audit_record(
        actor=actor,
        action="checkin.create",
        obj=checkin,
        summary=f"{name}: every {period} s, grace {grace} s",
    )
    return checkin


@transaction.atomic
def checkin_update(
    *,
    checkin: CheckIn,
    actor: Actor,
    name: str | None = None,
    period: int | None = None,
    grace: int | None = None,
    component: Component | None = UNSET,
    component_status: str | None = None,
    automation: str | None = None,
    enabled: bool | None = None,
    new_secret: bool = False,
) -> CheckIn:
    """Change a check-in; a new period or grace applies from its next call."""
    name = _validate_name(name)
    _validate_checkin(period, grace, component_status, automation)
    checkin = CheckIn.objects.select_for_update().get(pk=checkin.pk)
    if name is not None and CheckIn.objects.filter(name=name).exclude(pk=checkin.pk).exists():
        raise ValidationError({"name": f"A check-in is already called “{name}”."})
    for field, value in (
        ("name", name),
        ("period", period),
        ("grace", grace),
        ("component_status", component_status),
        ("automation", automation),
        ("enabled", enabled),
    ):
        if value is not None:
            setattr(checkin, field, value)
    if component is not UNSET:
        checkin.component = component
    if new_secret:
        checkin.secret = new_intake_secret()
    checkin.save()
    audit_record(actor=actor, action="checkin.update", obj=checkin, summary=checkin.name)
    return checkin


@transaction.atomic
def checkin_delete(*, checkin: CheckIn, actor: Actor) -> None:
    audit_record(actor=actor, action="checkin.delete", obj=checkin, summary=checkin.name)
    checkin.delete()


def _actor_for(origin: AlertSource | CheckIn) -> Actor:
    """Who the automation acts as: the source (or check-in), in history and audit."""
    if isinstance(origin, AlertSource):
        return Actor.system(f"alert-source:{one_line(origin.name)}")
    return Actor.system(f"checkin:{one_line(origin.name)}")


def _as_record(body: bytes) -> str:
    """What came in, as stored text: the first 64 KB, control characters and ANSI sequences
    made spaces line by line (`one_line`), so what is recorded passes `clean_text`."""
    text = body[:INTAKE_RECORD_LIMIT].decode("utf-8", errors="replace")
    return "\n".join(one_line(line) for line in text.replace("\r", "\n").split("\n"))


def _record_intake(
    *,
    origin: AlertSource | CheckIn,
    body: bytes,
    status_code: int,
    actions: list[str],
    remote_addr: str | None,
    now: datetime,
) -> AlertIntake:
    field = "source" if isinstance(origin, AlertSource) else "checkin"
    return AlertIntake.objects.create(
        **{field: origin},
        received_at=now,
        remote_addr=remote_addr or None,
        body=clean_text(_as_record(body), field="body"),
        status_code=status_code,
        actions=actions,
    )


class _Components:
    """Components named by alert labels, looked up once per intake."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, str, str], Component | None] = {}

    def find(self, incoming: IncomingAlert) -> Component | None:
        key = (incoming.component_id, incoming.service, incoming.region)
        if key not in self._cache:
            rows = Component.objects.select_related("service", "region")
            if incoming.component_id:
                found = rows.filter(public_id=incoming.component_id).first()
            elif incoming.service:
                rows = rows.filter(service__slug=incoming.service)
                found = (
                    rows.filter(region__slug=incoming.region).first()
                    if incoming.region
                    else rows.filter(region__isnull=True).first()
                )
            else:
                found = None
            self._cache[key] = found
        return self._cache[key]


def _tell_staff(alert: Alert, event: str, title: str, body: str, status: str) -> None:
    labels = {
        "firing": "Alert firing",
        "resolved": "Alert resolved",
        "missed": "Check-in missed",
        "failed": "Check-in failed",
        "draft": "Incident draft",
    }
    staff_notice_post(
        key=f"alert:{alert.pk}:{event}",
        title=title,
        body=body,
        url=_alerts_url(),
        status=status,
        status_label=labels.get(event, "Alert"),
    )


def _draft_create(alert: Alert) -> IncidentDraft:
    """An incident drafted from an alert: its name, the component and status it asks for."""
    component = alert.component
    statuses = (
        {component.public_id: alert.component_status}
        if component is not None and alert.component_status
        else {}
    )
    name = clean_text(one_line(alert.summary or alert.name), field="name", single_line=True)[:255]
    where = f" affecting {component.name}" if component is not None else ""
    body = f"We are investigating an issue{where}. More soon."
    draft = IncidentDraft.objects.create(
        alert=alert,
        name=name or "Incident",
        body=body,
        impact=impact_for_component_statuses(
            [alert.component_status] if alert.component_status else []
        ),
        component_statuses=statuses,
    )
    _tell_staff(
        alert,
        "draft",
        f"Draft ready: {draft.name}",
        "An incident was drafted from an alert. Publish it from the console dashboard "
        f"({settings.SITE_URL}/console/) with one click, or discard it.",
        alert.component_status or ComponentStatus.MAJOR_OUTAGE,
    )
    return draft


def _alert_open(
    origin: AlertSource | CheckIn,
    incoming: IncomingAlert,
    component: Component | None,
    target: str,
    now: datetime,
    event: str,
) -> list[str]:
    actor = _actor_for(origin)
    automation = origin.automation
    unknown = "" if component is not None else incoming.component_ref
    alert = Alert.objects.create(
        source=origin if isinstance(origin, AlertSource) else None,
        checkin=origin if isinstance(origin, CheckIn) else None,
        fingerprint=incoming.fingerprint,
        name=incoming.name,
        summary=incoming.summary,
        severity=incoming.severity,
        labels=incoming.labels,
        component=component,
        component_status=target if component is not None else "",
        unknown_component=unknown,
        automation=automation,
        state=AlertState.FIRING,
        started_at=now,
        last_received_at=now,
    )
    actions = [f"{alert.name}: firing, alert opened"]
    told = [incoming.summary] if incoming.summary else []
    if unknown:
        actions.append(f"no component matches {unknown}: staff told")
        told.append(f"No component matches {unknown}: nothing on the page was changed.")
    elif component is None:
        actions.append("the alert names no component: staff told")
    if component is not None and automation != Automation.OFF and target:
        reason = f"{one_line(origin.name)}: {alert.name}"
        change = component_drive(component=component, status=target, actor=actor, reason=reason)
        if change is not None:
            alert.taken_change, alert.restore_status = change, change.old_status
            alert.save(update_fields=["taken_change", "restore_status"])
            actions.append(f"{component.name}: {change.old_status} → {target}")
            told.append(f"{component.name} is now {STATUS_LABELS[target]} on the public page.")
        else:
            component.refresh_from_db()
            actions.append(
                f"{component.name} left {component.status} (already as bad, or in maintenance)"
            )
    elif component is not None and target:
        told.append(f"{component.name} would be {STATUS_LABELS[target]} (automation is off).")
    audit_record(
        actor=actor,
        action="alert.fire",
        obj=origin,
        summary=f"{alert.name}" + (f" ({component.name})" if component else ""),
        data={"alert": alert.pk, "fingerprint": alert.fingerprint},
    )
    title = alert.name + (f" — {component.name}" if component is not None else "")
    _tell_staff(
        alert,
        event,
        title,
        "\n".join(told + [f"From: {origin.name}"]),
        target or ComponentStatus.DEGRADED_PERFORMANCE,
    )
    if automation == Automation.DRAFT:
        _draft_create(alert)
        actions.append("incident drafted for a commander to publish")
    return actions


def _alert_refire(alert: Alert, incoming: IncomingAlert, target: str, now: datetime) -> list[str]:
    """The same alert again: a repeat (nothing to do), a worse severity (take the component
    further), or a fire within the hold-down (keep the page as it is)."""
    alert.last_received_at = now
    actions: list[str] = []
    if alert.state == AlertState.RESOLVING:
        alert.state, alert.resolved_at, alert.release_at = AlertState.FIRING, None, None
        actions.append(f"{alert.name}: firing again within the hold-down; the page is unchanged")
    else:
        actions.append(f"{alert.name}: already firing (duplicate)")
    component = alert.component
    worse = (
        target
        and component is not None
        and worse_status(alert.component_status or None, target) == target
        and target != alert.component_status
    )
    if worse:
        alert.component_status, alert.severity = target, incoming.severity
        if alert.automation != Automation.OFF:
            change = component_drive(
                component=component,
                status=target,
                actor=_actor_for(alert.origin),
                reason=f"{one_line(alert.origin.name)}: {alert.name} ({incoming.severity})",
            )
            if change is not None:
                if alert.taken_change is None:
                    alert.restore_status = change.old_status
                alert.taken_change = change
                actions.append(f"{component.name}: {change.old_status} → {target}")
    alert.save()
    return actions


def _give_back(alert: Alert) -> list[str]:
    """Give the component back when an alert is over, unless a human changed it since the
    automation did; if another open alert still asks for a status, hand the component to it."""
    component = alert.component
    taken = alert.taken_change
    if component is None or taken is None:
        return []
    actor = _actor_for(alert.origin)
    reason = f"{one_line(alert.origin.name)}: {alert.name} resolved"
    others = [
        other
        for other in Alert.objects.filter(component=component, closed_at__isnull=True)
        .exclude(pk=alert.pk)
        .exclude(automation=Automation.OFF)
        .exclude(component_status="")
        .select_related("source", "checkin")
    ]
    demanded = worst_status(o.component_status for o in others)
    restore = alert.restore_status or ComponentStatus.OPERATIONAL
    if demanded is not None:
        # Another open alert still asks for a status: the component goes to the worse of
        # that and what it had before, and that alert gives it back when it is over.
        target = worse_status(demanded, restore)
        heir = next(o for o in others if o.component_status == demanded)
        component.refresh_from_db()
        if component.status == target:
            last = component_last_change(component)
            heir_change = taken if last is not None and last.pk == taken.pk else None
        else:
            heir_change = component_drive(
                component=component, status=target, taken=taken, actor=actor, reason=reason
            )
        if heir_change is None:
            return [f"{component.name} was changed by someone since: left as it is"]
        heir.taken_change = heir_change
        heir.restore_status = heir.restore_status or restore
        heir.save(update_fields=["taken_change", "restore_status"])
        return [f"{component.name}: {target}, as {heir.name} still asks"]
    change = component_drive(
        component=component, status=restore, taken=taken, actor=actor, reason=reason
    )
    if change is None:
        return [f"{component.name} was changed by someone since: left as it is"]
    return [f"{component.name}: {change.old_status} → {restore} (given back)"]


def _alert_close(alert: Alert, now: datetime) -> list[str]:
    """The alert is over (resolved and past its hold-down): give the component back, discard
    a draft nobody published, tell staff."""
    alert.state, alert.closed_at, alert.release_at = AlertState.RESOLVED, now, None
    alert.resolved_at = alert.resolved_at or now
    alert.save()
    draft = IncidentDraft.objects.filter(alert=alert).first()
    actions: list[str] = []
    if draft is not None and draft.published_at is not None:
        actions.append("its incident is published: the commander decides, component left as it is")
    else:
        if draft is not None and draft.discarded_at is None:
            draft.discarded_at = now
            draft.discarded_reason = "Its alert resolved before it was published."
            draft.save(update_fields=["discarded_at", "discarded_reason"])
            actions.append("the unpublished draft is discarded")
        actions.extend(_give_back(alert))
    audit_record(
        actor=_actor_for(alert.origin),
        action="alert.resolve",
        obj=alert.origin,
        summary=alert.name,
        data={"alert": alert.pk, "fingerprint": alert.fingerprint},
    )
    _tell_staff(
        alert,
        "resolved",
        alert.name + (f" — {alert.component.name}" if alert.component else ""),
        "\n".join([f"Resolved. From: {alert.origin.name}", *actions]),
        ComponentStatus.OPERATIONAL,
    )
    return [f"{alert.name}: resolved", *actions]


def _alert_receive(
    origin: AlertSource | CheckIn,
    incoming: IncomingAlert,
    components: _Components,
    now: datetime,
    *,
    hold_down: int = 0,
    event: str = "firing",
) -> list[str]:
    """Handle one incoming alert of a source or check-in (inside the intake's transaction)."""
    lookup = {"source": origin} if isinstance(origin, AlertSource) else {"checkin": origin}
    alert = (
        Alert.objects.select_related("component", "taken_change", "source", "checkin")
        .filter(**lookup, fingerprint=incoming.fingerprint, closed_at__isnull=True)
        .first()
    )
    if isinstance(origin, AlertSource):
        component = components.find(incoming)
        target = origin.severity_map.get(incoming.severity, "") if incoming.severity else ""
    else:
        component, target = origin.component, origin.component_status
    if incoming.firing:
        if alert is None:
            return _alert_open(origin, incoming, component, target, now, event)
        return _alert_refire(alert, incoming, target, now)
    if alert is None:
        return [f"{incoming.name}: resolved, but no such alert is open (nothing to do)"]
    if alert.state != AlertState.FIRING:
        alert.last_received_at = now
        alert.save(update_fields=["last_received_at"])
        return [f"{alert.name}: already resolved, held until {alert.release_at:%H:%M:%S} UTC"]
    alert.last_received_at = alert.resolved_at = now
    if hold_down > 0:
        alert.state, alert.release_at = AlertState.RESOLVING, now + timedelta(seconds=hold_down)
        alert.save()
        return [
            f"{alert.name}: resolved; the component is given back at "
            f"{alert.release_at:%H:%M:%S} UTC unless it fires again (hold-down {hold_down} s)"
        ]
    return _alert_close(alert, now)


def alert_source_intake(
    *,
    source: AlertSource,
    body: bytes,
    remote_addr: str | None = None,
    now: datetime | None = None,
) -> IntakeResult:
    """Take a payload posted to a source's intake URL. A payload that cannot be read is
    recorded and answered 400 with the reason; nothing else changes. Otherwise every alert
    in it is handled in one transaction, recorded with what was done, and answered 200."""
    now = now or timezone.now()
    if not source.enabled:
        reason = "This alert source is disabled."
        with transaction.atomic():
            _record_intake(
                origin=source,
                body=body,
                status_code=409,
                actions=[reason],
                remote_addr=remote_addr,
                now=now,
            )
        return IntakeResult(409, reason, [reason])
    try:
        incoming = parse_alerts(source.kind, body)
    except PayloadError as error:
        with transaction.atomic():
            _record_intake(
                origin=source,
                body=body,
                status_code=400,
                actions=[f"refused: {error.reason}"],
                remote_addr=remote_addr,
                now=now,
            )
        return IntakeResult(400, error.reason, [])
    with transaction.atomic():
        # One intake of a source at a time (PostgreSQL): two copies of the same new alert
        # must not both open it.
        source = AlertSource.objects.select_for_update().get(pk=source.pk)
        components = _Components()
        actions: list[str] = []
        for alert in incoming:
            actions.extend(
                _alert_receive(source, alert, components, now, hold_down=source.hold_down)
            )
        source.last_intake_at = now
        source.save(update_fields=["last_intake_at"])
        _record_intake(
            origin=source,
            body=body,
            status_code=200,
            actions=actions,
            remote_addr=remote_addr,
            now=now,
        )
    return IntakeResult(200, f"{len(incoming)} alert(s) taken", actions)


def checkin_ping(
    *,
    checkin: CheckIn,
    failed: bool = False,
    body: bytes = b"",
    remote_addr: str | None = None,
    now: datetime | None = None,
) -> IntakeResult:
    """A job called its check-in URL: it ran (the next deadline is now + period + grace, and
    an open alert is resolved), or with `failed` it reports a failure (an alert)."""
    now = now or timezone.now()
    with transaction.atomic():
        checkin = (
            CheckIn.objects.select_for_update(of=("self",))
            .select_related("component")
            .get(pk=checkin.pk)
        )
        if not checkin.enabled:
            reason = "This check-in is paused."
            _record_intake(
                origin=checkin,
                body=body,
                status_code=409,
                actions=[reason],
                remote_addr=remote_addr,
                now=now,
            )
            return IntakeResult(409, reason, [reason])
        checkin.due_at = now + timedelta(seconds=checkin.period + checkin.grace)
        if failed:
            checkin.last_failed_at = now
            incoming = IncomingAlert(
                fingerprint="checkin",
                firing=True,
                name=f"{checkin.name} failed",
                summary=f"{checkin.name} reported a failure at {now:%Y-%m-%d %H:%M:%S} UTC.",
            )
        else:
            checkin.last_ping_at = now
            incoming = IncomingAlert(fingerprint="checkin", firing=False, name=checkin.name)
        checkin.save()
        actions = _alert_receive(checkin, incoming, _Components(), now, event="failed")
        _record_intake(
            origin=checkin,
            body=body,
            status_code=200,
            actions=actions,
            remote_addr=remote_addr,
            now=now,
        )
    return IntakeResult(200, "failure recorded" if failed else "ok", actions)


def checkins_check_due(*, now: datetime | None = None) -> int:
    """Beat: open an alert for every check-in past its deadline that has none open. Returns
    how many were opened."""
    now = now or timezone.now()
    open_alert = Alert.objects.filter(checkin=OuterRef("pk"), closed_at__isnull=True)
    due = CheckIn.objects.filter(enabled=True, due_at__lte=now).exclude(Exists(open_alert))
    opened = 0
    for checkin in due.select_related("component"):
        with transaction.atomic():
            checkin = (
                CheckIn.objects.select_for_update(of=("self",))
                .select_related("component")
                .get(pk=checkin.pk)
            )
            if (
                checkin.due_at is None
                or checkin.due_at > now
                or Alert.objects.filter(checkin=checkin, closed_at__isnull=True).exists()
            ):
                continue
            last = (
                f"{checkin.last_ping_at:%Y-%m-%d %H:%M:%S} UTC" if checkin.last_ping_at else "never"
            )
            incoming = IncomingAlert(
                fingerprint="checkin",
                firing=True,
                name=f"{checkin.name} missed its check-in",
                summary=f"{checkin.name} has not checked in since {last}: it was due by "
                f"{checkin.due_at:%Y-%m-%d %H:%M:%S} UTC (every {checkin.period} s, "
                f"grace {checkin.grace} s).",
            )
            _alert_receive(checkin, incoming, _Components(), now, event="missed")
            opened += 1
    return opened


def alerts_release_due(*, now: datetime | None = None) -> int:
    """Beat: close the resolved alerts whose hold-down is over (their component is given
    back). Returns how many."""
    now = now or timezone.now()
    released = 0
    for pk in Alert.objects.filter(state=AlertState.RESOLVING, release_at__lte=now).values_list(
        "pk", flat=True
    ):
        with transaction.atomic():
            alert = (
                Alert.objects.select_for_update(of=("self",))
                .select_related("component", "taken_change", "source", "checkin")
                .get(pk=pk)
            )
            if alert.state != AlertState.RESOLVING or alert.release_at > now:
                continue
            _alert_close(alert, now)
            released += 1
    return released


@transaction.atomic
def incident_draft_publish(*, draft: IncidentDraft, actor: Actor) -> Incident:
    """Publish an incident drafted from an alert: declare it (`incidents.services.
    incident_declare`) with the draft's name, body, impact and component statuses. From then
    on the commander is in charge: the alert resolving does not give the component back."""
    draft = IncidentDraft.objects.select_for_update().get(pk=draft.pk)
    if draft.published_at is not None:
        raise ValidationError({"draft": "This draft is already published."})
    if draft.discarded_at is not None:
        raise ValidationError({"draft": f"This draft was discarded: {draft.discarded_reason}"})
    components = {
        c.public_id: c
        for c in Component.objects.select_related("service", "region").filter(
            public_id__in=list(draft.component_statuses)
        )
    }
    incident = incident_declare(
        name=draft.name,
        body=draft.body,
        impact=draft.impact,
        actor=actor,
        component_statuses={c: draft.component_statuses[pid] for pid, c in components.items()},
        components=list(components.values()),
    )
    draft.published_at, draft.published_by, draft.incident = timezone.now(), actor.name, incident
    draft.save(update_fields=["published_at", "published_by", "incident"])
    audit_record(actor=actor, action="incident_draft.publish", obj=incident, summary=incident.name)
    return incident


@transaction.atomic
def incident_draft_discard(
    *, draft: IncidentDraft, actor: Actor, reason: str = "Discarded by staff."
) -> IncidentDraft:
    draft = IncidentDraft.objects.select_for_update().get(pk=draft.pk)
    if not draft.is_open:
        raise ValidationError({"draft": "This draft is already published or discarded."})
    draft.discarded_at = timezone.now()
    draft.discarded_reason = clean_text(reason, field="reason", single_line=True)[:255]
    draft.save(update_fields=["discarded_at", "discarded_reason"])
    audit_record(actor=actor, action="incident_draft.discard", obj=draft, summary=draft.name)
    return draft


def metric_pull_prometheus(*, metric: Metric, now: datetime | None = None) -> RecordResult | None:
    """Run a Prometheus-fed metric's query once and record the value as a point (the
    thresholds then act as for a pushed point). A failed query is kept on the metric
    (`prometheus_error`, shown in the console) and records nothing."""
    now = now or timezone.now()
    try:
        value = prometheus.prometheus_query(
            metric.prometheus_url,
            metric.prometheus_query,
            timeout=settings.HELIOGRAPH_PROMETHEUS_TIMEOUT,
        )
    except PrometheusError as error:
        Metric.objects.filter(pk=metric.pk).update(
            prometheus_pulled_at=now, prometheus_error=str(error)[:1000]
        )
        return None
    with transaction.atomic():
        Metric.objects.filter(pk=metric.pk).update(prometheus_pulled_at=now, prometheus_error="")
        return metric_points_record(
            metric=metric,
            points=[(now, value)],
            actor=Actor.system(f"prometheus:{metric.slug}"),
        )


def metrics_pull_prometheus(*, now: datetime | None = None) -> int:
    """Beat: pull every Prometheus-fed metric whose interval has passed. Returns how many."""
    now = now or timezone.now()
    pulled = 0
    for metric in Metric.objects.exclude(prometheus_query="").select_related("component"):
        last = metric.prometheus_pulled_at
        if last is not None and last + timedelta(seconds=metric.prometheus_interval) > now:
            continue
        metric_pull_prometheus(metric=metric, now=now)
        pulled += 1
    return pulled


def detection_prune(*, now: datetime | None = None) -> int:
    """Delete intake records older than 30 days (the alerts themselves are kept)."""
    cutoff = (now or timezone.now()) - INTAKE_RETENTION
    deleted, _ = AlertIntake.objects.filter(received_at__lt=cutoff).delete()
    return deleted
