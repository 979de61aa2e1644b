"""Public subscribe pages (signed links, no login) and the staff console pages.

CSRF: /subscribe/ is its own page (the public status page is a cookie-less cached snapshot
and only links to it), so its form uses Django's CSRF protection as usual. The one-click
unsubscribe POST is csrf_exempt on purpose: RFC 8058 mail clients POST it without cookies,
and the signed token in the URL is what authorises it.

Languages (no LocaleMiddleware: each page activates its language itself, so only these pages
vary by Accept-Language): /subscribe/ is in the visitor's language from `Accept-Language`
(and says `Vary: Accept-Language`), /<code>/subscribe/ in that language; the pages of a
subscription (SMS code, confirmed, manage, unsubscribe) in the subscriber's language.
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
from django.utils import translation
from django.utils.cache import patch_vary_headers
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from incidents.models import IncidentUpdate
from notifier import selectors, services
from notifier.forms import CodeForm, PreferencesForm, SubscribeForm
from notifier.integrations import channel_form_class
from notifier.integrations.sms import inbound
from notifier.integrations.sms.transport import sms_enabled
from notifier.models import CHAT_KINDS, Channel, ChannelKind, DeliveryStatus, Medium, SubscriberKind
from notifier.tokens import make_token
from notifier.transports import TransportError
from statuspage import languages
from statuspage.services import Actor

SENT_DAYS = 7  # the console's "sent per medium" covers this many days
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


def _address(language: str, path: str) -> str:
    """The address of a public page in `language`: English at the address without prefix
    (as before languages), another language under its prefix."""
    return languages.language_path(None if language == languages.DEFAULT else language, path)


def _page(
    request: HttpRequest, language: str, template: str, context: dict, status: int = 200
) -> HttpResponse:
    """A subscriber page rendered in `language` (never stored: `Cache-Control: no-store`)."""
    with translation.override(language):
        context = {
            **context,
            "language_code": language,
            "home_url": _address(language, "/"),
            # The header's links keep the reader in the page's language.
            "lp": languages.language_prefix(language),
        }
        return _no_store(render(request, template, context, status=status))


def _subscribe_page(
    request: HttpRequest, language: str, prefixed: bool, form: SubscribeForm, status: int = 200
) -> HttpResponse:
    action = languages.language_path(language if prefixed else None, "/subscribe/")
    response = _page(
        request,
        language,
        "notifier/subscribe.html",
        {
            "form": form,
            "sms": sms_enabled(),
            "chat_kinds": CHAT_KINDS,
            "action": action,
            "page_path": "/subscribe/",  # the header's language switcher
        },
        status=status,
    )
    return _negotiated(response, prefixed)


def _negotiated(response: HttpResponse, prefixed: bool) -> HttpResponse:
    """/subscribe/ answers in the language of `Accept-Language`: say so to caches."""
    if not prefixed:
        patch_vary_headers(response, ["Accept-Language"])
    return response


def _sent_page(
    request: HttpRequest, language: str, prefixed: bool, kind: str, chosen: str
) -> HttpResponse:
    """What to do next: look in the inbox, in the channel (in the page's language), or type
    the texted code (in the language chosen for the messages, as the text is)."""
    if kind == SubscriberKind.SMS:
        form = CodeForm(initial={"phone": request.POST.get("phone", ""), "language": chosen})
        return _negotiated(
            _page(request, chosen, "notifier/subscribe_code.html", {"form": form}), prefixed
        )
    return _negotiated(
        _page(
            request,
            language,
            "notifier/subscribe_sent.html",
            {"kind": kind, "chat": kind in CHAT_KINDS, "medium": SubscriberKind(kind).label},
        ),
        prefixed,
    )


@require_http_methods(["GET", "POST"])
def subscribe(request: HttpRequest, language: str | None = None) -> HttpResponse:
    """/subscribe/ (the language of Accept-Language) and /<code>/subscribe/. The language
    of the messages defaults to the page's; the visitor may choose another."""
    prefixed = language is not None
    if language is None:
        language = languages.language_from_accept(request.headers.get("Accept-Language"))
    if request.method == "GET":
        form = SubscribeForm(sms=sms_enabled(), initial={"language": language})
        return _subscribe_page(request, language, prefixed, form)
    if _rate_limited(request):
        with translation.override(language):
            context = {
                "title": _("Too many requests"),
                "message": _(
                    "Too many subscription requests from your address. Please try again in "
                    "%(minutes)d minutes."
                )
                % {"minutes": SUBSCRIBE_WINDOW // 60},
            }
        response = _page(request, language, "notifier/message.html", context, status=429)
        response["Retry-After"] = str(SUBSCRIBE_WINDOW)
        return _negotiated(response, prefixed)
    form = SubscribeForm(request.POST, sms=sms_enabled(), initial={"language": language})
    with translation.override(language):  # the service's and the form's errors
        valid = form.is_valid()
        if valid:
            kind = form.cleaned_data["kind"]
            chosen = form.cleaned_data.get("language") or language
            if form.cleaned_data.get("website"):
                # A bot filled the honeypot: answer as if it worked, do nothing.
                return _sent_page(request, language, prefixed, kind, chosen)
            try:
                services.subscriber_subscribe(
                    email=form.cleaned_data.get("email") or "",
                    kind=kind,
                    url=form.cleaned_data.get("url") or "",
                    phone=form.cleaned_data.get("phone") or "",
                    language=chosen,
                    **form.scope_kwargs(),
                )
            except ValidationError as exc:
                form.add_service_errors(exc.message_dict)
            else:
                # The same answer whether or not the address was known.
                return _sent_page(request, language, prefixed, kind, chosen)
    return _subscribe_page(request, language, prefixed, form, status=400)


@require_http_methods(["POST"])
def confirm_code(request: HttpRequest) -> HttpResponse:
    """The code texted to a number, typed on the page `subscribe` showed (in the language
    chosen for the messages, which the form carries)."""
    language = languages.language_normalize(request.POST.get("language")) or languages.DEFAULT
    form = CodeForm(request.POST)
    with translation.override(language):
        if form.is_valid():
            try:
                subscriber = services.subscriber_confirm_code(
                    phone=form.cleaned_data["phone"], code=form.cleaned_data["code"]
                )
            except ValidationError as exc:
                form.add_error("code", exc.message_dict["code"][0])
            else:
                return _confirmed(request, subscriber)
    return _page(request, language, "notifier/subscribe_code.html", {"form": form}, status=400)


def _confirmed(request: HttpRequest, subscriber) -> HttpResponse:
    with translation.override(subscriber.language):
        context = {
            "title": _("Subscription confirmed"),
            "message": _("%(who)s will receive %(site)s status updates.")
            % {"who": capfirst(subscriber.shown_as), "site": settings.SITE_NAME},
            "manage_token": make_token("manage", subscriber.public_id),
        }
    return _page(request, subscriber.language, "notifier/message.html", context)


@csrf_exempt
@require_POST
def sms_inbound(request: HttpRequest) -> HttpResponse:
    """Twilio's inbound messaging webhook: STOP unsubscribes the number (signature checked
    with the SDK's RequestValidator; see notifier.integrations.sms.inbound)."""
    if not sms_enabled():
        return HttpResponse("SMS is not configured.", status=404, content_type="text/plain")
    signature = request.headers.get(inbound.SIGNATURE_HEADER, "")
    if not inbound.signature_valid(request.get_full_path(), request.POST, signature):
        return HttpResponse("Bad signature.", status=403, content_type="text/plain")
    word = inbound.keyword(request.POST.get("Body", ""))
    answer = None
    if word in inbound.OPT_OUT:
        services.subscribers_opt_out_sms(phone=request.POST.get("From", ""))
    elif word in inbound.OPT_IN:
        language = selectors.sms_language(request.POST.get("From", ""))
        with translation.override(language):
            answer = _("To get %(site)s status updates again: %(url)s") % {
                "site": settings.SITE_NAME,
                "url": settings.SITE_URL + _address(language, "/subscribe/"),
            }
    return HttpResponse(inbound.reply(answer), content_type="text/xml")


_BAD_LINK = {
    "confirm": gettext_lazy(
        "The link is broken or has expired: confirmation links are valid for 24 hours, only "
        "the newest one works, and none after unsubscribing. You can subscribe again."
    ),
    "manage": gettext_lazy(
        "The link is broken or has expired: links to manage a subscription are valid for 90 "
        "days, and every email we send carries a fresh one. Subscribe again with your "
        "address: if it is subscribed, we email it a new link."
    ),
    "unsubscribe": gettext_lazy(
        "The link is broken. You can subscribe again, or unsubscribe from any email."
    ),
}


def _bad_link(request: HttpRequest, purpose: str) -> HttpResponse:
    """A link that names no subscriber: in the visitor's language (Accept-Language)."""
    language = languages.language_from_accept(request.headers.get("Accept-Language"))
    with translation.override(language):
        context = {
            "title": _("This link is not valid"),
            "message": str(_BAD_LINK[purpose]),
            "subscribe_link": True,
        }
    response = _page(request, language, "notifier/message.html", context, status=404)
    return _negotiated(response, prefixed=False)


@require_http_methods(["GET"])
def confirm(request: HttpRequest, token: str) -> HttpResponse:
    subscriber = selectors.subscriber_from_token("confirm", token)
    if subscriber is None:
        return _bad_link(request, "confirm")
    try:
        services.subscriber_confirm(subscriber=subscriber, requested_at=subscriber.requested_at)
    except ValidationError:
        return _bad_link(request, "confirm")
    return _confirmed(request, subscriber)


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
    language = subscriber.language
    if request.method == "POST":
        form = PreferencesForm(request.POST)
        with translation.override(language):
            if form.is_valid():
                chosen = form.cleaned_data.get("language") or None
                try:
                    subscriber = services.subscriber_update_preferences(
                        subscriber=subscriber, language=chosen, **form.scope_kwargs()
                    )
                except ValidationError as exc:
                    form.add_service_errors(exc.message_dict)
                else:
                    with translation.override(subscriber.language):
                        messages.success(request, _("Your preferences are saved."))
                    return redirect("notifier:manage", token=token)
    else:
        form = PreferencesForm(initial={**_initial_scope(subscriber), "language": language})
    return _page(
        request,
        language,
        "notifier/manage.html",
        {
            "form": form,
            "subscriber": subscriber,
            "unsubscribe_token": make_token("unsubscribe", subscriber.public_id),
        },
    )


@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a button (link scanners must not unsubscribe anyone); POST unsubscribes,
    with or without cookies (RFC 8058 one-click: body `List-Unsubscribe=One-Click`)."""
    subscriber = selectors.subscriber_from_token("unsubscribe", token)
    if subscriber is None:
        return _bad_link(request, "unsubscribe")
    language = subscriber.language
    if request.method == "POST":
        services.subscriber_unsubscribe(subscriber=subscriber)
        with translation.override(language):
            context = {
                "title": _("Unsubscribed"),
                "message": _("%(who)s will receive no more %(site)s updates.")
                % {"who": capfirst(subscriber.shown_as), "site": settings.SITE_NAME},
                "subscribe_link": True,
            }
        return _page(request, language, "notifier/message.html", context)
    return _page(request, language, "notifier/unsubscribe.html", {"subscriber": subscriber})


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
            "by_medium": selectors.recipients_by_medium(),
            "sent_by_medium": selectors.deliveries_by_medium(days=SENT_DAYS),
            "sent_days": SENT_DAYS,
        },
    )


@staff_required("notifier.view_subscriber")
def console_subscribers(request: HttpRequest) -> HttpResponse:
    state = request.GET.get("state", "")
    medium = request.GET.get("medium", "")
    if medium not in SubscriberKind.values:
        medium = ""
    return render(
        request,
        "notifier/console_subscribers.html",
        {
            "subscribers": selectors.subscribers_list(state=state, medium=medium)[:500],
            "state": state,
            "medium": medium,
            "media": SubscriberKind.choices,
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
                "language": channel.language,
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
