"""The console form of a Slack channel: an incoming webhook, or a bot token + channel id."""

from __future__ import annotations

from django import forms

from notifier.forms import ChannelBaseForm
from notifier.models import ChannelKind


class SlackChannelForm(ChannelBaseForm):
    kind_value = ChannelKind.SLACK
    destination_fields = ("url", "token", "target")
    url = forms.CharField(
        max_length=2000,
        required=False,
        label="Incoming webhook URL",
        help_text="https://hooks.slack.com/services/…",
    )
    token = forms.CharField(
        max_length=255,
        required=False,
        label="Or a bot token",
        help_text="xoxb-…: all updates of an incident then go into one thread",
    )
    target = forms.CharField(
        max_length=64, required=False, label="Channel id", help_text="C…, with a bot token"
    )
