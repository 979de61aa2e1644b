"""The maintenance calendars (`/maintenance.ics`, `/maintenance/<component id>.ics`): read
back with `icalendar` as a calendar app reads them, from the app and from the static tree.
A subscribed calendar must see every change (the UID stays, the SEQUENCE goes up) and must
be told of a cancellation (STATUS:CANCELLED), not be left with a maintenance that vanished."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.utils import timezone
from icalendar import Calendar

from incidents.models import Incident
from incidents.services import (
    incident_change,
    incident_declare,
    incident_edit,
    incident_post_update,
    maintenance_cancel,
    maintenance_schedule,
    maintenance_start,
)
from statuspage.models import Component
from statuspage.public.snapshot import read_manifest, snapshot_publish

pytestmark = pytest.mark.django_db

ICS = "text/calendar; charset=utf-8"


@pytest.fixture
def site(settings, tmp_path):
    settings.SNAPSHOT_DIR = tmp_path / "snapshot"
    settings.PUBLISH_TARGETS = [f"file://{tmp_path / 'site'}"]
    settings.SITE_URL = "https://status.example.com"
    return tmp_path / "site"


def schedule(actor, name: str, components, *, in_days: float = 1, hours: float = 2) -> Incident:
    start = (timezone.now() + timedelta(days=in_days)).replace(microsecond=0)
    return maintenance_schedule(
        name=name,
        body=f"{name}: planned.",
        actor=actor,
        scheduled_for=start,
        scheduled_until=start + timedelta(hours=hours),
        components=components,
    )


def calendar(client, path: str = "/maintenance.ics") -> Calendar:
    snapshot_publish()
    response = client.get(path)
    assert response.status_code == 200, path
    assert response["Content-Type"] == ICS
    return Calendar.from_ical(response.content)


def events(cal: Calendar) -> dict[str, object]:
    """The calendar's VEVENTs by UID."""
    found = {str(e["UID"]): e for e in cal.walk("VEVENT")}
    assert len(found) == len(cal.walk("VEVENT")), "a UID is used twice"
    return found


def uid(maintenance: Incident) -> str:
    return f"{maintenance.public_id}@status.example.com"


def test_it_lists_upcoming_active_and_recent_maintenance_and_nothing_else(
    client, site, catalogue, actor
):
    upcoming = schedule(actor, "Database upgrade", [catalogue["runs_us"]])
    active = schedule(actor, "Disk move", [catalogue["api_global"]], in_days=-0.01)
    maintenance_start(incident=active, actor=actor)
    recent = schedule(actor, "Network change", [], in_days=-2)
    incident_post_update(incident=recent, status="completed", body="Done.", actor=actor)
    old = schedule(actor, "Old work", [], in_days=-200)
    incident_post_update(incident=old, status="completed", body="Done.", actor=actor)
    Incident.objects.filter(pk=old.pk).update(resolved_at=timezone.now() - timedelta(days=120))
    incident_declare(name="An outage, not a maintenance", body="x", actor=actor)

    cal = calendar(client)
    assert str(cal["VERSION"]) == "2.0"
    assert "Heliograph" in str(cal["PRODID"])
    assert str(cal["METHOD"]) == "PUBLISH"
    assert str(cal["X-WR-CALNAME"]) == "Heliograph maintenance"
    found = events(cal)
    assert set(found) == {uid(upcoming), uid(active), uid(recent)}

    event = found[uid(upcoming)]
    assert str(event["SUMMARY"]) == "Database upgrade"
    assert event.decoded("DTSTART") == upcoming.scheduled_for.astimezone(UTC)
    assert event.decoded("DTEND") == upcoming.scheduled_until.astimezone(UTC)
    assert event.decoded("DTSTART").tzinfo is not None  # UTC, not floating local time
    assert "DTSTAMP" in event
    assert str(event["STATUS"]) == "CONFIRMED"
    url = f"https://status.example.com/incidents/{upcoming.public_id}"
    assert str(event["URL"]) == url
    description = str(event["DESCRIPTION"])
    assert "Database upgrade: planned." in description
    assert "Run execution (us-east-1)" in description
    assert url in description
    # The latest update is the one described.
    assert "Scheduled maintenance is in progress." in str(found[uid(active)]["DESCRIPTION"])


