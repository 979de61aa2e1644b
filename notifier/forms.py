"""Forms of the subscribe pages and the staff console. They parse input; the service
functions validate it and raise ValidationError, which the views put back on the form."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from notifier.models import Scope, SubscriberKind
from statuspage import languages
from statuspage.models import Component, Region, Service


def language_field(label: str, **kwargs) -> forms.ChoiceField:
    """Every language of the page, each named in its own language (a reader finds theirs
    whatever language the page is in)."""
    return forms.ChoiceField(
        choices=languages.LANGUAGES, initial=languages.DEFAULT, label=label, **kwargs
    )


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
        label=_("Also tell me when a component changes status outside an incident"),
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
    """Every way to subscribe; SMS only while it is configured (the service refuses it
    otherwise). Which fields a kind needs is the service's rule, not the form's."""

    kind = forms.ChoiceField(
        choices=SubscriberKind.choices, initial=SubscriberKind.EMAIL, widget=forms.RadioSelect
    )
    email = forms.CharField(max_length=254, required=False, label=_("Email address"))
    url = forms.CharField(
        max_length=2000, required=False, label=_("Webhook URL (webhook, Slack, Discord or Teams)")
    )
    phone = forms.CharField(max_length=32, required=False, label=_("Mobile number"))
    # Absent from a post: the page's language.
    language = language_field(_("Language of your messages"), required=False)
    # Honeypot: hidden from people by CSS; bots fill every field.
    website = forms.CharField(required=False, label=_("Leave this empty"))

    def __init__(self, *args, sms: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not sms:
            self.fields["kind"].choices = [
                (value, label)
                for value, label in SubscriberKind.choices
                if value != SubscriberKind.SMS
            ]


class CodeForm(forms.Form):
    """The code texted to a number that asked for SMS updates."""

    phone = forms.CharField(max_length=32, widget=forms.HiddenInput)
    code = forms.CharField(max_length=12, label=_("Code"), strip=True)
    # The language the subscriber chose: the page answers in it.
    language = forms.ChoiceField(
        choices=languages.LANGUAGES, required=False, widget=forms.HiddenInput
    )


class PreferencesForm(ScopeFields):
    # Absent from a post: unchanged.
    language = language_field(_("Language of your messages"), required=False)


class ChannelBaseForm(ScopeFields):
    """What every channel has; each medium's form (notifier.integrations.<kind>.forms) adds
    its destination fields and lists them in `destination_fields`, and
    `notifier.integrations.channel_form_class` picks the form of a medium."""

    kind_value = ""
    destination_fields: tuple[str, ...] = ()
    name = forms.CharField(max_length=200)
    enabled = forms.BooleanField(required=False, initial=True)
    staff_alerts = forms.BooleanField(
        required=False,
        label="Also post staff alerts here",
        help_text="Alerts from monitoring, missed check-ins, metric thresholds and incident "
        "drafts: for a staff channel, not a public one. Slack, Discord and Teams only.",
    )

    # Absent from a post: English for a new channel, unchanged for an existing one.
    language = language_field("Language of its messages", required=False)

    def destination(self) -> list:
        return [self[name] for name in self.destination_fields]

    def channel_kwargs(self) -> dict:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "url": data.get("url") or "",
            "token": data.get("token") or "",
            "target": data.get("target") or "",
            "staff_alerts": bool(data.get("staff_alerts")),
            "language": data.get("language") or None,
            **self.scope_kwargs(),
        }
