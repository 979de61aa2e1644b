"""Celery tasks of credits: thin wrappers over the service functions.

`credit_report_enqueue` and `credit_application_enqueue` send them to the "reports" queue (a
worker consumes every queue of HELIOGRAPH_QUEUES), so a long report or a long Stripe run
never delays notifications.
"""

from __future__ import annotations

from celery import shared_task

from incidents.credits.services import (
    ApplicationBusy,
    credit_application_run,
    credit_report_compute,
)


@shared_task(acks_late=True)
def credit_report_compute_task(report_id: int) -> str:
    """Compute a credit report that `credit_report_enqueue` started; returns its status."""
    return credit_report_compute(report_id=report_id).status


@shared_task(acks_late=True)
def credit_apply_task(application_id: int) -> str:
    """Send an application's pending items to Stripe (a redelivered task finds the run
    alive and stops, or a dead one and resumes it)."""
    try:
        run = credit_application_run(application_id=application_id)
    except ApplicationBusy:
        return "busy"
    return f"{run.applied} applied, {run.failed} failed, {run.simulated} simulated"
