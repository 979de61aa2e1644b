"""The contract between the delivery loop and the one transport per medium.

A transport sends one notice to one recipient and either returns (the response code, when
the medium has one) or raises `TransportError`. The error says whether trying again can
help (`permanent`) and, for a rate limit, exactly how long to wait (`retry_after`): the
delivery loop (`notifier.services.deliveries_send`) turns that into a retry, a dead
delivery, or a broken recipient. Transports never retry on their own and never touch the
database, so they can be tested against a loopback server alone.

Modules: `notifier.integrations.<medium>.transport`; `notifier.integrations.transport_for`
picks the one of a recipient's medium.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from notifier.messages import Notice
from notifier.models import Channel, Subscriber


class TransportError(Exception):
    """A send that did not work.

    permanent: the recipient will not accept this (unknown channel, revoked token, a 5xx for
    the address): stop retrying and mark the recipient broken.
    retry_after: seconds the remote asked us to wait (HTTP 429), used as the exact delay.
    """

    def __init__(
        self,
        message: str,
        *,
        permanent: bool = False,
        retry_after: float | None = None,
        status_code: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.retry_after = retry_after
        self.status_code = status_code

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class SendResult:
    """What a successful send reports back (for the delivery row and the console)."""

    status_code: int | None = None
    detail: str = ""


class Transport:
    """Send a notice to one recipient (a channel or a subscriber)."""

    def __init__(self, recipient: Channel | Subscriber) -> None:
        self.recipient = recipient

    def send(self, notice: Notice) -> SendResult:
        """Send, or raise TransportError."""
        raise NotImplementedError


def truncate(text: str, limit: int, *, suffix: str = "…") -> str:
    """Cut `text` to at most `limit` characters, ending with `suffix` when cut."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - len(suffix))].rstrip() + suffix


def parse_retry_after(value: str | float | None, default: float = 1.0) -> float:
    """Seconds from a Retry-After header (seconds or an HTTP date) or a retry_after JSON
    field; never negative."""
    if value is None or value == "":
        return default
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        pass
    try:
        when = parsedate_to_datetime(str(value))
    except (TypeError, ValueError, IndexError):
        return default
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
