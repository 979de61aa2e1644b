from django.apps import AppConfig


class NotifierConfig(AppConfig):
    name = "notifier"
    verbose_name = "Notifications"

    def ready(self) -> None:
        """Hook the outbox into the writes of the layers below (see statuspage.hooks), and
        register the tasks that services enqueue by name (statuspage.queues)."""
        from incidents import console
        from notifier import selectors, services, tasks  # noqa: F401 - registers the tasks
        from statuspage import hooks

        hooks.on_event(
            hooks.INCIDENT_UPDATE,
            lambda update: services.deliveries_create_for_update(update=update),
        )
        hooks.on_event(
            hooks.COMPONENT_CHANGE,
            lambda change: services.deliveries_create_for_component_change(change=change),
        )
        hooks.after_commit(hooks.DELIVER, services.deliveries_enqueue_committed)
        # Under each update of an incident's console page: what it sent to whom.
        console.incident_provider(selectors.deliveries_for_console)
