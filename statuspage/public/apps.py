from django.apps import AppConfig


class PublicConfig(AppConfig):
    """The read path: the published snapshot and everything visitors are served from it."""

    name = "statuspage.public"
    label = "public"
    verbose_name = "Public page"
