"""Admin of subscribers, channels and deliveries.

The admin is a second door to the notifier's write path, never a second write path. Adding,
changing and deleting a channel go through `channel_create` / `channel_update` /
`channel_delete`; adding a subscriber through `subscriber_add_confirmed` (staff add people
who agreed elsewhere), changing one through `subscriber_update_preferences`, unsubscribing and
deleting through `subscriber_unsubscribe` / `subscriber_delete`. So a URL the services refuse
(a loopback or link-local address: server-side request forgery) is refused here too, with the
service's message on the form and nothing saved, and every save writes the same audit entry
as the console or the API does for the same change.

How: the add/change forms are `ServiceForm`s. Once Django's own checks of the input pass,
the form's last validation step is the service call itself; its ValidationError becomes
form errors (in the admin's transaction, so nothing is written), and when it succeeds the
form's instance is the row the service saved. `save_model` and `save_related` then have
nothing left to do. Deliveries and Slack threads are not added or edited here.
"""

from __future__ import annotations

from collections.abc import Sequence

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest

from incidents.models import IncidentUpdate
from notifier import services
from notifier.models import (
    Channel,
    Delivery,
    DeliveryStatus,
    SlackThread,
    StaffNotice,
    Subscriber,
)
from statuspage import languages
from statuspage.services import Actor

HEALTH_FIELDS = ("created_at", "last_success_at", "last_error", "last_error_at", "broken_at")


class ServiceForm(forms.ModelForm):
    """A model form whose save is a service call, made as its last validation step.

    Why in validation: the admin decides between "saved" and "show the form again" right
    after `is_valid()`; a service refusing later, in `save_model`, could only be a server
    error. The admin's view runs in one transaction, so a save that succeeded here and a
    later failure still leave nothing behind.

    `actor` is set per request by `ServiceAdmin.get_form`. Subclasses implement
    `save_through_service()`, reading `cleaned_data` (and `self.instance` for a change)."""

    actor: Actor
    saved_through_service = False
    # The language of the recipient's messages; absent from a post: English for a new one,
    # unchanged for an existing one.
    language = forms.ChoiceField(choices=languages.LANGUAGES, required=False)

    def save_through_service(self) -> models.Model:
        raise NotImplementedError

    def full_clean(self) -> None:
        super().full_clean()
        if not self.is_bound or self._errors:
            return
        try:
            self.instance = self.save_through_service()
        except ValidationError as refused:
            self._add_service_errors(refused)
        else:
            self.saved_through_service = True

    def _add_service_errors(self, refused: ValidationError) -> None:
        """The service's errors on their fields; on the whole form for a field not shown."""
        if not hasattr(refused, "error_dict"):
            self.add_error(None, refused)
            return
        for field, errors in refused.message_dict.items():
            for message in errors:
                self.add_error(field if field in self.fields else None, message)

    def scope_kwargs(self) -> dict:
        data = self.cleaned_data
        return {
            "scope": data["scope"],
            "regions": _listed(data.get("regions")),
            "services": _listed(data.get("services")),
            "components": _listed(data.get("components")),
            "component_changes": bool(data.get("component_changes")),
        }

    def language_kwargs(self) -> dict:
        language = self.cleaned_data.get("language")
        return {"language": language} if language else {}


def _listed(rows: Sequence | None) -> list:
    return list(rows or [])


class ServiceAdmin(admin.ModelAdmin):
    """A ModelAdmin whose forms save through the services (see ServiceForm)."""

    def get_form(self, request: HttpRequest, obj=None, change: bool = False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        # A subclass per request: the class is shared by threads, the actor is not.
        return type(form.__name__, (form,), {"actor": Actor.for_user(request.user)})

    def save_model(self, request: HttpRequest, obj, form, change: bool) -> None:
        """Nothing to do: the form's validation saved `obj` through the service."""
        if not getattr(form, "saved_through_service", False):
            raise RuntimeError(f"{type(self).__name__} saves only through its ServiceForm.")

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        """Nothing to do: the service set the regions, services and components."""

    def get_deleted_objects(self, objs, request: HttpRequest):
        """A recipient's deliveries and Slack threads go with it, by its delete service (as in
        the console, which needs only the recipient's delete permission), not as separate
        deletions the user needs their own permissions for."""
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        outbox = {Delivery._meta.verbose_name, SlackThread._meta.verbose_name}
        return deleted, counts, perms_needed - outbox, protected


# --- Subscribers ------------------------------------------------------------------------------


class SubscriberForm(ServiceForm):
    # As typed ("+49 151 1234 5678"); the service validates it and stores it in E.164.
    phone = forms.CharField(
        max_length=32, required=False, help_text="SMS subscribers: with the country code"
    )

    def clean_phone(self) -> str:
        """Without its separators, so a number typed with spaces fits the column; whether it
        is a number is the service's call."""
        return "".join(c for c in self.cleaned_data.get("phone") or "" if c not in " -().")

    def save_through_service(self) -> Subscriber:
        if self.instance.pk is None:
            data = self.cleaned_data
            return services.subscriber_add_confirmed(
                email=data.get("email") or "",
                kind=data["kind"],
                url=data.get("url") or "",
                phone=data.get("phone") or "",
                actor=self.actor,
                **self.language_kwargs(),
                **self.scope_kwargs(),
            )
        return services.subscriber_update_preferences(
            subscriber=self.instance,
            actor=self.actor,
            **self.language_kwargs(),
            **self.scope_kwargs(),
        )


@admin.register(Subscriber)
class SubscriberAdmin(ServiceAdmin):
    form = SubscriberForm
    list_display = (
        "__str__",
        "kind",
        "email",
        "scope",
        "language",
        "confirmed_at",
        "unsubscribed_at",
        "broken_at",
    )
    list_filter = ("kind", "scope", "language", "component_changes")
    search_fields = ("email", "url", "phone", "public_id")
    readonly_fields = (
        "public_id",
        "requested_at",
        "confirmed_at",
        "unsubscribed_at",
        *HEALTH_FIELDS,
    )
    # Who the subscriber is (kind, address, webhook URL) is fixed once added: a new address
    # is a new subscriber. Preferences stay editable.
    identity_fields = ("kind", "email", "url", "phone")
    exclude = ("secret",)
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    filter_horizontal = ("regions", "services", "components")
    actions = ["unsubscribe"]

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        fields = tuple(super().get_readonly_fields(request, obj))
        return (*self.identity_fields, *fields) if obj is not None else fields

    def delete_model(self, request: HttpRequest, obj: Subscriber) -> None:
        services.subscriber_delete(subscriber=obj, actor=Actor.for_user(request.user))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Subscriber]) -> None:
        for subscriber in queryset:
            self.delete_model(request, subscriber)

    @admin.action(description="Unsubscribe the selected subscribers")
    def unsubscribe(self, request: HttpRequest, queryset: QuerySet[Subscriber]) -> None:
        actor = Actor.for_user(request.user)
        for subscriber in queryset:
            services.subscriber_unsubscribe(subscriber=subscriber, actor=actor)
        self.message_user(request, f"{queryset.count()} unsubscribed.", messages.SUCCESS)


