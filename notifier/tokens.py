"""Signed links for subscribers: confirm, manage preferences and unsubscribe.

The links carry the subscriber's opaque public id signed with SECRET_KEY
(`django.core.signing`, which also stamps the time of signing), one salt per purpose, so a
manage link cannot be replayed as a confirmation and nobody can forge a link for another
address. No login, no cookie. Each lives as long as its purpose needs:

- **confirm**: 24 hours, and bound to the subscription request it answers (the request's
  `requested_at` is signed into it). Only the newest request's link works, and a subscriber
  who unsubscribed is not subscribed again by an old link still in their mailbox: asking
  again sends a new link (`notifier.services.subscriber_confirm` checks the state).
- **manage**: 90 days (`MANAGE_MAX_AGE`). The page shows a webhook's signing secret and
  changes what is sent, so a forwarded or leaked link must not work for ever; every email
  carries a fresh one, and asking to subscribe again emails one to a subscribed address.
- **unsubscribe** (the RFC 8058 one-click link of every email): never expires. All it can do
  is stop mail to that one address, and stopping must stay possible from any old email.

The SMS **opt-in code** (six digits, texted to the number; valid as long as a confirm link,
for the newest request only) is not stored: it is derived from the subscriber and its request
(`sms_code`, an HMAC under SECRET_KEY), so a new request has a new code, the task that texts
it can compute it again, and the database never holds a code that would confirm a number.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils.crypto import constant_time_compare, salted_hmac

CONFIRM_MAX_AGE = 24 * 60 * 60
MANAGE_MAX_AGE = 90 * 24 * 60 * 60
MAX_AGE: dict[str, int | None] = {
    "confirm": CONFIRM_MAX_AGE,
    "manage": MANAGE_MAX_AGE,
    "unsubscribe": None,
}
CODE_DIGITS = 6

_SALTS = {
    "confirm": "notifier.subscriber.confirm",
    "manage": "notifier.subscriber.manage",
    "unsubscribe": "notifier.subscriber.unsubscribe",
}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def request_stamp(requested_at: datetime) -> int:
    """A subscription request's time as whole microseconds (exact, unlike a float)."""
    return (requested_at - _EPOCH) // timedelta(microseconds=1)


def make_token(purpose: str, public_id: str, *, requested_at: datetime | None = None) -> str:
    """A signed token; a confirmation token also names its request (`requested_at`)."""
    if purpose == "confirm":
        if requested_at is None:
            raise ValueError("A confirmation token needs the request's requested_at.")
        payload: str | list = [public_id, request_stamp(requested_at)]
    else:
        payload = public_id
    return signing.dumps(payload, salt=_SALTS[purpose], compress=False)


def read_token(purpose: str, token: str) -> tuple[str, int | None] | None:
    """(public id, request stamp or None) of a token, or None if it is forged, for another
    purpose, expired, or of an older format (a confirmation token naming no request)."""
    try:
        payload = signing.loads(token, salt=_SALTS[purpose], max_age=MAX_AGE[purpose])
    except signing.BadSignature:
        return None
    if purpose == "confirm":
        if (
            isinstance(payload, list)
            and len(payload) == 2
            and isinstance(payload[0], str)
            and isinstance(payload[1], int)
        ):
            return payload[0], payload[1]
        return None
    return (payload, None) if isinstance(payload, str) else None


def confirm_url(public_id: str, requested_at: datetime) -> str:
    token = make_token("confirm", public_id, requested_at=requested_at)
    return settings.SITE_URL + reverse("notifier:confirm", args=[token])


def sms_code(public_id: str, requested_at: datetime) -> str:
    """The opt-in code of a subscription request: six digits derived from the subscriber
    and the request under SECRET_KEY (see the module's docstring)."""
    digest = salted_hmac(
        "notifier.subscriber.sms-code", f"{public_id}:{request_stamp(requested_at)}"
    ).hexdigest()
    return str(int(digest, 16) % 10**CODE_DIGITS).zfill(CODE_DIGITS)


def sms_code_matches(public_id: str, requested_at: datetime, code: str) -> bool:
    typed = "".join(c for c in code if c.isdigit())
    return constant_time_compare(typed, sms_code(public_id, requested_at))


_STAND_IN = "heliograph-token"


@functools.lru_cache(maxsize=8)
def _path_around_token(name: str) -> tuple[str, str]:
    """The path of a signed link before and after its token. `reverse` once per process
    instead of twice per message: every message to a subscriber carries a manage and an
    unsubscribe link, 20,000 reverses for a 10,000-address fan-out. Tokens are URL-safe
    (base64url and ':'), so `reverse` would not have quoted anything in them."""
    head, _, tail = reverse(name, args=[_STAND_IN]).partition(_STAND_IN)
    return head, tail


def _link(name: str, token: str) -> str:
    head, tail = _path_around_token(name)
    return f"{settings.SITE_URL}{head}{token}{tail}"


def manage_url(public_id: str) -> str:
    return _link("notifier:manage", make_token("manage", public_id))


def unsubscribe_url(public_id: str) -> str:
    return _link("notifier:unsubscribe", make_token("unsubscribe", public_id))
