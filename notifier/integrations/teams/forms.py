"""The console form of a Microsoft Teams channel: a Workflows webhook URL."""

from __future__ import annotations

from django import forms

from notifier.forms import ChannelBaseForm
from notifier.models import ChannelKind


class TeamsChannelForm(ChannelBaseForm):
    kind_value = ChannelKind.TEAMS
    destination_fields = ("url",)
    url = forms.CharField(
        max_length=2000,
        label="Workflow webhook URL",
        help_text="Teams → the channel's ⋯ → Workflows → “Post to a channel when a webhook "
        "request is received”; copy the URL whole (https://….logic.azure.com/workflows/… or "
        "https://….api.powerplatform.com/…)",
    )
