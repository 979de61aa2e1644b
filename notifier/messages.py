"""What a notification says, independent of the medium.

A `Notice` is built once per event (an incident update, a maintenance event, a component
status change) from the database and then formatted by each transport. It is cached per
process for a short while because a fan-out builds the same notice for thousands of
recipients.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from incidents.documents import component_dict, incident_dict, incidents_for_json, iso
from incidents.models import Impact, IncidentKind, IncidentStatus, IncidentUpdate
from incidents.selectors import page_status
from notifier.models import Event, StaffNotice
from statuspage.models import ComponentStatus, ComponentStatusChange

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
IMPACT_LABELS = dict(Impact.choices)


@dataclass(frozen=True)
class AffectedComponent:
    name: str
    new_status: str
    old_status: str = ""

    @property
    def new_label(self) -> str:
        return COMPONENT_STATUS_LABELS.get(self.new_status, self.new_status)

    @property
    def old_label(self) -> str:
        return COMPONENT_STATUS_LABELS.get(self.old_status, self.old_status)

    def describe(self) -> str:
        if self.old_status and self.old_status != self.new_status:
            return f"{self.name}: {self.old_label} → {self.new_label}"
        return f"{self.name}: {self.new_label}"


@dataclass(frozen=True)
class Notice:
    """One event, ready to be formatted for any medium.

    kind: `incident_update`, `maintenance` or `component_change` (also the email template
    name), `staff_alert` for a staff notice (chat channels only), or `test` for a channel's
    test message.
    payload: the webhook JSON (interfaces.md §3) without its per-recipient `meta`.
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

    @property
    def colour(self) -> int:
        return STATUS_COLOURS.get(self.status, 0x6B7280)

    @property
    def headline(self) -> str:
        """One line: what happened, e.g. `[Identified] Runs not starting in us-east-1`."""
        return f"[{self.status_label}] {self.title}"

    def affected_text(self) -> str:
        return "\n".join(c.describe() for c in self.affected)


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


def notice_for_update(update_id: int) -> Notice:
    """The notice of an incident update or a maintenance event."""
    update = IncidentUpdate.objects.select_related("incident").get(pk=update_id)
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
        event_key=f"u{update.pk}",
        title=incident.name,
        status=update.status,
        status_label=STATUS_LABELS.get(update.status, update.status),
        impact=incident.impact,
        impact_label=IMPACT_LABELS.get(incident.impact, incident.impact),
        body=update.body,
        body_html=update.body_html,
        url=f"{settings.SITE_URL}{incident.get_absolute_url()}#update-{update.public_id}",
        created_at=update.display_at,
        affected=affected,
        incident_id=incident.pk,
        incident_public_id=incident.public_id,
        scheduled_for=incident.scheduled_for,
        scheduled_until=incident.scheduled_until,
        payload={"page": _page_dict(f"u{update.pk}"), "incident": incident_dict(incident)},
    )


def notice_for_component_change(change_id: int) -> Notice:
    """The notice of a component status change made outside an incident update."""
    change = ComponentStatusChange.objects.select_related(
        "component__service", "component__region"
    ).get(pk=change_id)
    component = change.component
    new_label = COMPONENT_STATUS_LABELS.get(change.new_status, change.new_status)
    old_label = COMPONENT_STATUS_LABELS.get(change.old_status, change.old_status)
    body = f"{component.name} changed from {old_label} to {new_label}."
    if change.reason:
        body += f"\n\n{change.reason}"
    return Notice(
        kind="component_change",
        event_key=f"c{change.pk}",
        title=component.name,
        status=change.new_status,
        status_label=new_label,
        body=body,
        url=f"{settings.SITE_URL}/",
        created_at=change.created_at,
        affected=(AffectedComponent(component.name, change.new_status, change.old_status),),
        payload={
            "page": _page_dict(f"c{change.pk}"),
            "component": component_dict(component),
            "component_update": {
                "old_status": change.old_status,
                "new_status": change.new_status,
                "created_at": iso(change.created_at),
                "component_type": "Component",
                "id": f"c{change.pk}",
                "component_id": component.public_id,
            },
        },
    )


def notice_for_staff_notice(notice_id: int) -> Notice:
    """The notice of a staff alert (`notifier.services.staff_notice_post`), for the chat
    channels marked `staff_alerts`."""
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
    )


def notice_for_test(channel_name: str) -> Notice:
    """The "send test message" notice of a channel."""
    now = timezone.now()
    return Notice(
        kind="test",
        event_key="test",
        title=f"Test message from {settings.SITE_NAME}",
        status="operational",
        status_label="Test",
        body=(
            f"This is a test message for the channel “{channel_name}”. "
            "Incident updates will arrive here like this one."
        ),
        url=f"{settings.SITE_URL}/",
        created_at=now,
        payload={
            "page": {"id": settings.PAGE_ID, "status_indicator": "none"},
            "test": {"channel": channel_name, "created_at": iso(now)},
        },
    )


_CACHE_SECONDS = 30.0
_cache: dict[str, tuple[float, Notice]] = {}
_cache_lock = threading.Lock()


def notice_for_event(event_key: str) -> Notice:
    """The notice of `u<id>`, `c<id>` or `n<id>`, built at most every 30 s per process."""
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(event_key)
        if hit and now - hit[0] < _CACHE_SECONDS:
            return hit[1]
    kind, pk = event_key[0], int(event_key[1:])
    if kind == "u":
        notice = notice_for_update(pk)
    elif kind == "n":
        notice = notice_for_staff_notice(pk)
    else:
        notice = notice_for_component_change(pk)
    with _cache_lock:
        if len(_cache) > 256:
            _cache.clear()
        _cache[event_key] = (now, notice)
    return notice


def notice_cache_clear() -> None:
    with _cache_lock:
        _cache.clear()
