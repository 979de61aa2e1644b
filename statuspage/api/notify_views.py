"""Subscribers (v1 shape), channels and deliveries through the API (scope `subscribers`).

Writes go through notifier.services (subscriber_subscribe, subscriber_add_confirmed for
`skip_confirmation_notification`, subscriber_update_preferences, subscriber_unsubscribe,
channel_create/update/delete, channel_send_test).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Count, Q

from incidents.documents import iso
from incidents.models import Incident
from notifier.models import Channel, Delivery, DeliveryStatus, Scope, Subscriber, SubscriberKind
from notifier.services import (
    channel_create,
    channel_delete,
    channel_send_test,
    channel_update,
    subscriber_add_confirmed,
    subscriber_subscribe_audited,
    subscriber_unsubscribe_audited,
    subscriber_update_preferences_audited,
)
from notifier.transports import TransportError
from statuspage.api.framework import (
    ApiError,
    Call,
    Operation,
    Page,
    Route,
    invalid,
    not_found,
    paginate,
)
from statuspage.api.models import ApiScope
from statuspage.models import Component, Region, Service

R, W = ApiScope.READ, ApiScope.SUBSCRIBERS
S = {"type": "string"}
B = {"type": "boolean"}
IDS = {"type": "array", "items": {"type": "string"}}
PAGED = {"page": "Page number, from 1", "per_page": "Items per page, at most 100"}


def _scope_objects(call: Call) -> dict[str, Any]:
    """Scope from `component_ids` (v1), or Heliograph's `scope` + region/service ids."""
    component_ids = call.list("component_ids")
    region_ids = call.list("region_ids") or []
    service_ids = call.list("service_ids") or []
    scope = call.choice("scope", list(Scope.values))
    components: list[Component] = []
    if component_ids:
        found = {c.public_id: c for c in Component.objects.filter(public_id__in=component_ids)}
        unknown = [i for i in component_ids if i not in found]
        if unknown:
            raise invalid("component_ids", f"unknown component {', '.join(unknown)}.")
        components = [found[i] for i in component_ids]
    regions = list(Region.objects.filter(slug__in=region_ids))
    if len(regions) != len(set(region_ids)):
        raise invalid("region_ids", "unknown region among " + ", ".join(region_ids) + ".")
    services = list(Service.objects.filter(Q(public_id__in=service_ids) | Q(slug__in=service_ids)))
    if len(services) != len(set(service_ids)):
        raise invalid("service_ids", "unknown service among " + ", ".join(service_ids) + ".")
    if scope is None:
        scope = (
            Scope.COMPONENTS
            if components
            else Scope.SERVICES
            if services
            else Scope.REGIONS
            if regions
            else Scope.ALL
        )
    return {"scope": scope, "regions": regions, "services": services, "components": components}


# --- Subscribers --------------------------------------------------------------------------


def subscriber_dict(subscriber: Subscriber) -> dict:
    return {
        "id": subscriber.public_id,
        "mode": subscriber.kind,
        "email": subscriber.email,
        "endpoint": subscriber.url or None,
        "skip_confirmation_notification": False,
        "components": [c.public_id for c in subscriber.components.all()],
        "scope": subscriber.scope,
        "regions": [r.slug for r in subscriber.regions.all()],
        "services": [s.public_id for s in subscriber.services.all()],
        "component_changes": subscriber.component_changes,
        "state": (
            "unsubscribed"
            if subscriber.unsubscribed_at
            else "quarantined"
            if subscriber.broken_at
            else "active"
            if subscriber.confirmed_at
            else "unconfirmed"
        ),
        "created_at": iso(subscriber.created_at),
        "confirmed_at": iso(subscriber.confirmed_at),
        "unsubscribed_at": iso(subscriber.unsubscribed_at),
        "quarantined_at": iso(subscriber.broken_at),
        "purge_at": None,
        "page_access_user_id": None,
    }


def _subscriber(subscriber_id: str) -> Subscriber:
    subscriber = Subscriber.objects.filter(public_id=subscriber_id).first()
    if subscriber is None:
        raise not_found("subscriber", subscriber_id)
    return subscriber


def subscribers_list(call: Call) -> Page:
    qs = Subscriber.objects.prefetch_related("components", "regions", "services")
    kind = call.query.get("type")
    if kind:
        if kind not in SubscriberKind.values:
            raise invalid("type", f"use one of {', '.join(SubscriberKind.values)}.")
        qs = qs.filter(kind=kind)
    state = call.query.get("state", "active")
    filters = {
        "active": Q(
            confirmed_at__isnull=False, unsubscribed_at__isnull=True, broken_at__isnull=True
        ),
        "unconfirmed": Q(confirmed_at__isnull=True, unsubscribed_at__isnull=True),
        "unsubscribed": Q(unsubscribed_at__isnull=False),
        "quarantined": Q(broken_at__isnull=False),
        "all": Q(),
    }
    if state not in filters:
        raise invalid("state", f"use one of {', '.join(filters)}.")
    q = (call.query.get("q") or "").strip()
    if q:
        qs = qs.filter(Q(email__icontains=q) | Q(url__icontains=q))
    return paginate(qs.filter(filters[state]), call, subscriber_dict)


