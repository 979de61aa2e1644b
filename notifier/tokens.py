"""Signed links for subscribers: confirm (valid 24 h), manage preferences and unsubscribe.

The links carry the subscriber's opaque public id signed with SECRET_KEY
(`django.core.signing`), one salt per purpose, so a manage link cannot be replayed as a
confirmation and nobody can forge a link for another address. No login, no cookie.
"""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.urls import reverse

CONFIRM_MAX_AGE = 24 * 60 * 60

_SALTS = {
    "confirm": "notifier.subscriber.confirm",
    "manage": "notifier.subscriber.manage",
    "unsubscribe": "notifier.subscriber.unsubscribe",
}


def make_token(purpose: str, public_id: str) -> str:
    return signing.dumps(public_id, salt=_SALTS[purpose], compress=False)


def read_token(purpose: str, token: str) -> str | None:
    """The public id in `token`, or None if it is forged, for another purpose, or expired."""
    max_age = CONFIRM_MAX_AGE if purpose == "confirm" else None
    try:
        return signing.loads(token, salt=_SALTS[purpose], max_age=max_age)
    except signing.BadSignature:
        return None


def confirm_url(public_id: str) -> str:
    token = make_token("confirm", public_id)
    return settings.SITE_URL + reverse("notifier:confirm", args=[token])


def manage_url(public_id: str) -> str:
    token = make_token("manage", public_id)
    return settings.SITE_URL + reverse("notifier:manage", args=[token])


def unsubscribe_url(public_id: str) -> str:
    token = make_token("unsubscribe", public_id)
    return settings.SITE_URL + reverse("notifier:unsubscribe", args=[token])
