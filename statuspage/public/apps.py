from django.apps import AppConfig


class PublicConfig(AppConfig):
    """The read path: the published snapshot and everything visitors are served from it."""

    name = "statuspage.public"
    label = "public"
    verbose_name = "Public page"

    def ready(self) -> None:
        """Republish after every transaction that changed what the public sees (see
        statuspage.hooks), and register the beat task."""
        from statuspage import hooks
        from statuspage.public import snapshot, tasks  # noqa: F401 - registers the tasks

        hooks.after_commit(hooks.PUBLISH, snapshot.publish_committed)
