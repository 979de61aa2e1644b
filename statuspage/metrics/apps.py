from django.apps import AppConfig


class MetricsConfig(AppConfig):
    """Metrics, thresholds and the alerts they raise."""

    name = "statuspage.metrics"
    label = "metrics"
    verbose_name = "Metrics"

    def ready(self) -> None:
        """Put the open alerts on the console's dashboard, and register the tasks that the
        services enqueue by name (statuspage.queues)."""
        from incidents import console
        from statuspage.metrics import selectors, tasks  # noqa: F401

        console.dashboard_provider(selectors.dashboard_alerts)
