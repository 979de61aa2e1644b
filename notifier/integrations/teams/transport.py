"""Microsoft Teams: a Workflows webhook (the "When a Teams webhook request is received"
trigger that posts a card into a channel or chat), POSTed with `requests`.

The body is a message with one Adaptive Card attachment (interfaces.md §8): schema version
1.4, a title, the status (and impact) as facts, the affected components as facts, the text
of the update, and buttons (`Action.OpenUrl`) to the update and — for subscribers — to
manage the subscription and to unsubscribe. Cards are kept under Teams' message size (about
28 KB): a long update is cut and ends with a link to the full update.

Workflows answers 202 Accepted. A 429 waits `Retry-After`; 401, 403, 404 and 410 (a
workflow removed, disabled or no longer allowed to post) are permanent and mark the
recipient broken; 5xx and other answers are retried. The URL is checked again before each
send (`check_target`), and the session is `notifier.outgoing`'s: connections only to
allowed addresses, no redirects (a 3xx is a permanent error), no proxy.
"""

from __future__ import annotations

import json
import threading

import requests
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from notifier import outgoing
from notifier.messages import Link, Notice, message_links
from notifier.transports import (
    SendResult,
    Transport,
    TransportError,
    check_target_now,
    is_redirect,
    parse_retry_after,
    redirect_error,
    truncate,
    unreachable,
)
from notifier.validators import TEAMS
from statuspage.templatetags.locale_dates import when

CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CARD_VERSION = "1.4"
CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
MAX_TITLE = 200
MAX_FACT = 500
MAX_BODY = 12000  # characters of update text; the whole card stays well under ~28 KB
MAX_FACTS = 25
TIMEOUT = (5, 30)
PERMANENT_STATUS = {401, 403, 404, 410}

# Adaptive Card colours of a TextBlock, by what the status means.
_ATTENTION = {"investigating", "major_outage", "partial_outage"}
_WARNING = {"identified", "degraded_performance"}
_GOOD = {"resolved", "postmortem", "completed", "operational"}

_local = threading.local()


def _session() -> requests.Session:
    """One checked, redirect-refusing session per thread (connections are kept alive)."""
    session = getattr(_local, "session", None)
    if session is None:
        session = _local.session = outgoing.session()
    return session


def _colour(status: str) -> str:
    if status in _ATTENTION:
        return "Attention"
    if status in _WARNING:
        return "Warning"
    if status in _GOOD:
        return "Good"
    return "Accent"


def build_card(notice: Notice, recipient) -> dict:
    """The Adaptive Card (version 1.4) of a notice for one recipient, in the active language
    (the transport makes it the notice's): words, and dates as the language writes them."""
    facts = [{"title": _("Status"), "value": notice.status_label}]
    if notice.impact:
        facts.append({"title": _("Impact"), "value": notice.impact_label})
    if notice.scheduled_for and notice.scheduled_until:
        window = f"{when(notice.scheduled_for)} – {when(notice.scheduled_until)} UTC"
        facts.append({"title": _("Window"), "value": window})
    facts.append({"title": _("Posted"), "value": f"{when(notice.created_at)} UTC"})
    body: list[dict] = [
        {
            "type": "TextBlock",
            "text": truncate(notice.title, MAX_TITLE),
            "size": "Large",
            "weight": "Bolder",
            "wrap": True,
            "style": "heading",
        },
        {
            "type": "TextBlock",
            "text": notice.status_label,
            "color": _colour(notice.status),
            "weight": "Bolder",
            "spacing": "None",
            "wrap": True,
        },
        {"type": "FactSet", "facts": facts},
    ]
    if notice.affected:
        affected = notice.affected[:MAX_FACTS]
        rows = [{"title": truncate(c.name, MAX_FACT), "value": _change(c)} for c in affected]
        if len(notice.affected) > MAX_FACTS:
            hidden = len(notice.affected) - MAX_FACTS
            rows.append({"title": "…", "value": _("%(count)d more") % {"count": hidden}})
        body.append(
            {
                "type": "TextBlock",
                "text": _("Affected components"),
                "weight": "Bolder",
                "wrap": True,
            }
        )
        body.append({"type": "FactSet", "facts": rows})
    if notice.body:
        more = "… [" + _("Read the full update") + f"]({notice.url})"
        body.append(
            {
                "type": "TextBlock",
                "text": truncate(notice.body, MAX_BODY, suffix=more),
                "wrap": True,
            }
        )
    # The notice's own links first (e.g. "Confirm subscription"), then the page, then the
    # subscriber's manage and unsubscribe links.
    links = message_links(notice, recipient)
    own, personal = links[: len(notice.actions)], links[len(notice.actions) :]
    view = Link(_("View on %(site)s") % {"site": settings.SITE_NAME}, notice.url)
    actions = [
        {"type": "Action.OpenUrl", "title": link.label, "url": link.url}
        for link in (*own, view, *personal)
    ]
    return {
        "$schema": CARD_SCHEMA,
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "body": body,
        "actions": actions,
        "msteams": {"width": "Full"},
    }


def _change(component) -> str:
    if component.old_status and component.old_status != component.new_status:
        return f"{component.old_label} → {component.new_label}"
    return component.new_label


def build_body(notice: Notice, recipient) -> bytes:
    """The raw JSON body: a message with one Adaptive Card attachment (interfaces.md §8)."""
    message = {
        "type": "message",
        "summary": truncate(notice.headline, MAX_TITLE),
        "attachments": [
            {
                "contentType": CARD_CONTENT_TYPE,
                "contentUrl": None,
                "content": build_card(notice, recipient),
            }
        ],
    }
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()


class TeamsTransport(Transport):
    def send(self, notice: Notice) -> SendResult:
        url = check_target_now(self.recipient.url, kind=TEAMS)
        with translation.override(notice.language):
            body = build_body(notice, self.recipient)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": f"{settings.SITE_NAME} (Heliograph)",
        }
        try:
            response = _session().post(
                url, data=body, headers=headers, timeout=TIMEOUT, allow_redirects=False
            )
        except requests.RequestException as exc:
            raise unreachable(f"Teams unreachable: {exc.__class__.__name__}: {exc}", exc) from exc
        code = response.status_code
        if 200 <= code < 300:
            return SendResult(status_code=code)
        if is_redirect(code):
            raise redirect_error("Teams", code)
        if code == 429:
            retry_after = parse_retry_after(response.headers.get("Retry-After"), 5.0)
            raise TransportError(
                f"Teams rate limit: retry after {retry_after:g} s",
                retry_after=retry_after,
                status_code=429,
            )
        raise TransportError(
            f"Teams answered {code}: {response.text[:200]}",
            permanent=code in PERMANENT_STATUS,
            status_code=code,
        )
