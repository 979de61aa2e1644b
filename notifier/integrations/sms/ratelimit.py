"""How many texts one phone number may be sent: a fixed window per hour, counted in the
Django cache (Redis in production, so every worker counts against the same budget).

Two budgets per number: `notice` (notifications, `HELIOGRAPH_SMS_RATE_LIMIT` an hour: past
it a delivery waits for the next window, it is not dropped) and `code` (opt-in codes,
`HELIOGRAPH_SMS_CODE_LIMIT` an hour: past it a subscription request is refused — texts cost
money, and a form that texts any number on request is an SMS-pumping tool). If the cache is
down the text goes out: a notification is not worth an outage."""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.core.cache import cache

log = logging.getLogger(__name__)

WINDOW = 3600  # seconds


def _limit(bucket: str) -> int:
    if bucket == "code":
        return settings.HELIOGRAPH_SMS_CODE_LIMIT
    return settings.HELIOGRAPH_SMS_RATE_LIMIT


def take(phone: str, bucket: str, *, now: float | None = None) -> float:
    """Count one text to `phone` in `bucket`. Returns 0 when it may be sent now, else the
    seconds until the next window (and the text is not counted)."""
    now = time.time() if now is None else now
    window = int(now // WINDOW)
    key = f"notifier:sms:{bucket}:{phone}:{window}"
    try:
        cache.add(key, 0, timeout=WINDOW + 60)
        count = cache.incr(key)
        if count > _limit(bucket):
            cache.decr(key)
            return (window + 1) * WINDOW - now
    except Exception:
        log.warning("SMS rate limit not counted (cache unavailable)", exc_info=True)
    return 0.0
