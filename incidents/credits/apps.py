from django.apps import AppConfig


class CreditsConfig(AppConfig):
    """Credit policies, accounts and spend, credit reports."""

    name = "incidents.credits"
    label = "credits"
    verbose_name = "Credits"

    def ready(self) -> None:
        """Register the tasks that the services enqueue by name (statuspage.queues)."""
        from incidents.credits import tasks  # noqa: F401
