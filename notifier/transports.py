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

from django.core.exceptions import ValidationError

from notifier.messages import Notice
from notifier.models import Channel, Subscriber
from notifier.outgoing import refusal_in
from notifier.validators import check_target


class TransportError(Exception):
    """A send that did not work.

    permanent: the recipient will not accept this (unknown channel, revoked token, a 5xx for
    the address, a redirect, a target that is not allowed): stop retrying and mark the
    recipient broken.
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


def check_target_now(url: str, *, kind: str) -> str:
    """`notifier.validators.check_target` again at send time (a DNS answer, or the rules,
    may have changed since the URL was saved): a URL no longer allowed is a permanent error."""
    try:
        return check_target(url, kind=kind)
    except ValidationError as exc:
        raise TransportError(exc.messages[0], permanent=True) from exc


def unreachable(message: str, error: BaseException) -> TransportError:
    """A network error of an HTTP library: worth another try, unless the connection was
    refused because the host now resolves to an address Heliograph does not send to."""
    refused = refusal_in(error)
    if refused is not None:
        return TransportError(str(refused), permanent=True)
    return TransportError(message)


def is_redirect(status_code: int | None) -> bool:
    return status_code is not None and 300 <= status_code < 400


def redirect_error(medium: str, status_code: int) -> TransportError:
    """A 3xx answer. Transports never follow redirects (the place a redirect points to was
    never checked: see notifier.outgoing), and a URL that redirects will not start working
    by itself, so it is permanent: the recipient is marked broken and staff are told to put
    in the final URL. Neither the body of the answer nor its Location is kept."""
    return TransportError(
        f"{medium} answered {status_code}, a redirect: Heliograph does not follow redirects; "
        "use the final URL.",
        permanent=True,
        status_code=status_code,
    )


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
