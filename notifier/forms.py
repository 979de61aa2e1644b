"""Forms of the subscribe pages and the staff console. They parse input; the service
functions validate it and raise ValidationError, which the views put back on the form."""

from __future__ import annotations

from django import forms

from notifier.models import ChannelKind, Scope, SubscriberKind
from statuspage.models import Component, Region, Service


class ScopeFields(forms.Form):
    scope = forms.ChoiceField(choices=Scope.choices, initial=Scope.ALL, widget=forms.RadioSelect)
    regions = forms.ModelMultipleChoiceField(
        queryset=Region.objects.all(), required=False, widget=forms.CheckboxSelectMultiple
    )
    services = forms.ModelMultipleChoiceField(
        queryset=Service.objects.all(), required=False, widget=forms.CheckboxSelectMultiple
    )
    components = forms.ModelMultipleChoiceField(
        queryset=Component.objects.select_related("service", "region"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    component_changes = forms.BooleanField(
        required=False,
        label="Also tell me when a component changes status outside an incident",
    )

    def scope_kwargs(self) -> dict:
        data = self.cleaned_data
        return {
            "scope": data["scope"],
            "regions": list(data.get("regions") or []),
            "services": list(data.get("services") or []),
            "components": list(data.get("components") or []),
            "component_changes": bool(data.get("component_changes")),
        }

    def add_service_errors(self, errors: dict[str, list[str]]) -> None:
        for field, messages in errors.items():
            for message in messages:
                self.add_error(field if field in self.fields else None, message)


class SubscribeForm(ScopeFields):
    kind = forms.ChoiceField(
        choices=SubscriberKind.choices, initial=SubscriberKind.EMAIL, widget=forms.RadioSelect
    )
    email = forms.CharField(max_length=254, label="Email address")
    url = forms.CharField(max_length=2000, required=False, label="Webhook URL (https)")
    # Honeypot: hidden from people by CSS; bots fill every field.
    website = forms.CharField(required=False, label="Leave this empty")


class PreferencesForm(ScopeFields):
    pass


class ChannelForm(ScopeFields):
    kind = forms.ChoiceField(choices=ChannelKind.choices)
    name = forms.CharField(max_length=200)
    url = forms.CharField(
        max_length=2000,
        required=False,
        label="URL",
        help_text="Slack incoming webhook, Discord webhook, or the webhook endpoint",
    )
    token = forms.CharField(
        max_length=255, required=False, label="Slack bot token", help_text="Instead of a URL"
    )
    target = forms.CharField(max_length=64, required=False, label="Slack channel id")
    enabled = forms.BooleanField(required=False, initial=True)

    def channel_kwargs(self) -> dict:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "url": data.get("url") or "",
            "token": data.get("token") or "",
            "target": data.get("target") or "",
            **self.scope_kwargs(),
        }
