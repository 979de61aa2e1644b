"""Celery tasks of metrics: thin wrappers over the service functions."""

from celery import shared_task

from statuspage.metrics.notify import metric_alert_email_staff
from statuspage.metrics.services import metric_points_prune as prune


@shared_task
def metric_alert_notify(alert_id: int) -> int:
    """Tell staff (by email) that a metric crossed a threshold."""
    return metric_alert_email_staff(alert_id=alert_id)


@shared_task
def metric_points_prune() -> int:
    """Beat: drop metric points older than the retention."""
    return prune()
