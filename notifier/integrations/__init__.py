"""One package per medium (`<medium>/transport.py`, `forms.py`), and the table that picks a
recipient's transport. A new medium adds its package and one line to TRANSPORTS."""

from __future__ import annotations

from notifier.integrations.discord.transport import DiscordTransport
from notifier.integrations.email.transport import EmailTransport
from notifier.integrations.slack.transport import SlackTransport
from notifier.integrations.webhook.transport import WebhookTransport
from notifier.models import Channel, Medium, Subscriber
from notifier.transports import Transport

TRANSPORTS: dict[str, type[Transport]] = {
    Medium.EMAIL: EmailTransport,
    Medium.SLACK: SlackTransport,
    Medium.DISCORD: DiscordTransport,
    Medium.WEBHOOK: WebhookTransport,
}


def transport_for(recipient: Channel | Subscriber) -> Transport:
    """The transport of a recipient's medium."""
    try:
        return TRANSPORTS[recipient.medium](recipient)
    except KeyError:
        raise ValueError(f"No transport for medium {recipient.medium!r}") from None
