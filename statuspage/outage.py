"""What Heliograph answers when a server it depends on is down: the database (PostgreSQL or
the SQLite file) or Redis (the cache and the Celery broker).

The public page never gets here: it is served from the snapshot, stale if it must. Everything
else that needs the database or the broker — the console, `/subscribe/`, the v1 API — answers
503 with `Retry-After` and a sentence a person can act on, never a bare "Server Error (500)".
The one owner of "is this exception an outage, and what do we say": the API
(statuspage.api.framework) and the middleware of the pages (statuspage.conf.middleware) both
ask `outage(exc)`.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import InterfaceError, OperationalError
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

# Seconds a client should wait before trying again (a restart or a failover takes about this).
RETRY_AFTER = 30

DATABASE_DOWN = "The database is unavailable; the public page is still being served."
REDIS_DOWN = (
    "The queue and cache server (Redis) is unavailable; the public page is still being "
    "served. Try again in a minute."
)


@dataclass(frozen=True)
class Outage:
    server: str  # "database" or "redis"
    message: str  # the sentence for people (a page, or the API's {"message": …})
    log_line: str  # the exception, one line, for the log
    retry_after: int = RETRY_AFTER


def outage(exc: BaseException) -> Outage | None:
    """The outage `exc` (or an exception it was raised from) reports, or None for any other
    error. A database error is an outage when it is about the connection (Django's
    OperationalError / InterfaceError: refused, timed out, closed, the SQLite file gone or
    locked), not a refused statement (IntegrityError, DataError stay bugs, answered 500)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        line = f"{type(current).__module__}.{type(current).__name__}: {current}".strip()
        if isinstance(current, OperationalError | InterfaceError):
            return Outage("database", DATABASE_DOWN, line)
        if isinstance(current, RedisConnectionError | RedisTimeoutError | BrokerError):
            return Outage("redis", REDIS_DOWN, line)
        current = current.__cause__ or current.__context__
    return None
