"""Celery tasks of the public page."""

from celery import shared_task

from statuspage.public import replication, snapshot


@shared_task
def snapshot_refresh() -> None:
    """Beat: re-render the snapshot so time-dependent parts (uptime bars, "x ago") stay right,
    and write it to every publish target."""
    snapshot.snapshot_publish()


@shared_task
def publish_targets_export() -> None:
    """After a web request's publish: write the buckets (and this host's directories) from a
    worker, so a slow bucket never holds a request. The worker's host may not share the web
    host's disk: it takes the newest release first."""
    replication.sync_once()
    snapshot.publish_targets_export()


@shared_task
def publish_targets_retry() -> None:
    """Beat: write again the targets whose last export failed (a bucket that was down)."""
    replication.sync_once()
    snapshot.publish_targets_export(only_failing=True)
