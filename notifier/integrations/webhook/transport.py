"""Webhooks: the status-page JSON payloads of interfaces.md §3, POSTed with `requests`.

The body is signed so a receiver can check it came from us:
`X-Heliograph-Signature: sha256=<hex HMAC-SHA256 of the raw body under the recipient's
secret>`. The URL is checked again before each send (`check_target`: DNS can change after
the URL was saved), and the connection only goes to an address that passed the check
(`notifier.outgoing`). Redirects are not followed: a 3xx is a permanent error.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading

import requests
from django.conf import settings
from django.utils import timezone

from incidents.documents import iso
from notifier import outgoing
from notifier.messages import Notice
from notifier.models import Subscriber
from notifier.tokens import unsubscribe_url
from notifier.transports import (
    SendResult,
    Transport,
    TransportError,
    check_target_now,
    is_redirect,
    parse_retry_after,
    redirect_error,
    unreachable,
)
from notifier.validators import WEBHOOK

SIGNATURE_HEADER = "X-Heliograph-Signature"
TIMEOUT = (5, 30)  # receivers answer within 30 s (interfaces.md §3)
PERMANENT_STATUS = {410}

_local = threading.local()


def _session() -> requests.Session:
    """One checked, redirect-refusing session per thread (connections are kept alive)."""
    session = getattr(_local, "session", None)
    if session is None:
        session = _local.session = outgoing.session()
    return session


def sign(body: bytes, secret: str) -> str:
    """The signature header value of a body: `sha256=<hex>`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def build_body(notice: Notice, recipient) -> bytes:
    """The raw JSON body: per-recipient `meta`, then the notice's page and event."""
    if isinstance(recipient, Subscriber):
        unsubscribe = unsubscribe_url(recipient.public_id)
    else:
        unsubscribe = f"{settings.SITE_URL}/console/notifications/"
    payload = {
        "meta": {
            "unsubscribe": unsubscribe,
            "documentation": f"{settings.SITE_URL}/subscribe/#webhooks",
            "generated_at": iso(timezone.now()),
        },
        **notice.payload,
    }
    return json.dumps(payload, separators=(",", ":")).encode()


class WebhookTransport(Transport):
    def send(self, notice: Notice) -> SendResult:
        url = check_target_now(self.recipient.url, kind=WEBHOOK)
        body = build_body(notice, self.recipient)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"{settings.SITE_NAME} (Heliograph) webhook",
            SIGNATURE_HEADER: sign(body, self.recipient.secret),
            "X-Heliograph-Event": notice.kind,
        }
        try:
            response = _session().post(
                url, data=body, headers=headers, timeout=TIMEOUT, allow_redirects=False
            )
        except requests.RequestException as exc:
            message = f"Webhook unreachable: {exc.__class__.__name__}: {exc}"
            raise unreachable(message, exc) from exc
        code = response.status_code
        if 200 <= code < 300:
            return SendResult(status_code=code)
        if is_redirect(code):
            raise redirect_error("The webhook", code)
        if code == 429:
            retry_after = parse_retry_after(response.headers.get("Retry-After"), 5.0)
            raise TransportError(
                f"Webhook rate limit: retry after {retry_after:g} s",
                retry_after=retry_after,
                status_code=429,
            )
        raise TransportError(
            f"Webhook answered {code}: {response.text[:200]}",
            permanent=code in PERMANENT_STATUS,
            status_code=code,
        )
