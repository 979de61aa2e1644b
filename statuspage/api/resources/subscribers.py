"""Subscribers in the v1 shape (scope `subscribers` for writes).

`mode` says how a subscriber is reached: `email`; `webhook` (`endpoint` + `email` for the
confirmation); `slack`, `discord` or `teams` (`endpoint` is the channel's own webhook URL:
the confirmation is posted into the channel); `sms` (`phone_number`, E.164 or national with
`phone_country`: a code is texted, typed on the subscribe page). Without `mode`: `webhook`
with an endpoint, `sms` with a phone number, else `email`.

Writes go through notifier.services: `skip_confirmation_notification` adds a confirmed
subscriber (subscriber_add_confirmed); otherwise it gets the double opt-in message
(subscriber_subscribe). Changes and unsubscribes are audited as the token. A chat
subscriber's endpoint is shown as its host only: the URL is what lets anyone post into the
channel.

`language` is the language of the subscriber's messages (one of `statuspage.languages`;
`pt-BR`, `de-AT` are read as `pt-br`, `de`; English when not given): the service checks it
and a language the page does not speak is a 422 naming the field and listing the codes."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import Q

from incidents.documents import iso
from notifier.models import CHAT_KINDS, Subscriber, SubscriberKind
from notifier.services import (
    subscriber_add_confirmed,
    subscriber_subscribe,
    subscriber_unsubscribe,
    subscriber_update_preferences,
)
from notifier.validators import phone_region
from statuspage.api.framework import (
    Call,
    Page,
    delete,
    get,
    invalid,
    not_found,
    paginate,
    patch,
    post,
    route,
)
from statuspage.api.lookups import recipient_scope
from statuspage.api.models import ApiScope
from statuspage.api.schema import IDS, LANGUAGE, PAGED, RECIPIENT_SCOPE, B, S, enum


def _endpoint(subscriber: Subscriber) -> str | None:
    """A webhook's URL as given; a chat webhook's host only (the URL lets anyone post)."""
    if not subscriber.url:
        return None
    if subscriber.kind in CHAT_KINDS:
        head = subscriber.url.split("/", 3)
        return "/".join(head[:3]) + "/…"
    return subscriber.url


def subscriber_dict(subscriber: Subscriber) -> dict:
    return {
        "id": subscriber.public_id,
        "mode": subscriber.kind,
        "email": subscriber.email or None,
        "endpoint": _endpoint(subscriber),
        "phone_number": subscriber.phone or None,
        "phone_country": phone_region(subscriber.phone) or None,
        "skip_confirmation_notification": False,
        "components": [c.public_id for c in subscriber.components.all()],
        "scope": subscriber.scope,
        "regions": [r.slug for r in subscriber.regions.all()],
        "services": [s.public_id for s in subscriber.services.all()],
        "component_changes": subscriber.component_changes,
        "language": subscriber.language,
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
        "active": None,  # Subscriber.objects.active(): the notifier's one rule
        "unconfirmed": Q(confirmed_at__isnull=True, unsubscribed_at__isnull=True),
        "unsubscribed": Q(unsubscribed_at__isnull=False),
        "quarantined": Q(broken_at__isnull=False),
        "all": Q(),
    }
    if state not in filters:
        raise invalid("state", f"use one of {', '.join(filters)}.")
    q = (call.query.get("q") or "").strip()
    if q:
        qs = qs.filter(Q(email__icontains=q) | Q(url__icontains=q) | Q(phone__icontains=q))
    qs = qs.active() if state == "active" else qs.filter(filters[state])
    return paginate(qs, call, subscriber_dict)


def subscriber_get(call: Call, subscriber_id: str) -> dict:
    return subscriber_dict(_subscriber(subscriber_id))


# The notifier's field names → the v1 names callers sent.
_V1_FIELDS = {"url": "endpoint", "phone": "phone_number", "kind": "mode"}


def subscriber_post(call: Call) -> dict:
    """A subscriber of any `mode` (see the module's docstring). With
    `skip_confirmation_notification` it is added confirmed, without a message; otherwise it
    gets the double opt-in message and starts unconfirmed."""
    email = call.str("email", max_length=254) or ""
    endpoint = call.str("endpoint", max_length=2000) or ""
    phone = call.str("phone_number", max_length=32) or ""
    mode = call.choice("mode", list(SubscriberKind.values))
    if mode is None:
        mode = (
            SubscriberKind.WEBHOOK
            if endpoint
            else SubscriberKind.SMS
            if phone
            else SubscriberKind.EMAIL
        )
    details = {
        "email": email,
        "kind": mode,
        "url": endpoint,
        "phone": phone,
        "phone_country": call.str("phone_country", max_length=2) or "",
        "component_changes": call.bool("component_changes") or False,
        "actor": call.actor,
        **({"language": call.str("language", max_length=16)} if call.has("language") else {}),
        **recipient_scope(call),
    }
    try:
        if call.bool("skip_confirmation_notification"):
            subscriber = subscriber_add_confirmed(**details)
        else:
            subscriber = subscriber_subscribe(**details)
    except ValidationError as exc:
        errors = {_V1_FIELDS.get(f, f): m for f, m in exc.message_dict.items()}
        raise ValidationError(errors) from None
    return subscriber_dict(subscriber)


def subscriber_patch(call: Call, subscriber_id: str) -> dict:
    subscriber = _subscriber(subscriber_id)
    scope = recipient_scope(call)
    component_changes = call.bool("component_changes")
    subscriber = subscriber_update_preferences(
        actor=call.actor,
        subscriber=subscriber,
        language=call.str("language", max_length=16) if call.has("language") else None,
        component_changes=(
            subscriber.component_changes if component_changes is None else component_changes
        ),
        **scope,
    )
    return subscriber_dict(subscriber)


def subscriber_remove(call: Call, subscriber_id: str) -> None:
    subscriber_unsubscribe(actor=call.actor, subscriber=_subscriber(subscriber_id))


SUBSCRIBER_FIELDS = {
    "mode": {
        **enum(SubscriberKind.values),
        "description": "email, webhook, slack, discord, teams or sms (default: webhook with an "
        "endpoint, sms with a phone_number, else email)",
    },
    "email": {**S, "description": "required for email and webhook subscribers"},
    "endpoint": {
        **S,
        "description": "webhook URL; for slack, discord and teams the channel's own webhook",
    },
    "phone_number": {
        **S,
        "description": "sms: E.164 (+4915112345678), or national with phone_country",
    },
    "phone_country": {**S, "description": "ISO country code of a national phone_number (DE)"},
    "component_ids": IDS,
    "skip_confirmation_notification": B,
    "scope": RECIPIENT_SCOPE,
    "region_ids": {**IDS, "description": "region slugs"},
    "service_ids": IDS,
    "component_changes": B,
    "language": LANGUAGE,
}

ROUTES = [
    route(
        "subscribers",
        "subscribers",
        get(
            subscribers_list,
            "List subscribers",
            paginated=True,
            query={
                **PAGED,
                "type": "email, webhook, slack, discord, teams or sms",
                "state": "active (default), unconfirmed, unsubscribed, quarantined, all",
                "q": "Search in email and endpoint",
            },
            response="subscriber",
            many=True,
        ),
        post(
            subscriber_post,
            ApiScope.SUBSCRIBERS,
            "Add a subscriber (double opt-in unless skip_confirmation_notification): email, "
            "webhook, Slack, Discord, Teams or SMS",
            envelope="subscriber",
            fields=SUBSCRIBER_FIELDS,
            status=201,
            response="subscriber",
        ),
        tag="Subscribers",
    ),
    route(
        "subscribers/{subscriber_id}",
        "subscriber",
        get(subscriber_get, "A subscriber", response="subscriber"),
        patch(
            subscriber_patch,
            ApiScope.SUBSCRIBERS,
            "Change what a subscriber hears about, and in which language",
            envelope="subscriber",
            fields=SUBSCRIBER_FIELDS,
            response="subscriber",
        ),
        delete(
            subscriber_remove, ApiScope.SUBSCRIBERS, "Unsubscribe (queued deliveries are skipped)"
        ),
        tag="Subscribers",
    ),
]
