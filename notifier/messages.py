"""What a notification says, independent of the medium.

A `Notice` is built once per event (an incident update, a maintenance event, a component
status change) from the database and then formatted by each transport. It is cached per
process for a short while because a fan-out builds the same notice for thousands of
recipients.

What differs per recipient is added by the transport when it formats the notice:
`message_links(notice, recipient)` gives the links a message ends with — the notice's own
`actions` (e.g. "Confirm subscription"), then a subscriber's manage and unsubscribe links,
signed afresh for each message. Every chat message to a subscriber carries them; staff
channels get none.

The words of a chat message are here and in the transports' builders (the labels of
`Notice`, `notice_for_subscription`, `LINK_LABELS`); the words of an email are its templates.

Languages: a notice is built for one language (`Notice.language`, the recipient's): its
labels and status words are translated while it is built (`translation.override`), and the
update's text is staff's translation into that language when there is one
(`incidents.selectors.update_text`), else the text as written. The transports format it
inside `translation.override(notice.language)` too, for the words they add (field names, link
texts, dates with `locale_dates.when`). The cache holds one notice per event and language.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from incidents.documents import component_dict, incident_dict, incidents_for_json, iso
from incidents.models import IncidentKind, IncidentStatus, IncidentUpdate
from incidents.selectors import page_status, update_text
from notifier.models import Channel, Event, StaffNotice, Subscriber, event_key
from notifier.tokens import confirm_url, manage_url, unsubscribe_url
from statuspage import hooks, languages
from statuspage.models import ComponentStatus, ComponentStatusChange
from statuspage.status import IMPACT_WORDS

# Colours per status (Discord embeds, email accents): red while broken, orange once the cause
# is known, blue while watching or in maintenance, green when over.
STATUS_COLOURS = {
    IncidentStatus.INVESTIGATING: 0xD93F0B,
    IncidentStatus.IDENTIFIED: 0xF29D39,
    IncidentStatus.MONITORING: 0x3B82F6,
    IncidentStatus.RESOLVED: 0x2FB344,
    IncidentStatus.POSTMORTEM: 0x2FB344,
    IncidentStatus.SCHEDULED: 0x6366F1,
    IncidentStatus.IN_PROGRESS: 0x3B82F6,
    IncidentStatus.VERIFYING: 0x3B82F6,
    IncidentStatus.COMPLETED: 0x2FB344,
    ComponentStatus.OPERATIONAL: 0x2FB344,
    ComponentStatus.DEGRADED_PERFORMANCE: 0xF2C94C,
    ComponentStatus.PARTIAL_OUTAGE: 0xF29D39,
    ComponentStatus.MAJOR_OUTAGE: 0xD93F0B,
    ComponentStatus.UNDER_MAINTENANCE: 0x3B82F6,
}

COMPONENT_STATUS_LABELS = dict(ComponentStatus.choices)
STATUS_LABELS = dict(IncidentStatus.choices)
# An incident's impact in a message is the word of its level on the page ("Major outage" for
# a critical incident, as its badge says), never the raw impact ("Critical").
IMPACT_LABELS = IMPACT_WORDS


def label(labels: dict, value: str) -> str:
    """The word of a status (the models' choices, marked for translation where they are
    defined) in the active language; the value itself when it has none."""
    word = labels.get(value)
    return _(str(word)) if word else value


@dataclass(frozen=True)
class AffectedComponent:
    name: str
    new_status: str
    old_status: str = ""

    @property
    def new_label(self) -> str:
        return label(COMPONENT_STATUS_LABELS, self.new_status)

    @property
    def old_label(self) -> str:
        return label(COMPONENT_STATUS_LABELS, self.old_status)

    def describe(self) -> str:
        if self.old_status and self.old_status != self.new_status:
            return f"{self.name}: {self.old_label} → {self.new_label}"
        return f"{self.name}: {self.new_label}"


@dataclass(frozen=True)
class Link:
    """A link a message ends with (a button where the medium has buttons)."""

    label: str
    url: str


# The labels of the links every message to a subscriber ends with (in the language active
# when the message is formatted).
LINK_LABELS = {
    "confirm": gettext_lazy("Confirm subscription"),
    "manage": gettext_lazy("Manage subscription"),
    "unsubscribe": gettext_lazy("Unsubscribe"),
}


@dataclass(frozen=True)
class Notice:
    """One event, ready to be formatted for any medium.

    kind: `incident_update`, `maintenance` or `component_change` (also the email template
    name), `staff_alert` for a staff notice (chat channels only), `test` for a channel's
    test message, or `subscription_confirm` / `subscription_already` for the message posted
    into a chat subscriber's channel when a subscription is asked for.
    payload: the webhook JSON (interfaces.md §3) without its per-recipient `meta`.
    actions: the notice's own links, before the recipient's (`message_links`).
    language: the language its words are in (and the transports format it in).
    """

    kind: str
    event_key: str
    title: str
    status: str
    status_label: str
    body: str
    url: str
    created_at: datetime
    impact: str = ""
    impact_label: str = ""
    body_html: str = ""
    affected: tuple[AffectedComponent, ...] = ()
    incident_id: int | None = None
    incident_public_id: str = ""
    scheduled_for: datetime | None = None
    scheduled_until: datetime | None = None
    payload: dict = field(default_factory=dict)
    actions: tuple[Link, ...] = ()
    language: str = languages.DEFAULT

    @property
    def colour(self) -> int:
        return STATUS_COLOURS.get(self.status, 0x6B7280)

    @property
    def headline(self) -> str:
        """One line: what happened, e.g. `[Identified] Runs not starting in us-east-1`."""
        return f"[{self.status_label}] {self.title}"

    def affected_text(self) -> str:
        return "\n".join(c.describe() for c in self.affected)


def message_links(notice: Notice, recipient: Channel | Subscriber) -> tuple[Link, ...]:
    """The links a message ends with: the notice's own, then — for a subscriber — the links
    to manage the subscription and to unsubscribe (signed now, so always fresh). A request
    to confirm carries only its confirm link: there is nothing to manage yet."""
    if not isinstance(recipient, Subscriber) or notice.kind == "subscription_confirm":
        return notice.actions
    return (
        *notice.actions,
        Link(str(LINK_LABELS["manage"]), manage_url(recipient.public_id)),
        Link(str(LINK_LABELS["unsubscribe"]), unsubscribe_url(recipient.public_id)),
    )


def _page_dict(event_key: str) -> dict:
    """The payload's page: its overall status when the event was recorded (its `Event` row),
    so a delivery retried an hour later still tells the status of the moment of the update.
    Deliveries written before events were stamped (v0.1) get the status of now."""
    event = Event.objects.filter(key=event_key).first()
    if event is not None:
        indicator, description = event.page_indicator, event.page_description
    else:
        overall = page_status()
        indicator, description = overall.indicator, overall.description
    return {
        "id": settings.PAGE_ID,
        "status_indicator": indicator,
        "status_description": description,
    }


def notice_for_update(update_id: int, language: str = languages.DEFAULT) -> Notice:
    """The notice of an incident update or a maintenance event, in `language`: its words
    translated, its text staff's translation into it when there is one."""
    with translation.override(language):
        return _notice_for_update(update_id, language)


