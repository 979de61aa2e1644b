"""Celery tasks of incidents: thin wrappers over the service functions."""

from celery import shared_task

from incidents import services
from incidents.credits import tasks as credits_tasks  # noqa: F401 - registers the reports task


@shared_task
def maintenance_advance_due() -> int:
    """Beat: start and complete maintenances whose window has come."""
    return len(services.maintenance_advance_due())
