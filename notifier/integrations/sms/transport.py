"""SMS through Twilio's official client (`twilio.rest.Client`, `client.messages.create`).

Off unless configured: `TWILIO_ACCOUNT_SID`, `TWILIO_AUTH_TOKEN` and `HELIOGRAPH_SMS_FROM`
(a sender number in E.164, or a Messaging Service SID `MG…`) must all be set
(`sms_enabled`). The API base is `settings.HELIOGRAPH_TWILIO_API_URL` (set on the client's
`api` domain, so tests and benchmarks talk to a loopback sink); it is checked before each
send by the one URL rule (`check_target(kind="twilio")`: https, a host under twilio.com, the
default port), and the client's HTTP goes through `notifier.outgoing`'s session: connections
only to allowed addresses, no redirect, no proxy.

A notification is one text of at most `HELIOGRAPH_SMS_MAX_SEGMENTS` segments (one by
default: 160 GSM-7 characters), counted by `notifier.integrations.sms.text`: the status and
title, as much of the update as fits, the link to the incident and "Reply STOP to end".
Each number may get `HELIOGRAPH_SMS_RATE_LIMIT` texts an hour (`ratelimit`); past that the
delivery waits for the next hour (a retry with that exact delay), it is not dropped.

Errors: the few Twilio error codes that say *this number* will never take a text (21211
invalid number, 21214/21612 unreachable, 21217 not valid, 21610 the person replied STOP,
21614 not a mobile number) are permanent and mark the subscriber broken. Everything else —
credentials refused, a redirect, a refused or unreachable API address, 429, 5xx — is about
the account or the moment, not the number, so it is retried and never breaks a subscriber.
"""

from __future__ import annotations

import re
import threading

import requests
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from twilio.base.exceptions import TwilioException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from notifier import outgoing
from notifier.integrations.sms import ratelimit
from notifier.integrations.sms.text import compose
from notifier.messages import Notice
from notifier.transports import SendResult, Transport, TransportError
from notifier.validators import TWILIO, check_target

TIMEOUT = 30.0
PERMANENT_CODES = {21211, 21214, 21217, 21610, 21612, 21614}
RATE_LIMIT_CODES = {20429, 14107}
# STOP is the carriers' keyword in every language: translations keep it as it is.
OPT_OUT = gettext_lazy("Reply STOP to end")

_local = threading.local()


def sms_enabled() -> bool:
    """Whether SMS is configured (account SID, auth token and a sender)."""
    return bool(
        settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN and settings.HELIOGRAPH_SMS_FROM
    )


class CheckedTwilioHttpClient(TwilioHttpClient):
    """Twilio's own HTTP client with `notifier.outgoing`'s session: checked connections, no
    redirect, no proxy (the session ignores the proxy environment variables)."""

    def __init__(self) -> None:
        super().__init__(timeout=TIMEOUT)
        self.session = outgoing.session()


def _api_base() -> str:
    try:
        return check_target(settings.HELIOGRAPH_TWILIO_API_URL, kind=TWILIO).rstrip("/")
    except ValidationError as exc:
        raise TransportError(f"HELIOGRAPH_TWILIO_API_URL is refused: {exc.messages[0]}") from exc


def client() -> Client:
    """A Twilio client per thread and configuration (connections are kept alive)."""
    base = _api_base()
    key = (settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN, base)
    cached = getattr(_local, "client", None)
    if cached is not None and cached[0] == key:
        return cached[1]
    twilio = Client(
        settings.TWILIO_ACCOUNT_SID,
        settings.TWILIO_AUTH_TOKEN,
        http_client=CheckedTwilioHttpClient(),
    )
    twilio.api.base_url = base
    _local.client = (key, twilio)
    return twilio


