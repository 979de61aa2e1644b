"""Admin of metrics and detection: a metric's, an alert source's and a check-in's definition
are edited here, through the same services as the console and the API (`metric_create`,
`alert_source_update`, `checkin_create`, …: validated, audited, the public page republished
when it shows the change); points, alerts, intakes and drafts are read-only records."""

from __future__ import annotations

from django import forms
from django.contrib import admin

from statuspage.admin import ReadOnlyAdmin, ServiceWriteAdmin, ServiceWriteForm
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
from statuspage.metrics.services import (
    alert_source_create,
    alert_source_delete,
    alert_source_update,
    checkin_create,
    checkin_delete,
    checkin_update,
    metric_create,
    metric_delete,
    metric_update,
)
from statuspage.services import Actor

METRIC_FIELDS = [
    "name",
    "slug",
    "unit",
    "description",
    "component",
    "public",
    "position",
    "direction",
    "warning_threshold",
    "critical_threshold",
    "critical_component_status",
    "prometheus_url",
    "prometheus_query",
    "prometheus_interval",
]


class MetricForm(ServiceWriteForm):
    # Not required: a pushed metric has no interval to give (the default is 60 s).
    prometheus_interval = forms.IntegerField(
        required=False, min_value=1, initial=60, help_text="Seconds between two queries"
    )

    class Meta:
        model = Metric
        fields = METRIC_FIELDS

    def write(self) -> Metric:
        given = self.given(*METRIC_FIELDS)
        if given.get("prometheus_interval") is None:
            given.pop("prometheus_interval", None)
        if self.instance.pk is None:
            return metric_create(actor=self.actor, **given)
        return metric_update(metric=self.instance, actor=self.actor, **given)


@admin.register(Metric)
class MetricAdmin(ServiceWriteAdmin):
    form = MetricForm
    list_display = [
        "name",
        "slug",
        "public_id",
        "component",
        "warning_threshold",
        "critical_threshold",
        "public",
    ]
    search_fields = ["name", "slug", "public_id"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["public_id", "created_at"]

    def delete_with_service(self, *, obj: Metric, actor: Actor) -> None:
        metric_delete(metric=obj, actor=actor)


@admin.register(MetricPoint)
class MetricPointAdmin(ReadOnlyAdmin):
    list_display = ["metric", "at", "value"]
    list_filter = ["metric"]
    date_hierarchy = "at"


@admin.register(MetricAlert)
class MetricAlertAdmin(ReadOnlyAdmin):
    list_display = ["metric", "level", "opened_at", "closed_at", "peak_value"]
    list_filter = ["level", "metric"]


# --- Detection ---------------------------------------------------------------------------------

ALERT_SOURCE_FIELDS = ["name", "kind", "automation", "severity_map", "hold_down", "enabled"]


class AlertSourceForm(ServiceWriteForm):
    class Meta:
        model = AlertSource
        fields = ALERT_SOURCE_FIELDS

    def write(self) -> AlertSource:
        given = self.given(*ALERT_SOURCE_FIELDS)
        if self.instance.pk is None:
            return alert_source_create(actor=self.actor, **given)
        given.pop("kind", None)  # a source's kind is what it is; another kind is another source
        return alert_source_update(source=self.instance, actor=self.actor, **given)


@admin.register(AlertSource)
class AlertSourceAdmin(ServiceWriteAdmin):
    form = AlertSourceForm
    list_display = ["name", "kind", "automation", "hold_down", "enabled", "last_intake_at"]
    readonly_fields = ["public_id", "secret", "created_at", "last_intake_at"]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        return ["kind", *fields] if obj is not None else fields

    def delete_with_service(self, *, obj: AlertSource, actor: Actor) -> None:
        alert_source_delete(source=obj, actor=actor)


CHECKIN_FIELDS = [
    "name",
    "period",
    "grace",
    "component",
    "component_status",
    "automation",
    "enabled",
]


class CheckInForm(ServiceWriteForm):
    class Meta:
        model = CheckIn
        fields = CHECKIN_FIELDS

    def write(self) -> CheckIn:
        given = self.given(*CHECKIN_FIELDS)
        if self.instance.pk is None:
            return checkin_create(actor=self.actor, **given)
        return checkin_update(checkin=self.instance, actor=self.actor, **given)


@admin.register(CheckIn)
class CheckInAdmin(ServiceWriteAdmin):
    form = CheckInForm
    list_display = ["name", "period", "grace", "component", "last_ping_at", "due_at", "enabled"]
    readonly_fields = ["public_id", "secret", "last_ping_at", "last_failed_at", "due_at"]

    def delete_with_service(self, *, obj: CheckIn, actor: Actor) -> None:
        checkin_delete(checkin=obj, actor=actor)


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    list_display = ["name", "source", "checkin", "component", "state", "started_at", "closed_at"]
    list_filter = ["state", "source", "checkin"]


@admin.register(AlertIntake)
class AlertIntakeAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "source", "checkin", "status_code", "remote_addr"]
    list_filter = ["status_code", "source", "checkin"]


@admin.register(IncidentDraft)
class IncidentDraftAdmin(ReadOnlyAdmin):
    list_display = ["name", "created_at", "published_at", "discarded_at", "incident"]
