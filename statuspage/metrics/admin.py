"""Admin of metrics: a metric's definition is edited here, through the same services as the
API (`metric_create`, `metric_update`, `metric_delete`: thresholds are validated, the change is
audited and the public page republished); points and alerts are read-only records."""

from __future__ import annotations

from django.contrib import admin

from statuspage.admin import ReadOnlyAdmin, ServiceWriteAdmin, ServiceWriteForm
from statuspage.metrics.models import Metric, MetricAlert, MetricPoint
from statuspage.metrics.services import metric_create, metric_delete, metric_update
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
]


class MetricForm(ServiceWriteForm):
    class Meta:
        model = Metric
        fields = METRIC_FIELDS

    def write(self) -> Metric:
        if self.instance.pk is None:
            return metric_create(actor=self.actor, **self.given(*METRIC_FIELDS))
        return metric_update(metric=self.instance, actor=self.actor, **self.given(*METRIC_FIELDS))


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