# --- Channels ---------------------------------------------------------------------------------


class ChannelForm(ServiceForm):
    def save_through_service(self) -> Channel:
        data = self.cleaned_data
        destination = {
            "name": data["name"],
            "url": data.get("url") or "",
            "token": data.get("token") or "",
            "target": data.get("target") or "",
            "staff_alerts": bool(data.get("staff_alerts")),
        }
        if self.instance.pk is None:
            return services.channel_create(
                kind=data["kind"],
                actor=self.actor,
                enabled=bool(data.get("enabled")),
                **destination,
                **self.language_kwargs(),
                **self.scope_kwargs(),
            )
        return services.channel_update(
            channel=self.instance,
            actor=self.actor,
            enabled=bool(data.get("enabled")),
            **destination,
            **self.language_kwargs(),
            **self.scope_kwargs(),
        )


@admin.register(Channel)
class ChannelAdmin(ServiceAdmin):
    form = ChannelForm
    list_display = (
        "name",
        "kind",
        "scope",
        "language",
        "enabled",
        "staff_alerts",
        "last_success_at",
        "broken_at",
    )
    list_filter = ("kind", "enabled", "scope", "staff_alerts")
    search_fields = ("name", "url", "target")
    # The secret is made by the service and shown (webhook receivers need it to check the
    # signatures), not typed in.
    readonly_fields = ("secret", *HEALTH_FIELDS)
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    filter_horizontal = ("regions", "services", "components")
    actions = ["send_test"]

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        fields = tuple(super().get_readonly_fields(request, obj))
        # A channel's medium is what it is; another medium is another channel.
        return ("kind", *fields) if obj is not None else fields

    def delete_model(self, request: HttpRequest, obj: Channel) -> None:
        services.channel_delete(channel=obj, actor=Actor.for_user(request.user))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Channel]) -> None:
        for channel in queryset:
            self.delete_model(request, channel)

    @admin.action(description="Send a test message")
    def send_test(self, request: HttpRequest, queryset: QuerySet[Channel]) -> None:
        actor = Actor.for_user(request.user)
        for channel in queryset:
            try:
                services.channel_send_test(channel=channel, actor=actor)
            except services.TransportError as error:
                self.message_user(request, f"{channel}: {error.message}", messages.ERROR)
            else:
                self.message_user(request, f"{channel}: test message sent.", messages.SUCCESS)


# --- The outbox (read-only) -------------------------------------------------------------------


class ReadOnlyOutboxAdmin(admin.ModelAdmin):
    """Outbox rows are written only by the delivery loop and its services: none is added or
    edited here. (Deleting stays allowed: the admin checks that permission when a row that
    owns deliveries, an incident or a channel, is deleted with them.)"""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        # The list (and its actions) needs the permission; a row's page is view-only.
        return obj is None and super().has_change_permission(request)


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyOutboxAdmin):
    list_display = (
        "id",
        "event_key",
        "medium",
        "recipient_key",
        "status",
        "attempts",
        "response_code",
        "next_attempt_at",
        "sent_at",
    )
    list_filter = ("status", "medium")
    search_fields = ("event_key", "recipient_key", "last_error")
    list_select_related = ("subscriber", "channel")
    raw_id_fields = ("update", "component_change", "subscriber", "channel")
    readonly_fields = [f.name for f in Delivery._meta.fields]
    actions = ["retry"]

    @admin.action(description="Send the selected dead deliveries again", permissions=["change"])
    def retry(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        actor = Actor.for_user(request.user)
        update_ids = queryset.filter(status=DeliveryStatus.DEAD, update__isnull=False).values(
            "update_id"
        )
        count = 0
        for update in IncidentUpdate.objects.filter(pk__in=update_ids):
            count += services.deliveries_retry_dead(actor=actor, update=update)
        self.message_user(request, f"{count} dead deliveries queued again.", messages.SUCCESS)


@admin.register(SlackThread)
class SlackThreadAdmin(ReadOnlyOutboxAdmin):
    list_display = ("channel", "incident", "ts", "created_at")
    raw_id_fields = ("channel", "incident")


@admin.register(StaffNotice)
class StaffNoticeAdmin(ReadOnlyOutboxAdmin):
    list_display = ("created_at", "status_label", "title", "key")
    search_fields = ("title", "key")
    readonly_fields = [f.name for f in StaffNotice._meta.fields]
