"""One package per medium (`<medium>/transport.py`, `forms.py`), and the tables that pick a
recipient's transport and a channel's console form. A new medium adds its package and one
line to TRANSPORTS (and to CHANNEL_FORMS when staff configure it as a channel).

The tables live here, above the per-medium packages, because those import the shared
bases (`notifier.transports`, `notifier.forms`): the bases never import a medium."""

from __future__ import annotations

from notifier.forms import ChannelBaseForm
from notifier.integrations.discord.forms import DiscordChannelForm
from notifier.integrations.discord.transport import DiscordTransport
from notifier.integrations.email.transport import EmailTransport
from notifier.integrations.slack.forms import SlackChannelForm
from notifier.integrations.slack.transport import SlackTransport
from notifier.integrations.sms.transport import SmsTransport
from notifier.integrations.teams.forms import TeamsChannelForm
from notifier.integrations.teams.transport import TeamsTransport
from notifier.integrations.webhook.forms import WebhookChannelForm
from notifier.integrations.webhook.transport import WebhookTransport
from notifier.models import Channel, ChannelKind, Medium, Subscriber
from notifier.transports import Transport

TRANSPORTS: dict[str, type[Transport]] = {
    Medium.EMAIL: EmailTransport,
    Medium.SLACK: SlackTransport,
    Medium.DISCORD: DiscordTransport,
    Medium.TEAMS: TeamsTransport,
    Medium.WEBHOOK: WebhookTransport,
    Medium.SMS: SmsTransport,
}


def transport_for(recipient: Channel | Subscriber) -> Transport:
    """The transport of a recipient's medium."""
    try:
        return TRANSPORTS[recipient.medium](recipient)
    except KeyError:
        raise ValueError(f"No transport for medium {recipient.medium!r}") from None


CHANNEL_FORMS: dict[str, type[ChannelBaseForm]] = {
    ChannelKind.SLACK: SlackChannelForm,
    ChannelKind.DISCORD: DiscordChannelForm,
    ChannelKind.TEAMS: TeamsChannelForm,
    ChannelKind.WEBHOOK: WebhookChannelForm,
}


def channel_form_class(kind: str) -> type[ChannelBaseForm]:
    """The console form of a medium (Slack when the kind is unknown)."""
    return CHANNEL_FORMS.get(kind, SlackChannelForm)
