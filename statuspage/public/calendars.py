"""The maintenance calendars: `/maintenance.ics` and `/maintenance/<component id>.ics`.

iCalendar documents (RFC 5545, written with `icalendar`) that a calendar app subscribes to,
rendered into the snapshot like the feeds. Each maintenance is one VEVENT whose UID never
changes (`<public id>@<site host>`) and whose SEQUENCE is the incident's revision
(`Incident.sequence`, raised by every service that changes it), so a subscribed calendar
replaces its copy after a reschedule, a rename or a new update. A cancelled maintenance stays
listed as `STATUS:CANCELLED` for the recent window, so calendars that knew it remove it.

The calendar text is English (it is data read by calendar apps, not a page); the page's and
the emails' links to it are translated where they are written.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from urllib.parse import urlsplit

from django.conf import settings
from icalendar import Calendar, Event

from statuspage.text import one_line, xml_safe

RECENT_DAYS = 90  # closed (completed or cancelled) maintenance stays listed this long
ICS = "text/calendar; charset=utf-8"
PRODID = "-//Heliograph//Maintenance calendar//EN"
REFRESH = "PT1H"  # how often a subscribed calendar should look again (a hint)


def calendar_path(component_id: str | None = None) -> str:
    """`/maintenance.ics`, or the calendar of one component or group (as the badges name
    them: `/maintenance/<id>.ics`)."""
    return f"/maintenance/{component_id}.ics" if component_id else "/maintenance.ics"


def webcal_url(path: str) -> str:
    """The `webcal://` address of a calendar: an extra for apps that subscribe on a click;
    the https address is the one every link shows first."""
    site = urlsplit(settings.SITE_URL)
    return f"webcal://{site.netloc}{site.path.rstrip('/')}{path}"


def _host() -> str:
    return urlsplit(settings.SITE_URL).hostname or "heliograph"


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def _event(incident, host: str) -> Event:
    """One maintenance as a VEVENT. `incident` comes with its updates (newest first) and
    components prefetched (`incidents.documents.incidents_for_json`)."""
    url = f"{settings.SITE_URL}{incident.get_absolute_url()}"
    updates = list(incident.updates.all())
    components = [c.name for c in incident.components.all()]
    cancelled = incident.cancelled_at is not None
    lines = []
    if updates:
        lines.append(xml_safe(updates[0].body).strip())
    if components:
        lines.append("Affects: " + ", ".join(components))
    lines.append(f"Details: {url}")
    event = Event()
    event.add("uid", f"{incident.public_id}@{host}")
    # The time of the last change, not of the render: an unchanged maintenance renders the
    # same bytes at every publish (same ETag, nothing re-exported).
    event.add("dtstamp", _utc(incident.updated_at))
    event.add("created", _utc(incident.created_at))
    event.add("last-modified", _utc(incident.updated_at))
    event.add("dtstart", _utc(incident.scheduled_for))
    event.add("dtend", _utc(incident.scheduled_until))
    event.add("summary", ("Cancelled: " if cancelled else "") + one_line(xml_safe(incident.name)))
    event.add("description", "\n\n".join(lines))
    event.add("url", url)
    event.add("categories", ["Maintenance"])
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("sequence", incident.sequence)
    event.add("transp", "TRANSPARENT")  # a maintenance window does not make anyone busy
    return event


def render_calendar(maintenances: Iterable, *, name: str) -> bytes:
    """The calendar of `maintenances` (upcoming, active and recent; windowless rows left out),
    named `name` in calendar apps."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", one_line(xml_safe(name)))
    calendar.add("x-published-ttl", REFRESH)
    host = _host()
    for incident in maintenances:
        if incident.scheduled_for is None or incident.scheduled_until is None:
            continue
        calendar.add_component(_event(incident, host))
    return calendar.to_ical()
