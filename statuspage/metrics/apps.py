from django.apps import AppConfig


class MetricsConfig(AppConfig):
    """Metrics, thresholds and the alerts they raise."""

    name = "statuspage.metrics"
    label = "metrics"
    verbose_name = "Metrics"