def subscriber_get(call: Call, subscriber_id: str) -> dict:
    return subscriber_dict(_subscriber(subscriber_id))


def subscriber_post(call: Call) -> dict:
    """An email subscriber (`email`) or a webhook subscriber (`endpoint` + `email` for
    failure notices). With `skip_confirmation_notification` it is added confirmed, without
    email; otherwise it gets the double opt-in confirmation email and starts unconfirmed."""
    email = call.str("email", required=True, max_length=254) or ""
    endpoint = call.str("endpoint", max_length=2000)
    skip = call.bool("skip_confirmation_notification") or False
    kind = SubscriberKind.WEBHOOK if endpoint else SubscriberKind.EMAIL
    scope = _scope_objects(call)
    component_changes = call.bool("component_changes") or False
    try:
        if skip:
            subscriber = subscriber_add_confirmed(
                email=email,
                kind=kind,
                url=endpoint or "",
                component_changes=component_changes,
                actor=call.actor,
                **scope,
            )
            return subscriber_dict(subscriber)
        subscriber_subscribe_audited(
            actor=call.actor,
            email=email,
            kind=kind,
            url=endpoint or "",
            component_changes=component_changes,
            **scope,
        )
    except ValidationError as exc:  # the notifier says `url`; v1 callers sent `endpoint`
        errors = exc.message_dict
        if "url" in errors:
            errors["endpoint"] = errors.pop("url")
        raise ValidationError(errors) from None
    lookup = {"url__iexact": endpoint.strip()} if endpoint else {"email": email.strip().lower()}
    subscriber = Subscriber.objects.filter(kind=kind, **lookup).first()
    if subscriber is None:
        raise ApiError(500, "The subscriber was not saved.")
    return subscriber_dict(subscriber)


def subscriber_patch(call: Call, subscriber_id: str) -> dict:
    subscriber = _subscriber(subscriber_id)
    scope = _scope_objects(call)
    component_changes = call.bool("component_changes")
    subscriber = subscriber_update_preferences_audited(
        actor=call.actor,
        subscriber=subscriber,
        component_changes=(
            subscriber.component_changes if component_changes is None else component_changes
        ),
        **scope,
    )
    return subscriber_dict(subscriber)


def subscriber_remove(call: Call, subscriber_id: str) -> None:
    subscriber_unsubscribe_audited(actor=call.actor, subscriber=_subscriber(subscriber_id))


# --- Channels -----------------------------------------------------------------------------


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
    channel = Channel.objects.filter(pk=channel_id).first() if channel_id.isdigit() else None
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
        url=call.str("url", max_length=2000) or "",
        token=call.str("token", max_length=255) or "",
        target=call.str("target", max_length=64) or "",
        component_changes=call.bool("component_changes") or False,
        actor=call.actor,
        **_scope_objects(call),
    )
    return channel_dict(channel)


