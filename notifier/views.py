"""Public subscribe pages (signed links, no login) and the staff console pages.

CSRF: /subscribe/ is its own page (the public status page is a cookie-less cached snapshot
and only links to it), so its form uses Django's CSRF protection as usual. The one-click
unsubscribe POST is csrf_exempt on purpose: RFC 8058 mail clients POST it without cookies,
and the signed token in the URL is what authorises it.
"""

from __future__ import annotations

from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from incidents.models import IncidentUpdate
from notifier import selectors, services
from notifier.forms import PreferencesForm, SubscribeForm
from notifier.integrations import channel_form_class
from notifier.models import Channel, ChannelKind, DeliveryStatus, Medium
from notifier.tokens import make_token
from notifier.transports import TransportError
from statuspage.services import Actor

SUBSCRIBE_LIMIT = 5  # requests per client address …
SUBSCRIBE_WINDOW = 600  # … per 10 minutes


def _client_ip(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR", "unknown")


def _rate_limited(request: HttpRequest) -> bool:
    """Count this request against the client's budget (Django cache, shared by processes).
    If the cache is down, let it through: a subscription is not worth an outage."""
    key = f"notifier:subscribe:{_client_ip(request)}"
    try:
        cache.add(key, 0, timeout=SUBSCRIBE_WINDOW)
        return cache.incr(key) > SUBSCRIBE_LIMIT
    except Exception:
        return False


def _no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    return response


@require_http_methods(["GET", "POST"])
def subscribe(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _no_store(render(request, "notifier/subscribe.html", {"form": SubscribeForm()}))
    if _rate_limited(request):
        response = render(
            request,
            "notifier/message.html",
            {
                "title": "Too many requests",
                "message": (
                    "Too many subscription requests from your address. "
                    f"Please try again in {SUBSCRIBE_WINDOW // 60} minutes."
                ),
            },
            status=429,
        )
        response["Retry-After"] = str(SUBSCRIBE_WINDOW)
        return _no_store(response)
    form = SubscribeForm(request.POST)
    if form.is_valid():
        if form.cleaned_data.get("website"):
            # A bot filled the honeypot: answer as if it worked, do nothing.
            return _no_store(render(request, "notifier/subscribe_sent.html"))
        try:
            services.subscriber_subscribe(
                email=form.cleaned_data["email"],
                kind=form.cleaned_data["kind"],
                url=form.cleaned_data.get("url") or "",
                **form.scope_kwargs(),
            )
        except ValidationError as exc:
            form.add_service_errors(exc.message_dict)
        else:
            # The same answer whether or not the address was known.
            return _no_store(render(request, "notifier/subscribe_sent.html"))
    return _no_store(render(request, "notifier/subscribe.html", {"form": form}, status=400))


_BAD_LINK = {
    "confirm": (
        "The link is broken or has expired: confirmation links are valid for 24 hours, only "
        "the newest one works, and none after unsubscribing. You can subscribe again."
    ),
    "manage": (
        "The link is broken or has expired: links to manage a subscription are valid for 90 "
        "days, and every email we send carries a fresh one. Subscribe again with your "
        "address: if it is subscribed, we email it a new link."
    ),
    "unsubscribe": "The link is broken. You can subscribe again, or unsubscribe from any email.",
}


def _bad_link(request: HttpRequest, purpose: str) -> HttpResponse:
    return _no_store(
        render(
            request,
            "notifier/message.html",
            {
                "title": "This link is not valid",
                "message": _BAD_LINK[purpose],
                "subscribe_link": True,
            },
            status=404,
        )
    )


@require_http_methods(["GET"])
def confirm(request: HttpRequest, token: str) -> HttpResponse:
    subscriber = selectors.subscriber_from_token("confirm", token)
    if subscriber is None:
        return _bad_link(request, "confirm")
    try:
        services.subscriber_confirm(subscriber=subscriber, requested_at=subscriber.requested_at)
    except ValidationError:
        return _bad_link(request, "confirm")
    return _no_store(
        render(
            request,
            "notifier/message.html",
            {
                "title": "Subscription confirmed",
                "message": f"{subscriber} will receive {settings.SITE_NAME} status updates.",
                "manage_token": make_token("manage", subscriber.public_id),
            },
        )
    )


def _initial_scope(subscriber_or_channel) -> dict:
    return {
        "scope": subscriber_or_channel.scope,
        "regions": list(subscriber_or_channel.regions.all()),
        "services": list(subscriber_or_channel.services.all()),
        "components": list(subscriber_or_channel.components.all()),
        "component_changes": subscriber_or_channel.component_changes,
    }


@require_http_methods(["GET", "POST"])
def manage(request: HttpRequest, token: str) -> HttpResponse:
    subscriber = selectors.subscriber_from_token("manage", token)
    if subscriber is None:
        return _bad_link(request, "manage")
    if request.method == "POST":
        form = PreferencesForm(request.POST)
        if form.is_valid():
            try:
                services.subscriber_update_preferences(subscriber=subscriber, **form.scope_kwargs())
            except ValidationError as exc:
                form.add_service_errors(exc.message_dict)
            else:
                messages.success(request, "Your preferences are saved.")
                return redirect("notifier:manage", token=token)
    else:
        form = PreferencesForm(initial=_initial_scope(subscriber))
    return _no_store(
        render(
            request,
            "notifier/manage.html",
            {
                "form": form,
                "subscriber": subscriber,
                "unsubscribe_token": make_token("unsubscribe", subscriber.public_id),
            },
        )
    )


@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a button (link scanners must not unsubscribe anyone); POST unsubscribes,
    with or without cookies (RFC 8058 one-click: body `List-Unsubscribe=One-Click`)."""
    subscriber = selectors.subscriber_from_token("unsubscribe", token)
    if subscriber is None:
        return _bad_link(request, "unsubscribe")
    if request.method == "POST":
        services.subscriber_unsubscribe(subscriber=subscriber)
        return _no_store(
            render(
                request,
                "notifier/message.html",
                {
                    "title": "Unsubscribed",
                    "message": f"{subscriber} will receive no more {settings.SITE_NAME} updates.",
                    "subscribe_link": True,
                },
            )
        )
    return _no_store(render(request, "notifier/unsubscribe.html", {"subscriber": subscriber}))


# --- Staff console ----------------------------------------------------------------------------


def staff_required(permission: str):
    """Login, staff flag and a model permission: reading deliveries is not editing channels."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(request: HttpRequest, *args, **kwargs):
            if not request.user.is_staff or not request.user.has_perm(permission):
                raise PermissionDenied(f"You need the “{permission}” permission.")
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


@staff_required("notifier.view_delivery")
def console_index(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "notifier/console_index.html",
        {
            "channels": selectors.channels_with_health(),
            "broken": selectors.channels_broken(),
            "updates": selectors.updates_with_delivery_counts(),
            "subscriber_counts": selectors.subscriber_counts(),
        },
    )


@staff_required("notifier.view_subscriber")
def console_subscribers(request: HttpRequest) -> HttpResponse:
    state = request.GET.get("state", "")
    return render(
        request,
        "notifier/console_subscribers.html",
        {
            "subscribers": selectors.subscribers_list(state=state)[:500],
            "state": state,
            "counts": selectors.subscriber_counts(),
        },
    )


def _channel_form_view(request: HttpRequest, channel: Channel | None) -> HttpResponse:
    actor = Actor.for_user(request.user)
    if channel is not None:
        kind = channel.kind
    else:
        kind = request.POST.get("kind") or request.GET.get("kind") or ChannelKind.SLACK
        if kind not in ChannelKind.values:
            kind = ChannelKind.SLACK
    form_class = channel_form_class(kind)
    if request.method == "POST":
        form = form_class(request.POST)
        if form.is_valid():
            try:
                if channel is None:
                    channel = services.channel_create(
                        kind=kind,
                        actor=actor,
                        enabled=form.cleaned_data["enabled"],
                        **form.channel_kwargs(),
                    )
                    messages.success(request, f"Channel “{channel.name}” added.")
                else:
                    services.channel_update(
                        channel=channel,
                        actor=actor,
                        enabled=form.cleaned_data["enabled"],
                        **form.channel_kwargs(),
                    )
                    messages.success(request, f"Channel “{channel.name}” saved.")
            except ValidationError as exc:
                form.add_service_errors(exc.message_dict)
            else:
                return redirect("notifier:console_channel", pk=channel.pk)
    elif channel is not None:
        form = form_class(
            initial={
                "name": channel.name,
                "url": channel.url,
                "token": channel.token,
                "target": channel.target,
                "enabled": channel.enabled,
                "staff_alerts": channel.staff_alerts,
                **_initial_scope(channel),
            }
        )
    else:
        form = form_class(initial={"enabled": True})
    return render(
        request,
        "notifier/console_channel.html",
        {
            "form": form,
            "channel": channel,
            "kind": kind,
            "kind_label": ChannelKind(kind).label,
            "kinds": ChannelKind.choices,
        },
    )


@staff_required("notifier.add_channel")
@require_http_methods(["GET", "POST"])
def console_channel_new(request: HttpRequest) -> HttpResponse:
    return _channel_form_view(request, None)


@staff_required("notifier.change_channel")
@require_http_methods(["GET", "POST"])
def console_channel(request: HttpRequest, pk: int) -> HttpResponse:
    return _channel_form_view(request, get_object_or_404(Channel, pk=pk))


@staff_required("notifier.change_channel")
@require_POST
def console_channel_test(request: HttpRequest, pk: int) -> HttpResponse:
    channel = get_object_or_404(Channel, pk=pk)
    try:
        services.channel_send_test(channel=channel, actor=Actor.for_user(request.user))
    except TransportError as error:
        messages.error(request, f"The test message was not sent: {error.message}")
    else:
        messages.success(request, "Test message sent.")
    return redirect("notifier:console_channel", pk=pk)


@staff_required("notifier.delete_channel")
@require_POST
def console_channel_delete(request: HttpRequest, pk: int) -> HttpResponse:
    channel = get_object_or_404(Channel, pk=pk)
    services.channel_delete(channel=channel, actor=Actor.for_user(request.user))
    messages.success(request, f"Channel “{channel.name}” deleted.")
    return redirect("notifier:console_index")


@staff_required("notifier.view_delivery")
def console_update(request: HttpRequest, public_id: str) -> HttpResponse:
    update = get_object_or_404(
        IncidentUpdate.objects.select_related("incident"), public_id=public_id
    )
    counts = selectors.delivery_counts(update=update)
    return render(
        request,
        "notifier/console_update.html",
        {
            "update": update,
            "rows": [
                {"medium": medium, "label": label, **counts[medium]}
                for medium, label in Medium.choices
            ],
            "errors": selectors.delivery_errors(update=update),
            "dead_total": counts.by_status()[DeliveryStatus.DEAD],
            "dead_retryable": selectors.dead_retryable_count(update=update),
        },
    )


@staff_required("notifier.change_delivery")
@require_POST
def console_update_retry_dead(request: HttpRequest, public_id: str) -> HttpResponse:
    update = get_object_or_404(IncidentUpdate, public_id=public_id)
    count = services.deliveries_retry_dead(
        actor=Actor.for_user(request.user), update=update, medium=request.POST.get("medium") or None
    )
    messages.success(request, f"{count} dead deliveries queued again.")
    return redirect("notifier:console_update", public_id=public_id)
