"""Celery tasks of metrics and detection: thin wrappers over the service functions."""

import logging

from celery import shared_task

from statuspage.metrics import services
from statuspage.metrics.notify import metric_alert_email_staff

log = logging.getLogger(__name__)


@shared_task
def metric_alert_notify(alert_id: int) -> int:
    """Tell staff (by email) that a metric crossed a threshold."""
    return metric_alert_email_staff(alert_id=alert_id)


@shared_task
def metric_points_prune() -> int:
    """Beat: drop metric points older than the retention, and old intake records."""
    return services.metric_points_prune() + services.detection_prune()


@shared_task
def detection_tick() -> dict[str, int]:
    """Beat, every HELIOGRAPH_DETECTION_TICK seconds: missed check-ins raise their alert,
    resolved alerts past their hold-down give their component back, Prometheus-fed metrics
    due are pulled. One failing step does not stop the others."""
    done: dict[str, int] = {}
    for name, step in (
        ("checkins_missed", services.checkins_check_due),
        ("alerts_released", services.alerts_release_due),
        ("metrics_pulled", services.metrics_pull_prometheus),
    ):
        try:
            done[name] = step()
        except Exception:
            log.exception("detection step %s failed", name)
    return done
