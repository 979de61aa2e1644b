"""The console form of a Discord channel: a webhook URL."""

from __future__ import annotations

from django import forms

from notifier.forms import ChannelBaseForm
from notifier.models import ChannelKind


class DiscordChannelForm(ChannelBaseForm):
    kind_value = ChannelKind.DISCORD
    destination_fields = ("url",)
    url = forms.CharField(
        max_length=2000,
        label="Webhook URL",
        help_text="https://discord.com/api/webhooks/<id>/<token> (channel settings → Integrations)",
    )