def _error(exc: TwilioException) -> TransportError:
    status = getattr(exc, "status", None)
    code = getattr(exc, "code", None)
    detail = getattr(exc, "msg", None) or getattr(exc, "detail", None) or getattr(exc, "title", "")
    text = f"Twilio answered {status}" + (f" (error {code})" if code else "") + f": {detail}"
    if status == 429 or code in RATE_LIMIT_CODES:
        return TransportError(f"{text}; retrying", retry_after=10.0, status_code=status)
    if status is not None and 300 <= status < 400:
        return TransportError(
            f"Twilio answered {status}, a redirect: Heliograph does not follow redirects; "
            "check HELIOGRAPH_TWILIO_API_URL.",
            status_code=status,
        )
    return TransportError(text, permanent=code in PERMANENT_CODES, status_code=status)


def send_text(phone: str, text: str) -> SendResult:
    """Send one text now, or raise TransportError. `detail` is the message SID."""
    if not sms_enabled():
        raise TransportError(
            "SMS is not configured (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, HELIOGRAPH_SMS_FROM)."
        )
    sender = settings.HELIOGRAPH_SMS_FROM
    origin = {"messaging_service_sid": sender} if sender.startswith("MG") else {"from_": sender}
    try:
        message = client().messages.create(to=phone, body=text, **origin)
    except TwilioException as exc:
        raise _error(exc) from exc
    except (requests.RequestException, OSError) as exc:
        # The API's address is configuration, not the subscriber's: never permanent.
        refused = outgoing.refusal_in(exc)
        reason = str(refused) if refused else f"{exc.__class__.__name__}: {exc}"
        raise TransportError(f"Twilio unreachable: {reason}") from exc
    return SendResult(status_code=201, detail=str(message.sid or ""))


def build_text(notice: Notice, *, segments: int | None = None) -> str:
    """The text of a notice: `[Status] Title: update… <link> Reply STOP to end`, within
    `segments` segments (`HELIOGRAPH_SMS_MAX_SEGMENTS`), in the active language (the
    transport makes it the notice's)."""
    url = notice.url.split("#", 1)[0]
    return compose(
        head=notice.headline,
        body=_plain_markdown(notice.body),
        tail=f"{url} {OPT_OUT}",
        segments=settings.HELIOGRAPH_SMS_MAX_SEGMENTS if segments is None else segments,
    )


def code_text(code: str) -> str:
    """The opt-in text, in the active language: the code first (phones offer to copy it
    from the notification)."""
    return compose(
        head=_("%(code)s is your %(site)s code for SMS status updates")
        % {"code": code, "site": settings.SITE_NAME},
        body="",
        tail=_("It expires in 24 hours.") + f" {OPT_OUT}.",
        segments=1,
    )


def already_text() -> str:
    """The answer to a number that asked again, in the active language."""
    return compose(
        head=_("This number already receives %(site)s status updates")
        % {"site": settings.SITE_NAME},
        body="",
        tail=f"{OPT_OUT}.",
        segments=1,
    )


def _plain_markdown(text: str) -> str:
    """Staff Markdown read as plain text: `[text](url)` → text, emphasis marks and heading
    marks dropped (a text message shows them as they are)."""
    out = []
    for line in text.splitlines():
        line = line.lstrip("#").strip() if line.lstrip().startswith("#") else line
        out.append(line)
    text = "\n".join(out)
    text = _LINK.sub(r"\1", text)
    return _EMPHASIS.sub("", text)


_LINK = re.compile(r"\[([^\]]+)\]\((?:https?://[^)\s]+)\)")
_EMPHASIS = re.compile(r"\*\*|__|`")


class SmsTransport(Transport):
    """A subscriber's phone number (`recipient.phone`, E.164)."""

    def send(self, notice: Notice) -> SendResult:
        phone = self.recipient.phone
        wait = ratelimit.take(phone, "notice")
        if wait:
            raise TransportError(
                f"This number had {settings.HELIOGRAPH_SMS_RATE_LIMIT} texts this hour (the "
                f"per-number limit): sending in {wait:.0f} s",
                retry_after=wait,
            )
        with translation.override(notice.language):
            text = build_text(notice)
        return send_text(phone, text)
