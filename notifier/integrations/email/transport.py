"""Email: Django's email backends (SMTP from EMAIL_* settings, or any provider backend;
the embedded default writes files), HTML and plain text, one template per kind of event.

Every message carries the subscriber's manage-preferences link and RFC 8058 one-click
unsubscribe headers. Batches go over one connection (`send_batch`): the delivery loop
opens it once and sends message after message, so 10,000 subscribers cost one SMTP session
per batch instead of one per address.
"""

from __future__ import annotations

import smtplib

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.template.loader import render_to_string

from notifier.messages import Notice
from notifier.models import Subscriber
from notifier.tokens import manage_url, unsubscribe_url
from notifier.transports import SendResult, Transport, TransportError, truncate

SUBJECT_LIMIT = 200


def subject_for(notice: Notice) -> str:
    if notice.kind == "maintenance":
        prefix = "Maintenance"
    elif notice.kind == "component_change":
        prefix = "Status change"
    else:
        prefix = "Incident"
    return truncate(
        f"[{settings.SITE_NAME}] {prefix}: {notice.title} – {notice.status_label}", SUBJECT_LIMIT
    )


def build_message(notice: Notice, subscriber: Subscriber) -> EmailMultiAlternatives:
    """The email of one notice for one subscriber (template `emails/<kind>.{txt,html}`)."""
    unsubscribe = unsubscribe_url(subscriber.public_id)
    context = {
        "notice": notice,
        "site_name": settings.SITE_NAME,
        "site_url": settings.SITE_URL,
        "manage_url": manage_url(subscriber.public_id),
        "unsubscribe_url": unsubscribe,
    }
    message = EmailMultiAlternatives(
        subject=subject_for(notice),
        body=render_to_string(f"emails/{notice.kind}.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[subscriber.email],
        headers={
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "X-Heliograph-Event": notice.event_key,
        },
    )
    message.attach_alternative(render_to_string(f"emails/{notice.kind}.html", context), "text/html")
    return message


def classify_smtp_error(exc: Exception) -> TransportError:
    """5xx for the recipient is permanent (the address does not exist or refuses us);
    4xx and lost connections are worth another try."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(exc.recipients.values()), (None, b""))
        detail = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
        return TransportError(
            f"SMTP refused the recipient: {code} {detail}",
            permanent=bool(code and code >= 500),
            status_code=code,
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        detail = (
            exc.smtp_error.decode(errors="replace")
            if isinstance(exc.smtp_error, bytes)
            else str(exc.smtp_error)
        )
        permanent = exc.smtp_code >= 500 and not isinstance(exc, smtplib.SMTPSenderRefused)
        return TransportError(
            f"SMTP error: {exc.smtp_code} {detail}", permanent=permanent, status_code=exc.smtp_code
        )
    return TransportError(f"Email not sent: {exc.__class__.__name__}: {exc}")


def send_one(message: EmailMultiAlternatives, connection: BaseEmailBackend) -> SendResult:
    """Send one message over an open connection, or raise TransportError."""
    try:
        sent = connection.send_messages([message])
    except (smtplib.SMTPException, OSError) as exc:
        raise classify_smtp_error(exc) from exc
    if not sent:
        raise TransportError("The email backend did not send the message.")
    return SendResult(status_code=250 if isinstance(connection, _smtp_backend()) else None)


def _smtp_backend() -> type:
    from django.core.mail.backends.smtp import EmailBackend

    return EmailBackend


class EmailTransport(Transport):
    """Single sends (tests, confirmations). Fan-outs use `build_message` + `send_one` over
    one connection (see notifier.services)."""

    def send(self, notice: Notice) -> SendResult:
        connection = get_connection()
        try:
            return send_one(build_message(notice, self.recipient), connection)
        finally:
            connection.close()
