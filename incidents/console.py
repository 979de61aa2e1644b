"""Extension points of the staff console for the apps above incidents.

The console (incidents.views) may not import those apps, so they add to it from their
`AppConfig.ready()`: metrics puts its open alerts on the dashboard, the notifier says under
each update of an incident's page what it sent to whom.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

_dashboard_providers: list[Callable[[], dict]] = []
_incident_providers: list[Callable[..., dict]] = []


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


def incident_provider(provider: Callable[..., dict]) -> None:
    """Register a function `provider(*, incident, updates) -> dict` whose dict is added to an
    incident page's template context (`updates`: the timeline shown, newest first)."""
    if provider not in _incident_providers:
        _incident_providers.append(provider)


def incident_context(*, incident, updates: Sequence) -> dict:
    """An incident page's context from every registered provider."""
    context: dict = {}
    for provider in _incident_providers:
        context.update(provider(incident=incident, updates=updates))
    return context
