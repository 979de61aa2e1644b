"""Subscribers in the v1 shape (scope `subscribers` for writes).

Writes go through notifier.services: `skip_confirmation_notification` adds a confirmed
subscriber (subscriber_add_confirmed); otherwise the address gets the double opt-in email
(subscriber_subscribe). Changes and unsubscribes are audited as the token."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import Q

from incidents.documents import iso
from notifier.models import Subscriber, SubscriberKind
from notifier.services import (
    subscriber_add_confirmed,
    subscriber_subscribe,
    subscriber_unsubscribe,
    subscriber_update_preferences,
)
from statuspage.api.framework import (
    ApiError,
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
from statuspage.api.schema import IDS, PAGED, RECIPIENT_SCOPE, B, S


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
        qs = qs.filter(Q(email__icontains=q) | Q(url__icontains=q))
    qs = qs.active() if state == "active" else qs.filter(filters[state])
    return paginate(qs, call, subscriber_dict)


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
    scope = recipient_scope(call)
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
        subscriber_subscribe(
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
    scope = recipient_scope(call)
    component_changes = call.bool("component_changes")
    subscriber = subscriber_update_preferences(
        actor=call.actor,
        subscriber=subscriber,
        component_changes=(
            subscriber.component_changes if component_changes is None else component_changes
        ),
        **scope,
    )
    return subscriber_dict(subscriber)


def subscriber_remove(call: Call, subscriber_id: str) -> None:
    subscriber_unsubscribe(actor=call.actor, subscriber=_subscriber(subscriber_id))


SUBSCRIBER_FIELDS = {
    "email": S,
    "endpoint": {**S, "description": "Webhook URL: makes a webhook subscriber"},
    "component_ids": IDS,
    "skip_confirmation_notification": B,
    "scope": RECIPIENT_SCOPE,
    "region_ids": {**IDS, "description": "region slugs"},
    "service_ids": IDS,
    "component_changes": B,
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
                "type": "email or webhook",
                "state": "active (default), unconfirmed, unsubscribed, quarantined, all",
                "q": "Search in email and endpoint",
            },
            response="subscriber",
            many=True,
        ),
        post(
            subscriber_post,
            ApiScope.SUBSCRIBERS,
            "Add a subscriber (confirmation email unless skip_confirmation_notification)",
            envelope="subscriber",
            fields=SUBSCRIBER_FIELDS,
            required=["email"],
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
            "Change what a subscriber hears about",
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
