"""Metrics and detection: the signals that move the page before a human has to.

- **Metrics**: time series that visitors can look at (queue depth, dequeue latency, …),
  pushed through the API or pulled from Prometheus (a PromQL query), that raise a
  `MetricAlert` for staff when they cross a threshold.
- **Alert sources**: Alertmanager, Grafana or anything that can POST JSON, each with an
  intake URL carrying its secret; every alert they send becomes an `Alert`.
- **Check-ins**: scheduled jobs that call their URL every period; a missed or failed one
  raises an `Alert` too.

An alert may drive a component's status (automation `component`), and also draft an incident
that a commander publishes with one click (`draft`). Every intake is recorded
(`AlertIntake`: what came in, what Heliograph did). Rows are written only by
`statuspage.metrics.services`.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models

from statuspage.models import Component, ComponentStatus, ComponentStatusChange, new_public_id

__all__ = [
    "Metric",
    "MetricPoint",
    "MetricAlert",
    "AlertLevel",
    "ThresholdDirection",
    "Automation",
    "AlertSourceKind",
    "AlertSource",
    "CheckIn",
    "AlertState",
    "Alert",
    "AlertIntake",
    "IncidentDraft",
]


class ThresholdDirection(models.TextChoices):
    ABOVE = "above", "Alert when the value rises above a threshold"
    BELOW = "below", "Alert when the value falls below a threshold"


class AlertLevel(models.TextChoices):
    WARNING = "warning", "Warning"
    CRITICAL = "critical", "Critical"


class Metric(models.Model):
    public_id = models.CharField(max_length=16, unique=True, default=new_public_id, editable=False)
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True, help_text="Used in the ingestion URL")
    unit = models.CharField(max_length=32, blank=True, help_text='e.g. "runs", "ms", "%"')
    description = models.TextField(blank=True)
    component = models.ForeignKey(
        Component, null=True, blank=True, on_delete=models.SET_NULL, related_name="metrics"
    )
    public = models.BooleanField(default=True, help_text="Show the graph on the public page")
    position = models.PositiveIntegerField(default=0)
    direction = models.CharField(
        max_length=8, choices=ThresholdDirection.choices, default=ThresholdDirection.ABOVE
    )
    warning_threshold = models.FloatField(null=True, blank=True)
    critical_threshold = models.FloatField(null=True, blank=True)
    # Automation: while a critical alert is open, the component takes this status.
    critical_component_status = models.CharField(
        max_length=32, choices=ComponentStatus.choices, blank=True
    )
    # Fed by Prometheus instead of pushes: beat runs the query every `prometheus_interval`
    # seconds against `prometheus_url` and records the value as a point.
    prometheus_url = models.CharField(
        max_length=500,
        blank=True,
        help_text="Base URL of a Prometheus server, e.g. http://prometheus:9090",
    )
    prometheus_query = models.TextField(
        blank=True, help_text="A PromQL query that answers one number (a scalar or one series)"
    )
    prometheus_interval = models.PositiveIntegerField(
        default=60, help_text="Seconds between two queries"
    )
    prometheus_pulled_at = models.DateTimeField(null=True, blank=True)
    prometheus_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "statuspage_metric"
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name


class MetricPoint(models.Model):
    """One measurement. Values are measurements (floats), never money."""

    metric = models.ForeignKey(Metric, on_delete=models.CASCADE, related_name="points")
    at = models.DateTimeField()
    value = models.FloatField()

    class Meta:
        db_table = "statuspage_metricpoint"
        ordering = ["at"]
        constraints = [
            models.UniqueConstraint(fields=["metric", "at"], name="metricpoint_unique_metric_at")
        ]

    def __str__(self) -> str:
        return f"{self.metric_id} {self.at:%Y-%m-%d %H:%M:%S}Z = {self.value:g}"


class MetricAlert(models.Model):
    """A threshold crossing. At most one open alert per metric; it escalates, then closes."""

    metric = models.ForeignKey(Metric, on_delete=models.CASCADE, related_name="alerts")
    level = models.CharField(max_length=16, choices=AlertLevel.choices)
    opened_at = models.DateTimeField(db_index=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    first_value = models.FloatField()
    peak_value = models.FloatField()
    last_value = models.FloatField()
    # The component status change the alert made (to give the status back when it clears,
    # unless someone changed it since).
    taken_change = models.ForeignKey(
        ComponentStatusChange, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        db_table = "statuspage_metricalert"
        ordering = ["-opened_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["metric"],
                condition=models.Q(closed_at__isnull=True),
                name="metricalert_one_open_per_metric",
            )
        ]

    def __str__(self) -> str:
        return f"{self.metric}: {self.level} since {self.opened_at:%Y-%m-%d %H:%M}Z"


# --- Detection: alert sources, check-ins, alerts, intakes, drafts ------------------------------


class Automation(models.TextChoices):
    OFF = "off", "Alert staff only"
    COMPONENT = "component", "Set the component's status (and give it back when resolved)"
    DRAFT = "draft", "Set the component's status and draft an incident"


class AlertSourceKind(models.TextChoices):
    ALERTMANAGER = "alertmanager", "Prometheus Alertmanager (webhook, version 4)"
    GRAFANA = "grafana", "Grafana alerting (webhook contact point)"
    GENERIC = "generic", "Generic JSON"


def default_severity_map() -> dict[str, str]:
    """Severity label → component status; a severity not listed changes no status."""
    return {
        "critical": ComponentStatus.MAJOR_OUTAGE.value,
        "warning": ComponentStatus.DEGRADED_PERFORMANCE.value,
    }


def new_intake_secret() -> str:
    """The secret of an intake URL: whoever has the URL may post alerts to it."""
    return secrets.token_urlsafe(24)


def default_hold_down() -> int:
    return settings.HELIOGRAPH_ALERT_HOLD_DOWN


class AlertSource(models.Model):
    """Where alerts come from (an Alertmanager receiver, a Grafana contact point, a script),
    and what Heliograph does with them."""

    public_id = models.CharField(max_length=16, unique=True, default=new_public_id, editable=False)
    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=16, choices=AlertSourceKind.choices)
    secret = models.CharField(max_length=64, unique=True, default=new_intake_secret)
    automation = models.CharField(
        max_length=16, choices=Automation.choices, default=Automation.COMPONENT
    )
    severity_map = models.JSONField(default=default_severity_map)
    hold_down = models.PositiveIntegerField(
        default=default_hold_down,
        help_text="Seconds a resolved alert is held before the component is given back: an "
        "alert that fires again meanwhile does not flap the page",
    )
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_intake_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def intake_path(self) -> str:
        return f"/intake/alerts/{self.secret}"


class CheckIn(models.Model):
    """A scheduled job that calls its URL every `period` seconds. Missing the deadline (last
    call + period + grace) or calling `…/fail` raises an alert; the next call resolves it.
    A check-in never called yet raises nothing."""

    public_id = models.CharField(max_length=16, unique=True, default=new_public_id, editable=False)
    name = models.CharField(max_length=200, unique=True)
    secret = models.CharField(max_length=64, unique=True, default=new_intake_secret)
    period = models.PositiveIntegerField(help_text="Seconds between two runs of the job")
    grace = models.PositiveIntegerField(default=300, help_text="Seconds a run may be late")
    component = models.ForeignKey(
        Component, null=True, blank=True, on_delete=models.SET_NULL, related_name="checkins"
    )
    component_status = models.CharField(
        max_length=32,
        choices=ComponentStatus.choices,
        default=ComponentStatus.DEGRADED_PERFORMANCE,
        help_text="The component's status while the job is late or failing",
    )
    automation = models.CharField(
        max_length=16, choices=Automation.choices, default=Automation.COMPONENT
    )
    enabled = models.BooleanField(default=True)
    last_ping_at = models.DateTimeField(null=True, blank=True)
    last_failed_at = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def intake_path(self) -> str:
        return f"/checkin/{self.secret}"


class AlertState(models.TextChoices):
    FIRING = "firing", "Firing"
    RESOLVING = "resolving", "Resolved, held"
    RESOLVED = "resolved", "Resolved"


class Alert(models.Model):
    """One alert of a source (deduplicated by its fingerprint) or of a check-in, from the
    moment it fires until it is resolved (and its hold-down is over)."""

    source = models.ForeignKey(
        AlertSource, null=True, blank=True, on_delete=models.CASCADE, related_name="alerts"
    )
    checkin = models.ForeignKey(
        CheckIn, null=True, blank=True, on_delete=models.CASCADE, related_name="alerts"
    )
    fingerprint = models.CharField(max_length=200)
    name = models.CharField(max_length=255)
    summary = models.TextField(blank=True)
    severity = models.CharField(max_length=64, blank=True)
    labels = models.JSONField(default=dict, blank=True)
    component = models.ForeignKey(
        Component, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The status the alert asks for (from the severity); "" when it changes none.
    component_status = models.CharField(max_length=32, blank=True)
    # What the labels named when it matched no component (reported to staff).
    unknown_component = models.CharField(max_length=255, blank=True)
    automation = models.CharField(max_length=16, choices=Automation.choices)
    state = models.CharField(max_length=16, choices=AlertState.choices, default=AlertState.FIRING)
    started_at = models.DateTimeField(db_index=True)
    last_received_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    release_at = models.DateTimeField(null=True, blank=True, db_index=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # The component status change the automation made, and the status to give back.
    taken_change = models.ForeignKey(
        ComponentStatusChange, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    restore_status = models.CharField(max_length=32, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "fingerprint"],
                condition=models.Q(closed_at__isnull=True, source__isnull=False),
                name="alert_one_open_per_source_fingerprint",
            ),
            models.UniqueConstraint(
                fields=["checkin"],
                condition=models.Q(closed_at__isnull=True, checkin__isnull=False),
                name="alert_one_open_per_checkin",
            ),
            models.CheckConstraint(
                condition=models.Q(source__isnull=False) | models.Q(checkin__isnull=False),
                name="alert_has_origin",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.state})"

    @property
    def origin(self) -> AlertSource | CheckIn:
        return self.source if self.source_id else self.checkin


class AlertIntake(models.Model):
    """One request to an intake URL: what came in (the first 64 KB) and what Heliograph did,
    refused ones included (their reason is the answer's)."""

    source = models.ForeignKey(
        AlertSource, null=True, blank=True, on_delete=models.CASCADE, related_name="intakes"
    )
    checkin = models.ForeignKey(
        CheckIn, null=True, blank=True, on_delete=models.CASCADE, related_name="intakes"
    )
    received_at = models.DateTimeField(db_index=True)
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    body = models.TextField(blank=True)
    status_code = models.PositiveSmallIntegerField()
    actions = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"{self.received_at:%Y-%m-%d %H:%M:%S} {self.status_code}"


class IncidentDraft(models.Model):
    """An incident drafted from an alert (automation `draft`): not public until a commander
    publishes it (`incident_draft_publish`, one click on the console dashboard), which
    declares the incident with these fields. Discarded by hand, or when its alert resolves
    first."""

    alert = models.OneToOneField(Alert, on_delete=models.CASCADE, related_name="draft")
    name = models.CharField(max_length=255)
    body = models.TextField()
    impact = models.CharField(max_length=16)
    # component public id → component status
    component_statuses = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.CharField(max_length=200, blank=True)
    incident = models.ForeignKey(
        "incidents.Incident", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    discarded_at = models.DateTimeField(null=True, blank=True)
    discarded_reason = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_open(self) -> bool:
        return self.published_at is None and self.discarded_at is None