def channel_patch(call: Call, channel_id: str) -> dict:
    channel = _channel(channel_id)
    given = any(call.has(n) for n in ("scope", "component_ids", "region_ids", "service_ids"))
    scope = (
        _scope_objects(call)
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


# --- Deliveries ---------------------------------------------------------------------------


def _recipient(delivery: Delivery) -> dict:
    if delivery.subscriber_id:
        sub = delivery.subscriber
        return {"type": "subscriber", "id": sub.public_id, "name": sub.url or sub.email}
    return {"type": "channel", "id": str(delivery.channel_id), "name": delivery.channel.name}


def incident_deliveries(call: Call, incident_id: str) -> dict:
    """Per update of the incident: delivery counts by status and medium, and the failures."""
    incident = Incident.objects.filter(public_id=incident_id).first()
    if incident is None:
        raise not_found("incident", incident_id)
    updates = list(incident.updates.order_by("display_at", "id"))
    counts: dict[int, dict] = {u.pk: {} for u in updates}
    rows = (
        Delivery.objects.filter(update__in=updates)
        .values("update_id", "status", "medium")
        .annotate(n=Count("id"))
    )
    for row in rows:
        by = counts[row["update_id"]]
        by.setdefault("by_status", {}).setdefault(row["status"], 0)
        by["by_status"][row["status"]] += row["n"]
        by.setdefault("by_medium", {}).setdefault(row["medium"], 0)
        by["by_medium"][row["medium"]] += row["n"]
    failures = (
        Delivery.objects.filter(
            update__in=updates, status__in=[DeliveryStatus.FAILED, DeliveryStatus.DEAD]
        )
        .select_related("subscriber", "channel", "update")
        .order_by("id")[:200]
    )
    by_update: dict[int, list] = {}
    for d in failures:
        by_update.setdefault(d.update_id, []).append(
            {
                "recipient": _recipient(d),
                "medium": d.medium,
                "status": d.status,
                "attempts": d.attempts,
                "response_code": d.response_code,
                "last_error": d.last_error,
                "next_attempt_at": iso(d.next_attempt_at) if d.status == "failed" else None,
            }
        )
    result = []
    for update in updates:
        by_status = counts[update.pk].get("by_status", {})
        result.append(
            {
                "incident_update_id": update.public_id,
                "status": update.status,
                "display_at": iso(update.display_at),
                "deliver_notifications": update.deliver_notifications,
                "total": sum(by_status.values()),
                "by_status": by_status,
                "by_medium": counts[update.pk].get("by_medium", {}),
                "failures": by_update.get(update.pk, []),
            }
        )
    return {"incident_id": incident.public_id, "incident_updates": result}


# --- Routes -------------------------------------------------------------------------------

SUBSCRIBER_FIELDS = {
    "email": S,
    "endpoint": {**S, "description": "Webhook URL: makes a webhook subscriber"},
    "component_ids": IDS,
    "skip_confirmation_notification": B,
    "scope": {"type": "string", "enum": list(Scope.values)},
    "region_ids": {**IDS, "description": "region slugs"},
    "service_ids": IDS,
    "component_changes": B,
}
CHANNEL_FIELDS = {
    "kind": {"type": "string", "enum": ["slack", "discord", "webhook"]},
    "name": S,
    "url": S,
    "token": {**S, "description": "Slack bot token (with target)"},
    "target": {**S, "description": "Slack channel id"},
    "enabled": B,
    "scope": {"type": "string", "enum": list(Scope.values)},
    "component_ids": IDS,
    "region_ids": IDS,
    "service_ids": IDS,
    "component_changes": B,
}


def _op(method: str, handler: Any, scope: str, summary: str, **kw: Any) -> Operation:
    return Operation(method=method, handler=handler, scope=scope, summary=summary, **kw)


NOTIFY_ROUTES = [
    Route(
        "subscribers",
        {
            "GET": _op(
                "GET",
                subscribers_list,
                R,
                "List subscribers",
                paginated=True,
                query={
                    **PAGED,
                    "type": "email or webhook",
                    "state": "active (default), unconfirmed, unsubscribed, quarantined, all",
                    "q": "Search in email and endpoint",
                },
                response="subscriber",
                many=True,
                tag="Subscribers",
            ),
            "POST": _op(
                "POST",
                subscriber_post,
                W,
                "Add a subscriber (confirmation email unless skip_confirmation_notification)",
                envelope="subscriber",
                fields=SUBSCRIBER_FIELDS,
                required=["email"],
                status=201,
                response="subscriber",
                tag="Subscribers",
            ),
        },
        name="subscribers",
    ),
    Route(
        "subscribers/{subscriber_id}",
        {
            "GET": _op(
                "GET", subscriber_get, R, "A subscriber", response="subscriber", tag="Subscribers"
            ),
            "PATCH": _op(
                "PATCH",
                subscriber_patch,
                W,
                "Change what a subscriber hears about",
                envelope="subscriber",
                fields=SUBSCRIBER_FIELDS,
                response="subscriber",
                tag="Subscribers",
            ),
            "DELETE": _op(
                "DELETE",
                subscriber_remove,
                W,
                "Unsubscribe (queued deliveries are skipped)",
                status=204,
                tag="Subscribers",
            ),
        },
        name="subscriber",
    ),
    Route(
        "channels",
        {
            "GET": _op(
                "GET",
                channels_list,
                R,
                "List channels with their health",
                paginated=True,
                query=PAGED,
                response="channel",
                many=True,
                tag="Channels",
            ),
            "POST": _op(
                "POST",
                channel_post,
                W,
                "Add a Slack, Discord or webhook channel",
                envelope="channel",
                fields=CHANNEL_FIELDS,
                required=["kind", "name"],
                status=201,
                response="channel",
                tag="Channels",
            ),
        },
        name="channels",
    ),
    Route(
        "channels/{channel_id}/test",
        {
            "POST": _op(
                "POST",
                channel_test,
                W,
                "Send a test message now (502 with the reason if it fails)",
                response="object",
                tag="Channels",
            )
        },
        name="channel_test",
    ),
    Route(
        "channels/{channel_id}",
        {
            "GET": _op(
                "GET",
                channel_get,
                R,
                "A channel with its health",
                response="channel",
                tag="Channels",
            ),
            "PATCH": _op(
                "PATCH",
                channel_patch,
                W,
                "Change a channel (clears its broken state)",
                envelope="channel",
                fields=CHANNEL_FIELDS,
                response="channel",
                tag="Channels",
            ),
            "DELETE": _op(
                "DELETE", channel_remove, W, "Delete a channel", status=204, tag="Channels"
            ),
        },
        name="channel",
    ),
    Route(
        "incidents/{incident_id}/deliveries",
        {
            "GET": _op(
                "GET",
                incident_deliveries,
                R,
                "Deliveries of each update of an incident: counts and failures",
                response="object",
                tag="Deliveries",
            )
        },
        name="incident_deliveries",
    ),
]
