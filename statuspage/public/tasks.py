"""Celery tasks of the public page."""

from celery import shared_task

from statuspage.public import snapshot


@shared_task
def snapshot_refresh() -> None:
    """Beat: re-render the snapshot so time-dependent parts (uptime bars, "x ago") stay right."""
    snapshot.snapshot_publish()
