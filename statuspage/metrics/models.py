"""Metrics: time series that visitors can look at (queue depth, dequeue latency, …) and that
raise an alert for staff when they cross a threshold — the early detection the June outage
lacked. Registered with the statuspage app (imported by statuspage/models.py).
"""

from __future__ import annotations

from django.db import models

from statuspage.models import Component, ComponentStatus, new_public_id

__all__ = ["Metric", "MetricPoint", "MetricAlert", "AlertLevel", "ThresholdDirection"]


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
