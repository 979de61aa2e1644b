"""The project configuration as an app, for one reason: to register the deployment checks of
`statuspage.conf.checks` (an app's ready() is where Django expects checks to be registered).
It has no models, URLs or templates of its own."""

from django.apps import AppConfig


class ConfConfig(AppConfig):
    name = "statuspage.conf"
    label = "heliograph_conf"
    verbose_name = "Heliograph configuration"

    def ready(self) -> None:
        from statuspage.conf import checks  # noqa: F401  (registers the checks)
