"""Texts people send back (Twilio's inbound messaging webhook): STOP and its synonyms.

Twilio POSTs every incoming text to the number's messaging webhook — configure it as
`<HELIOGRAPH_SITE_URL>/sms/inbound/` (HTTP POST) — signed in `X-Twilio-Signature` with the
account's auth token. `signature_valid` checks it with the SDK's `RequestValidator` against
the URL Twilio called, rebuilt from `HELIOGRAPH_SITE_URL` (behind a proxy the request's own
host and scheme are not what Twilio signed). A request that does not verify is refused.

Keywords are Twilio's standard ones, matched on the whole text (trimmed, any case), as
carriers do: opting out (STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, OPTOUT, REVOKE)
unsubscribes the number; opting back in (START, YES, UNSTOP) is answered with the link to
subscribe again (a new double opt-in: a code); HELP is left to Twilio's own answer.
"""

from __future__ import annotations

import re

from django.conf import settings
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

OPT_OUT = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"}
OPT_IN = {"START", "YES", "UNSTOP"}
SIGNATURE_HEADER = "X-Twilio-Signature"


def signature_valid(path: str, params, signature: str) -> bool:
    """Whether a request to `path` (with its query) with these form parameters was signed by
    Twilio with our auth token."""
    if not signature or not settings.TWILIO_AUTH_TOKEN:
        return False
    url = settings.SITE_URL + path
    return RequestValidator(settings.TWILIO_AUTH_TOKEN).validate(url, params, signature)


def keyword(body: str) -> str:
    """The keyword a text is, upper case without spaces or punctuation ("Stop." → STOP)."""
    return re.sub(r"[^A-Z]", "", (body or "").upper())


def reply(text: str | None = None) -> str:
    """TwiML answering the text: empty (no reply), or one message."""
    response = MessagingResponse()
    if text:
        response.message(text)
    return str(response)
