"""Admin of subscribers, channels and deliveries.

Read-mostly: rows are changed through `notifier.services` (the admin actions call them),
so the audit trail and the outbox stay consistent.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest

from notifier import services
from notifier.models import Channel, Delivery, DeliveryStatus, SlackThread, Subscriber
from statuspage.services import Actor


@admin.register(Subscriber)
class SubscriberAdmin(admin.ModelAdmin):
    list_display = ("email", "kind", "url", "scope", "confirmed_at", "unsubscribed_at", "broken_at")
    list_filter = ("kind", "scope", "component_changes")
    search_fields = ("email", "url", "public_id")
    readonly_fields = (
        "public_id",
        "created_at",
        "requested_at",
        "confirmed_at",
        "unsubscribed_at",
        "last_success_at",
        "last_error",
        "last_error_at",
        "broken_at",
    )
    exclude = ("secret",)
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    filter_horizontal = ("regions", "services", "components")
    actions = ["unsubscribe"]

    @admin.action(description="Unsubscribe the selected subscribers")
    def unsubscribe(self, request: HttpRequest, queryset: QuerySet[Subscriber]) -> None:
        for subscriber in queryset:
            services.subscriber_unsubscribe(subscriber=subscriber)
        self.message_user(request, f"{queryset.count()} unsubscribed.", messages.SUCCESS)


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "scope", "enabled", "last_success_at", "broken_at")
    list_filter = ("kind", "enabled", "scope")
    search_fields = ("name", "url", "target")
    readonly_fields = ("created_at", "last_success_at", "last_error", "last_error_at", "broken_at")
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    filter_horizontal = ("regions", "services", "components")
    actions = ["send_test"]

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


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
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

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Send the selected dead deliveries again")
    def retry(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        actor = Actor.for_user(request.user)
        count = 0
        for update_id in set(
            queryset.filter(status=DeliveryStatus.DEAD).values_list("update_id", flat=True)
        ):
            if update_id is not None:
                from incidents.models import IncidentUpdate

                count += services.deliveries_retry_dead(
                    actor=actor, update=IncidentUpdate.objects.get(pk=update_id)
                )
        self.message_user(request, f"{count} dead deliveries queued again.", messages.SUCCESS)


@admin.register(SlackThread)
class SlackThreadAdmin(admin.ModelAdmin):
    list_display = ("channel", "incident", "ts", "created_at")
    raw_id_fields = ("channel", "incident")