def test_it_keeps_the_uid_and_raises_the_sequence_on_every_change_a_calendar_must_see(
    client, site, catalogue, actor
):
    maintenance = schedule(actor, "Database upgrade", [catalogue["runs_us"]])
    first = events(calendar(client))[uid(maintenance)]
    unchanged_body = client.get("/maintenance.ics").content
    snapshot_publish(full=True)
    # Another publish with nothing changed: the very same bytes (no spurious calendar change).
    assert client.get("/maintenance.ics").content == unchanged_body

    later = maintenance.scheduled_for + timedelta(days=7)
    incident_change(
        incident=maintenance,
        actor=actor,
        scheduled_for=later,
        scheduled_until=later + timedelta(hours=3),
    )
    moved = events(calendar(client))[uid(maintenance)]
    assert moved.decoded("DTSTART") == later.astimezone(UTC)
    assert moved.decoded("DTEND") == (later + timedelta(hours=3)).astimezone(UTC)
    assert int(moved["SEQUENCE"]) > int(first["SEQUENCE"])

    incident_edit(incident=maintenance, actor=actor, name="PostgreSQL 17 upgrade")
    renamed = events(calendar(client))[uid(maintenance)]
    assert str(renamed["SUMMARY"]) == "PostgreSQL 17 upgrade"
    assert int(renamed["SEQUENCE"]) > int(moved["SEQUENCE"])

    incident_post_update(
        incident=maintenance, status="scheduled", body="Now with a failover.", actor=actor
    )
    updated = events(calendar(client))[uid(maintenance)]
    assert "Now with a failover." in str(updated["DESCRIPTION"])
    assert int(updated["SEQUENCE"]) > int(renamed["SEQUENCE"])

    maintenance_cancel(incident=maintenance, actor=actor)
    cancelled = events(calendar(client))[uid(maintenance)]  # still listed, so calendars drop it
    assert str(cancelled["STATUS"]) == "CANCELLED"
    assert int(cancelled["SEQUENCE"]) > int(updated["SEQUENCE"])
    assert "cancelled" in str(cancelled["DESCRIPTION"])


def test_it_cancels_a_maintenance_from_the_console_and_gives_its_components_back(
    client, site, catalogue, actor, django_user_model
):
    maintenance = schedule(actor, "Disk move", [catalogue["runs_us"]], in_days=-0.01)
    maintenance_start(incident=maintenance, actor=actor)
    assert Component.objects.get(pk=catalogue["runs_us"].pk).status == "under_maintenance"
    commander = django_user_model.objects.create_user("ic", "ic@example.com", "pw-ic-12345")
    commander.is_staff = True
    commander.save()
    commander.user_permissions.add(Permission.objects.get(codename="run_console"))
    client.force_login(commander)

    page = client.get(f"/console/incidents/{maintenance.public_id}/").content.decode()
    assert f"/console/maintenance/{maintenance.public_id}/cancel/" in page
    response = client.post(f"/console/maintenance/{maintenance.public_id}/cancel/")
    assert response.status_code == 302

    maintenance.refresh_from_db()
    assert maintenance.cancelled_at is not None and maintenance.status == "completed"
    assert Component.objects.get(pk=catalogue["runs_us"].pk).status == "operational"
    event = events(calendar(client))[uid(maintenance)]
    assert str(event["STATUS"]) == "CANCELLED"
    assert str(event["SUMMARY"]).startswith("Cancelled: ")


