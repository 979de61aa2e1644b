"""Celery tasks of the catalogue."""

from celery import shared_task

from statuspage import snapshot


@shared_task
def snapshot_refresh() -> None:
    """Beat: re-render the snapshot so time-dependent parts (uptime bars, "x ago") stay right."""
    snapshot.snapshot_publish()


@shared_task
def metric_alert_notify(alert_id: int) -> int:
    """Tell staff (by email) that a metric crossed a threshold."""
    from statuspage.metrics.notify import metric_alert_email_staff

    return metric_alert_email_staff(alert_id=alert_id)


@shared_task
def metric_points_prune() -> int:
    """Beat: drop metric points older than the retention."""
    from statuspage.metrics.services import metric_points_prune as prune

    return prune()
