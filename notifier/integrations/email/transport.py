"""Email: Django's email backends (SMTP from EMAIL_* settings, or any provider backend;
the embedded default writes files), HTML and plain text, one template per kind of event.

Every message carries the subscriber's manage-preferences link and RFC 8058 one-click
unsubscribe headers. It is written in the notice's language (the subscriber's: templates
rendered inside `translation.override`, dates with `locale_dates.when`) and says so in its
`Content-Language` header. Batches go over one connection (`send_batch`): the delivery loop
opens it once and sends message after message, so 10,000 subscribers cost one SMTP session
per batch instead of one per address.
"""

from __future__ import annotations

import smtplib
from email.utils import make_msgid

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.backends.smtp import EmailBackend as SmtpBackend
from django.core.mail.utils import DNS_NAME
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _

from notifier.messages import Notice
from notifier.models import Subscriber
from notifier.tokens import manage_url, unsubscribe_url
from notifier.transports import SendResult, Transport, TransportError, truncate
from statuspage.text import one_line

SUBJECT_LIMIT = 200


def subject_for(notice: Notice) -> str:
    """The Subject of a notice's email, always one line: the names in it are stored text, and
    rows written before `statuspage.text.clean_text` (v0.1 stored anything) may hold a
    newline or a control character, which would make every send a `BadHeaderError` retried
    until dead. `one_line` makes them spaces, whatever the row holds. In the active
    language."""
    names = {"site": settings.SITE_NAME, "title": notice.title, "status": notice.status_label}
    if notice.kind == "maintenance":
        subject = _("[%(site)s] Maintenance: %(title)s – %(status)s") % names
    elif notice.kind == "component_change":
        subject = _("[%(site)s] Status change: %(title)s – %(status)s") % names
    else:
        subject = _("[%(site)s] Incident: %(title)s – %(status)s") % names
    return truncate(one_line(subject), SUBJECT_LIMIT)


# Stand-ins rendered into the shared copy of a notice's email and replaced per subscriber.
_MANAGE = "https://heliograph-manage.invalid/m/"
_UNSUBSCRIBE = "https://heliograph-unsubscribe.invalid/u/"
_TO = "heliograph-recipient@heliograph-recipient.invalid"
_MESSAGE_ID = "<heliograph-message-id@heliograph-recipient.invalid>"


class _Prebuilt:
    """Stands in for the MIME object Django's backends get from `EmailMessage.message()`:
    just the bytes (SMTP, file and console backends call `as_bytes`)."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def as_bytes(self, unixfrom: bool = False, linesep: str = "\n") -> bytes:
        return self._data if linesep == "\n" else self._data.replace(b"\n", linesep.encode())

    def as_string(self, unixfrom: bool = False, linesep: str = "\n") -> str:
        return self.as_bytes(unixfrom, linesep).decode()

    def get_charset(self) -> None:
        return None


class NoticeEmail(EmailMultiAlternatives):
    """An email whose MIME bytes were made once for the whole fan-out.

    All attributes (subject, body, alternatives, headers) are the real, personalised ones,
    so provider backends that read them work unchanged; backends that serialise the message
    get the shared bytes with this subscriber's address and links put in.
    """

    prebuilt: bytes | None = None

    def message(self, *args, **kwargs):
        if self.prebuilt is not None:
            return _Prebuilt(self.prebuilt)
        return super().message(*args, **kwargs)


class NoticeEmailFactory:
    """Renders the templates and the MIME message of a notice once; `for_subscriber` then
    costs two signatures and a few replacements instead of a render and a MIME build (which
    dominate the cost of a 10,000-address fan-out). One factory per notice, so per language."""

    def __init__(self, notice: Notice) -> None:
        self.notice = notice
        context = {
            "notice": notice,
            "site_name": settings.SITE_NAME,
            "site_url": settings.SITE_URL,
            "manage_url": _MANAGE,
            "unsubscribe_url": _UNSUBSCRIBE,
        }
        with translation.override(notice.language):
            self.subject = subject_for(notice)
            self.text = render_to_string(f"emails/{notice.kind}.txt", context)
            self.html = render_to_string(f"emails/{notice.kind}.html", context)
        shared = self._message(_TO, _MANAGE, _UNSUBSCRIBE, self.text, self.html)
        shared.extra_headers["Message-ID"] = _MESSAGE_ID
        data = shared.message().as_bytes()
        # Use the shared bytes only if every stand-in came through unencoded (a body with
        # lines over 998 characters is quoted-printable and could split them).
        expected = {
            _MANAGE: self.text.count(_MANAGE) + self.html.count(_MANAGE),
            _UNSUBSCRIBE: self.text.count(_UNSUBSCRIBE) + self.html.count(_UNSUBSCRIBE) + 1,
            _TO: 1,
            _MESSAGE_ID: 1,
        }
        ok = all(data.count(key.encode()) == n for key, n in expected.items())
        # Encoded bodies (lines over 998 characters) have their own line-length rules: the
        # links are not spliced into those, each such email is built whole.
        ok = ok and b"Content-Transfer-Encoding: 8bit" in data
        ok = ok and b"quoted-printable" not in data and b"base64" not in data
        self.data = data if ok else None

    def _message(self, to: str, manage: str, unsubscribe: str, text: str, html: str) -> NoticeEmail:
        message = NoticeEmail(
            subject=self.subject,
            body=text,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[to],
            headers={
                "List-Unsubscribe": f"<{unsubscribe}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                "X-Heliograph-Event": self.notice.event_key,
                "Content-Language": self.notice.language,
            },
        )
        message.attach_alternative(html, "text/html")
        return message

    def for_subscriber(self, subscriber: Subscriber) -> NoticeEmail:
        manage = manage_url(subscriber.public_id)
        unsubscribe = unsubscribe_url(subscriber.public_id)
        text = self.text.replace(_MANAGE, manage).replace(_UNSUBSCRIBE, unsubscribe)
        html = self.html.replace(_MANAGE, manage).replace(_UNSUBSCRIBE, unsubscribe)
        message = self._message(subscriber.email, manage, unsubscribe, text, html)
        if self.data is not None and subscriber.email.isascii():
            message_id = make_msgid(domain=DNS_NAME)
            message.extra_headers["Message-ID"] = message_id
            message.prebuilt = (
                self.data.replace(_MANAGE.encode(), manage.encode())
                .replace(_UNSUBSCRIBE.encode(), unsubscribe.encode())
                .replace(_TO.encode(), subscriber.email.encode())
                .replace(_MESSAGE_ID.encode(), message_id.encode())
            )
        return message


_factories: dict[tuple[str, str], NoticeEmailFactory] = {}


def build_message(notice: Notice, subscriber: Subscriber) -> NoticeEmail:
    """The email of one notice for one subscriber (template `emails/<kind>.{txt,html}`), in
    the notice's language (the delivery loop builds each subscriber's notice in theirs)."""
    key = (notice.event_key, notice.language)
    factory = _factories.get(key)
    if factory is None or factory.notice is not notice:
        if len(_factories) > 64:
            _factories.clear()
        factory = _factories[key] = NoticeEmailFactory(notice)
    return factory.for_subscriber(subscriber)


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
    return SendResult(status_code=250 if isinstance(connection, SmtpBackend) else None)


class EmailTransport(Transport):
    """Single sends (tests, confirmations). Fan-outs use `build_message` + `send_one` over
    one connection (see notifier.services)."""

    def send(self, notice: Notice) -> SendResult:
        connection = get_connection()
        try:
            return send_one(build_message(notice, self.recipient), connection)
        finally:
            connection.close()
