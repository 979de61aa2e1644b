"""Channels: Slack, Discord, Microsoft Teams and webhook destinations with their health (scope `subscribers`
for writes). A channel's URL carries its secret, so only its host is shown. `language` is
the language of its messages (English when not given)."""

from __future__ import annotations

from incidents.documents import iso
from notifier.models import Channel
from notifier.services import channel_create, channel_delete, channel_send_test, channel_update
from notifier.transports import TransportError
from statuspage.api.framework import (
    ApiError,
    Call,
    Page,
    delete,
    get,
    given,
    is_number,
    not_found,
    paginate,
    patch,
    post,
    route,
)
from statuspage.api.lookups import recipient_scope
from statuspage.api.models import ApiScope
from statuspage.api.schema import CHANNEL_KIND, IDS, LANGUAGE, PAGED, RECIPIENT_SCOPE, B, S


def _masked(url: str) -> str | None:
    """A channel URL carries its secret (Slack and Discord webhook paths): show the host."""
    if not url:
        return None
    head = url.split("/", 3)
    return "/".join(head[:3]) + "/…" if len(head) > 3 else url


def channel_dict(channel: Channel) -> dict:
    return {
        "id": str(channel.pk),
        "kind": channel.kind,
        "name": channel.name,
        "url": _masked(channel.url),
        "target": channel.target or None,
        "uses_bot_token": bool(channel.token),
        "enabled": channel.enabled,
        "scope": channel.scope,
        "components": [c.public_id for c in channel.components.all()],
        "regions": [r.slug for r in channel.regions.all()],
        "services": [s.public_id for s in channel.services.all()],
        "component_changes": channel.component_changes,
        "staff_alerts": channel.staff_alerts,
        "language": channel.language,
        "healthy": channel.is_active
        and (
            channel.last_error_at is None
            or bool(channel.last_success_at and channel.last_success_at > channel.last_error_at)
        ),
        "last_success_at": iso(channel.last_success_at),
        "last_error": channel.last_error or None,
        "last_error_at": iso(channel.last_error_at),
        "broken_at": iso(channel.broken_at),
        "created_at": iso(channel.created_at),
    }


def _channel(channel_id: str) -> Channel:
    channel = Channel.objects.filter(pk=channel_id).first() if is_number(channel_id) else None
    if channel is None:
        raise not_found("channel", channel_id)
    return channel


def channels_list(call: Call) -> Page:
    qs = Channel.objects.prefetch_related("components", "regions", "services")
    return paginate(qs, call, channel_dict)


def channel_get(call: Call, channel_id: str) -> dict:
    return channel_dict(_channel(channel_id))


def channel_post(call: Call) -> dict:
    channel = channel_create(
        kind=call.str("kind", required=True) or "",
        name=call.str("name", required=True, max_length=200) or "",
        actor=call.actor,
        **recipient_scope(call),
        **given(
            url=call.str("url", max_length=2000),
            token=call.str("token", max_length=255),
            target=call.str("target", max_length=64),
            enabled=call.bool("enabled"),
            component_changes=call.bool("component_changes"),
            staff_alerts=call.bool("staff_alerts"),
            language=call.str("language", max_length=16),
        ),
    )
    return channel_dict(channel)


def channel_patch(call: Call, channel_id: str) -> dict:
    channel = _channel(channel_id)
    given = any(call.has(n) for n in ("scope", "component_ids", "region_ids", "service_ids"))
    scope = (
        recipient_scope(call)
        if given
        else {
            "scope": channel.scope,
            "regions": list(channel.regions.all()),
            "services": list(channel.services.all()),
            "components": list(channel.components.all()),
        }
    )
    enabled = call.bool("enabled")
    component_changes = call.bool("component_changes")
    staff_alerts = call.bool("staff_alerts")
    channel = channel_update(
        channel=channel,
        actor=call.actor,
        name=call.str("name", max_length=200) or channel.name,
        url=call.str("url", max_length=2000) if call.has("url") else channel.url,
        token=call.str("token", max_length=255) if call.has("token") else channel.token,
        target=call.str("target", max_length=64) if call.has("target") else channel.target,
        enabled=channel.enabled if enabled is None else enabled,
        component_changes=(
            channel.component_changes if component_changes is None else component_changes
        ),
        staff_alerts=channel.staff_alerts if staff_alerts is None else staff_alerts,
        language=call.str("language", max_length=16) if call.has("language") else None,
        **scope,
    )
    return channel_dict(channel)


def channel_remove(call: Call, channel_id: str) -> None:
    channel_delete(channel=_channel(channel_id), actor=call.actor)


def channel_test(call: Call, channel_id: str) -> dict:
    """Send a test message now; 502 with the transport's reason when it fails."""
    channel = _channel(channel_id)
    try:
        result = channel_send_test(channel=channel, actor=call.actor)
    except TransportError as error:
        raise ApiError(502, f"The test message failed: {error.message}") from None
    channel.refresh_from_db()
    return {
        "sent": True,
        "status_code": result.status_code,
        "detail": result.detail,
        "channel": channel_dict(channel),
    }


CHANNEL_FIELDS = {
    "kind": CHANNEL_KIND,
    "name": S,
    "url": S,
    "token": {**S, "description": "Slack bot token (with target)"},
    "target": {**S, "description": "Slack channel id"},
    "enabled": B,
    "scope": RECIPIENT_SCOPE,
    "component_ids": IDS,
    "region_ids": IDS,
    "service_ids": IDS,
    "component_changes": B,
    "staff_alerts": {**B, "description": "Also post staff alerts (Slack and Discord only)"},
    "language": LANGUAGE,
}

ROUTES = [
    route(
        "channels",
        "channels",
        get(
            channels_list,
            "List channels with their health",
            paginated=True,
            query=PAGED,
            response="channel",
            many=True,
        ),
        post(
            channel_post,
            ApiScope.SUBSCRIBERS,
            "Add a Slack, Discord, Teams or webhook channel",
            envelope="channel",
            fields=CHANNEL_FIELDS,
            required=["kind", "name"],
            status=201,
            response="channel",
        ),
        tag="Channels",
    ),
    # Before `channels/{channel_id}`, as every fixed path before a parameter.
    route(
        "channels/{channel_id}/test",
        "channel_test",
        post(
            channel_test,
            ApiScope.SUBSCRIBERS,
            "Send a test message now (502 with the reason if it fails)",
            response="object",
        ),
        tag="Channels",
    ),
    route(
        "channels/{channel_id}",
        "channel",
        get(channel_get, "A channel with its health", response="channel"),
        patch(
            channel_patch,
            ApiScope.SUBSCRIBERS,
            "Change a channel (clears its broken state)",
            envelope="channel",
            fields=CHANNEL_FIELDS,
            response="channel",
        ),
        delete(channel_remove, ApiScope.SUBSCRIBERS, "Delete a channel"),
        tag="Channels",
    ),
]
