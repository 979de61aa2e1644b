"""The console form of a webhook channel: an https URL on a public address."""

from __future__ import annotations

from django import forms

from notifier.forms import ChannelBaseForm
from notifier.models import ChannelKind


class WebhookChannelForm(ChannelBaseForm):
    kind_value = ChannelKind.WEBHOOK
    destination_fields = ("url",)
    url = forms.CharField(
        max_length=2000,
        label="Endpoint URL",
        help_text="https, on a public address; receives the status-page JSON payloads, signed",
    )
