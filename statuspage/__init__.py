"""Heliograph's Django project and its catalogue: regions, services, components, the public page."""

from .celery import app as celery_app

__all__ = ["celery_app"]
