from django.apps import AppConfig


class PublicConfig(AppConfig):
    """The read path: the published snapshot and everything visitors are served from it."""

    name = "statuspage.public"
    label = "public"
    verbose_name = "Public page"

    def ready(self) -> None:
        """Republish after every transaction that changed what the public sees (see
        statuspage.hooks), register the beat task, and show the publish's failures on the
        console dashboard (incidents.console)."""
        from incidents import console
        from statuspage import hooks
        from statuspage.public import snapshot, tasks  # noqa: F401 - registers the tasks

        hooks.after_commit(hooks.PUBLISH, snapshot.publish_committed)
        console.dashboard_provider(snapshot.console_dashboard)
