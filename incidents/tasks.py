"""Celery tasks of incidents: thin wrappers over the service functions."""

from celery import shared_task

from incidents import services


@shared_task
def maintenance_advance_due() -> int:
    """Beat: start and complete maintenances whose window has come."""
    return len(services.maintenance_advance_due())
