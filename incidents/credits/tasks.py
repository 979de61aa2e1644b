"""Celery tasks of credits: thin wrappers over the service functions.

`credit_report_enqueue` sends them to the "reports" queue (a worker consumes every queue of
HELIOGRAPH_QUEUES), so a long report never delays notifications.
"""

from __future__ import annotations

from celery import shared_task

from incidents.credits.services import credit_report_compute


@shared_task(acks_late=True)
def credit_report_compute_task(report_id: int) -> str:
    """Compute a credit report that `credit_report_enqueue` started; returns its status."""
    return credit_report_compute(report_id=report_id).status
