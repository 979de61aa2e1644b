from django.apps import AppConfig


class CreditsConfig(AppConfig):
    """Credit policies, accounts and spend, credit reports."""

    name = "incidents.credits"
    label = "credits"
    verbose_name = "Credits"