def _notice_for_update(update_id: int, language: str) -> Notice:
    update = (
        IncidentUpdate.objects.select_related("incident")
        .prefetch_related("translations")
        .get(pk=update_id)
    )
    body, body_html = update_text(update, language)
    key = event_key(hooks.INCIDENT_UPDATE, update.pk)
    incident = incidents_for_json(type(update.incident).objects.filter(pk=update.incident_id))[0]
    changes = list(
        ComponentStatusChange.objects.filter(incident_update=update)
        .select_related("component__service", "component__region")
        .order_by("created_at", "id")
    )
    if changes:
        affected = tuple(
            AffectedComponent(c.component.name, c.new_status, c.old_status) for c in changes
        )
    else:
        affected = tuple(AffectedComponent(c.name, c.status) for c in incident.components.all())
    is_maintenance = incident.kind == IncidentKind.MAINTENANCE
    return Notice(
        kind="maintenance" if is_maintenance else "incident_update",
        event_key=key,
        title=incident.name,
        status=update.status,
        status_label=label(STATUS_LABELS, update.status),
        impact=incident.impact,
        impact_label=label(IMPACT_LABELS, incident.impact),
        body=body,
        body_html=body_html,
        url=f"{settings.SITE_URL}{incident.get_absolute_url()}#update-{update.public_id}",
        created_at=update.display_at,
        affected=affected,
        incident_id=incident.pk,
        incident_public_id=incident.public_id,
        scheduled_for=incident.scheduled_for,
        scheduled_until=incident.scheduled_until,
        payload={"page": _page_dict(key), "incident": incident_dict(incident)},
        language=language,
    )


def notice_for_component_change(change_id: int, language: str = languages.DEFAULT) -> Notice:
    """The notice of a component status change made outside an incident update, in
    `language`."""
    with translation.override(language):
        return _notice_for_component_change(change_id, language)


def _notice_for_component_change(change_id: int, language: str) -> Notice:
    change = ComponentStatusChange.objects.select_related(
        "component__service", "component__region"
    ).get(pk=change_id)
    component = change.component
    key = event_key(hooks.COMPONENT_CHANGE, change.pk)
    new_label = label(COMPONENT_STATUS_LABELS, change.new_status)
    old_label = label(COMPONENT_STATUS_LABELS, change.old_status)
    body = _("%(component)s changed from %(old)s to %(new)s.") % {
        "component": component.name,
        "old": old_label,
        "new": new_label,
    }
    if change.reason:
        body += f"\n\n{change.reason}"
    return Notice(
        kind="component_change",
        event_key=key,
        title=component.name,
        status=change.new_status,
        status_label=new_label,
        body=body,
        url=f"{settings.SITE_URL}/",
        created_at=change.created_at,
        affected=(AffectedComponent(component.name, change.new_status, change.old_status),),
        payload={
            "page": _page_dict(key),
            "component": component_dict(component),
            "component_update": {
                "old_status": change.old_status,
                "new_status": change.new_status,
                "created_at": iso(change.created_at),
                "component_type": "Component",
                "id": key,
                "component_id": component.public_id,
            },
        },
        language=language,
    )


