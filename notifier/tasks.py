"""Celery tasks of the notifier: thin wrappers over `notifier.services`.

Each medium has its own queue (CELERY_TASK_ROUTES in settings) so a slow or failing Slack
never holds back email: `email`, `chat` (Slack and Discord) and `webhooks`. Tasks carry only
delivery ids; the rows are re-read and claimed, so a duplicated or redelivered message does
no harm (acks late + reject on worker lost make delivery at-least-once).
"""

from __future__ import annotations

from celery import shared_task

# The services import every transport (notifier.integrations), in the worker's parent
# process, so the pool's children inherit discord.py and slack_sdk from the fork instead of
# each paying for importing them on first use.
from notifier import services


@shared_task
def deliver_email(delivery_ids: list[int]) -> dict[str, int]:
    """A batch of emails over one connection."""
    return services.deliveries_send(delivery_ids=delivery_ids)


@shared_task
def deliver_chat(delivery_ids: list[int]) -> dict[str, int]:
    """Slack and Discord deliveries."""
    return services.deliveries_send(delivery_ids=delivery_ids)


@shared_task
def deliver_webhook(delivery_ids: list[int]) -> dict[str, int]:
    """Webhook deliveries (subscribers and channels)."""
    return services.deliveries_send(delivery_ids=delivery_ids)


@shared_task
def deliver_direct_email(email_ids: list[int]) -> dict[str, int]:
    """Direct emails (e.g. credit notices to billing contacts), a batch over one connection."""
    return services.direct_emails_send(email_ids=email_ids)


@shared_task
def deliveries_requeue() -> int:
    """Beat: hand back deliveries left behind by a killed worker or a lost broker message."""
    return services.deliveries_requeue()


@shared_task
def subscribers_expire_unconfirmed() -> int:
    """Beat: forget subscription requests not confirmed within 24 h."""
    return services.subscribers_expire_unconfirmed()


@shared_task
def subscriber_email(subscriber_id: int, purpose: str) -> bool:
    """The confirmation or "already subscribed" email of a subscription request."""
    return services.subscriber_send_email(subscriber_id=subscriber_id, purpose=purpose)


@shared_task(autoretry_for=(OSError,), retry_backoff=30, max_retries=5)
def staff_alert(channel_id: int, error: str) -> int:
    """Email staff that a channel broke (retried while the mail server is unreachable)."""
    return services.staff_alert_send(channel_id=channel_id, error=error)


@shared_task(autoretry_for=(OSError,), retry_backoff=30, max_retries=5)
def staff_notice_email(notice_id: int) -> int:
    """Email staff a staff notice (an alert from monitoring, a draft to publish)."""
    return services.staff_notice_email(notice_id=notice_id)
