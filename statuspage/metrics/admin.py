"""Admin of metrics: configuration is edited here; points and alerts are read-only records."""

from django.contrib import admin

from statuspage.metrics.models import Metric, MetricAlert, MetricPoint


@admin.register(Metric)
class MetricAdmin(admin.ModelAdmin):
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
    autocomplete_fields = []


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(MetricPoint)
class MetricPointAdmin(ReadOnlyAdmin):
    list_display = ["metric", "at", "value"]
    list_filter = ["metric"]
    date_hierarchy = "at"


@admin.register(MetricAlert)
class MetricAlertAdmin(ReadOnlyAdmin):
    list_display = ["metric", "level", "opened_at", "closed_at", "peak_value"]
    list_filter = ["level", "metric"]
