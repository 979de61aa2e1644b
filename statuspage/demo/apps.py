from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Demo data and `make run`: the one app that loads every other app's data, so it sits
    at the top, just under the project configuration."""

    name = "statuspage.demo"
    label = "demo"
    verbose_name = "Demo"
