"""Extension points of the staff console for the apps above incidents.

The console (incidents.views) may not import those apps, so they add to it from their
`AppConfig.ready()`: metrics puts its open alerts on the dashboard.
"""

from __future__ import annotations

from collections.abc import Callable

_dashboard_providers: list[Callable[[], dict]] = []


def dashboard_provider(provider: Callable[[], dict]) -> None:
    """Register a function whose dict is added to the dashboard's template context."""
    if provider not in _dashboard_providers:
        _dashboard_providers.append(provider)


def dashboard_context() -> dict:
    """The dashboard's context from every registered provider."""
    context: dict = {}
    for provider in _dashboard_providers:
        context.update(provider())
    return context