def notice_for_staff_notice(notice_id: int, language: str = languages.DEFAULT) -> Notice:
    """The notice of a staff alert (`notifier.services.staff_notice_post`), for the chat
    channels marked `staff_alerts`. Its title, text and label are the caller's (stored as
    written); the transports' words are in the channel's `language`."""
    notice = StaffNotice.objects.get(pk=notice_id)
    return Notice(
        kind="staff_alert",
        event_key=f"n{notice.pk}",
        title=notice.title,
        status=notice.status,
        status_label=notice.status_label,
        body=notice.body,
        url=notice.url or f"{settings.SITE_URL}/console/",
        created_at=notice.created_at,
        payload={
            "page": {"id": settings.PAGE_ID},
            "staff_alert": {
                "title": notice.title,
                "status": notice.status,
                "body": notice.body,
                "url": notice.url,
                "created_at": iso(notice.created_at),
            },
        },
        language=language,
    )


def notice_for_test(channel_name: str, language: str = languages.DEFAULT) -> Notice:
    """The "send test message" notice of a channel, in the channel's `language`."""
    with translation.override(language):
        return _notice_for_test(channel_name, language)


def _notice_for_test(channel_name: str, language: str) -> Notice:
    now = timezone.now()
    return Notice(
        kind="test",
        event_key="test",
        title=_("Test message from %(site)s") % {"site": settings.SITE_NAME},
        status="operational",
        status_label=_("Test"),
        body=_(
            "This is a test message for the channel “%(channel)s”. Incident updates will "
            "arrive here like this one."
        )
        % {"channel": channel_name},
        url=f"{settings.SITE_URL}/",
        created_at=now,
        payload={
            "page": {"id": settings.PAGE_ID, "status_indicator": "none"},
            "test": {"channel": channel_name, "created_at": iso(now)},
        },
        language=language,
    )


def notice_for_subscription(subscriber: Subscriber, purpose: str) -> Notice:
    """The message posted into a chat subscriber's own channel when someone asks to subscribe
    it: `confirm` (with the confirm link: nothing else is posted until someone follows it,
    double opt-in) or `already` (it is subscribed; the manage and unsubscribe links follow
    as in every message). In the subscriber's language."""
    with translation.override(subscriber.language):
        return _notice_for_subscription(subscriber, purpose)


def _notice_for_subscription(subscriber: Subscriber, purpose: str) -> Notice:
    now = timezone.now()
    site = {"site": settings.SITE_NAME}
    if purpose == "confirm":
        return Notice(
            kind="subscription_confirm",
            event_key="subscription",
            title=_("Confirm %(site)s status updates in this channel") % site,
            status="subscription",
            status_label=_("Confirmation needed"),
            body=_(
                "Someone (hopefully you) asked to post %(site)s status updates into this "
                "channel. Nothing more is posted here unless someone confirms within 24 hours. "
                "If it was not you, ignore this message."
            )
            % site,
            url=f"{settings.SITE_URL}/",
            created_at=now,
            actions=(
                Link(
                    str(LINK_LABELS["confirm"]),
                    confirm_url(subscriber.public_id, subscriber.requested_at),
                ),
            ),
            language=subscriber.language,
        )
    return Notice(
        kind="subscription_already",
        event_key="subscription",
        title=_("This channel already receives %(site)s status updates") % site,
        status="subscription",
        status_label=_("Already subscribed"),
        body=_(
            "Someone asked to subscribe this channel to %(site)s status updates. It is "
            "already subscribed: nothing changed."
        )
        % site,
        url=f"{settings.SITE_URL}/",
        created_at=now,
        language=subscriber.language,
    )


_CACHE_SECONDS = 30.0
_cache: dict[tuple[str, str], tuple[float, Notice]] = {}
_cache_lock = threading.Lock()


def notice_for_event(event_key: str, language: str = languages.DEFAULT) -> Notice:
    """The notice of `u<id>`, `c<id>` or `n<id>` in `language` (a recipient's; an unknown
    code reads as English), built at most every 30 s per process and language."""
    language = languages.language_normalize(language) or languages.DEFAULT
    key = (event_key, language)
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(key)
        if hit and now - hit[0] < _CACHE_SECONDS:
            return hit[1]
    kind, pk = event_key[0], int(event_key[1:])
    if kind == "u":
        notice = notice_for_update(pk, language)
    elif kind == "n":
        notice = notice_for_staff_notice(pk, language)
    else:
        notice = notice_for_component_change(pk, language)
    with _cache_lock:
        if len(_cache) > 256:
            _cache.clear()
        _cache[key] = (now, notice)
    return notice


def notice_cache_clear() -> None:
    with _cache_lock:
        _cache.clear()