def test_it_refuses_to_cancel_an_incident_or_a_closed_maintenance(catalogue, actor):
    incident = incident_declare(name="Outage", body="x", actor=actor)
    with pytest.raises(ValidationError):
        maintenance_cancel(incident=incident, actor=actor)
    maintenance = schedule(actor, "Done already", [], in_days=-1)
    incident_post_update(incident=maintenance, status="completed", body="Done.", actor=actor)
    with pytest.raises(ValidationError):
        maintenance_cancel(incident=maintenance, actor=actor)
    with pytest.raises(ValidationError):
        incident_edit(incident=incident, actor=actor, scheduled_for=timezone.now())
    maintenance.refresh_from_db()
    assert maintenance.cancelled_at is None


def test_it_lists_only_a_components_maintenance_in_its_calendar(client, site, catalogue, actor):
    runs_us = schedule(actor, "Runs in us-east-1", [catalogue["runs_us"]])
    api = schedule(actor, "API", [catalogue["api_global"]])
    snapshot_publish()

    def uids(component_id: str) -> set[str]:
        response = client.get(f"/maintenance/{component_id}.ics")
        assert response.status_code == 200
        assert response["Content-Type"] == ICS
        return set(events(Calendar.from_ical(response.content)))

    assert uids(catalogue["runs_us"].public_id) == {uid(runs_us)}
    assert uids(catalogue["runs_eu"].public_id) == set()
    assert uids(catalogue["runs"].public_id) == {uid(runs_us)}  # the group: any of its regions
    assert uids(catalogue["api_global"].public_id) == {uid(api)}
    named = Calendar.from_ical(
        client.get(f"/maintenance/{catalogue['runs'].public_id}.ics").content
    )
    assert str(named["X-WR-CALNAME"]) == "Heliograph maintenance: Run execution"
    assert client.get("/maintenance/nosuchcomponent.ics").status_code == 404


def test_it_publishes_the_calendars_in_the_static_tree(client, site, catalogue, actor):
    schedule(actor, "Database upgrade", [catalogue["runs_us"]])
    snapshot_publish()
    manifest = read_manifest()
    paths = ["/maintenance.ics"] + [
        f"/maintenance/{c.public_id}.ics" for c in Component.objects.all()
    ]
    paths.append(f"/maintenance/{catalogue['runs'].public_id}.ics")
    for path in paths:
        assert manifest["documents"][path]["content_type"] == ICS, path
        assert (site / path.lstrip("/")).read_bytes() == client.get(path).content, path
    assert "Database upgrade" in (site / "maintenance.ics").read_text()


def test_it_links_the_calendar_from_the_page(client, site, catalogue, actor):
    maintenance = schedule(actor, "Database upgrade", [catalogue["runs_us"]])
    snapshot_publish()
    page = client.get("/").content.decode()
    assert '<link rel="alternate" type="text/calendar"' in page
    assert 'href="/maintenance.ics"' in page
    assert 'href="webcal://status.example.com/maintenance.ics"' in page
    card = page[page.index(f'href="/incidents/{maintenance.public_id}"') :]
    assert "Add to calendar" in card[: card.index("</article>")]
    # With no maintenance coming, the page still says where the calendar is.
    maintenance_cancel(incident=maintenance, actor=actor)
    snapshot_publish()
    page = client.get("/").content.decode()
    assert "Upcoming maintenance" not in page
    assert 'href="/maintenance.ics"' in page


def test_it_writes_times_in_utc_whatever_the_input_zone(client, site, catalogue, actor):
    start = datetime(2099, 3, 1, 10, 0, tzinfo=UTC).astimezone(
        timezone.get_fixed_timezone(timedelta(hours=5, minutes=30))
    )
    maintenance = maintenance_schedule(
        name="Far future",
        body="x",
        actor=actor,
        scheduled_for=start,
        scheduled_until=start + timedelta(hours=1),
    )
    snapshot_publish()
    body = client.get("/maintenance.ics").content
    assert b"DTSTART:20990301T100000Z" in body
    assert b"DTEND:20990301T110000Z" in body
    assert uid(maintenance).encode() in body
