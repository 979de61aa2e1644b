from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from incidents import services
from incidents.models import Incident, IncidentUpdate
from statuspage.models import AuditEntry, ComponentStatusChange
from statuspage.services import Actor, component_set_status

pytestmark = pytest.mark.django_db


def test_declare_writes_incident_update_history_and_audit(catalogue, actor):
    c = catalogue["runs_us"]
    incident = services.incident_declare(
        name="Runs not starting in us-east-1",
        body="We are investigating.",
        impact="critical",
        component_statuses={c: "major_outage"},
        actor=actor,
    )
    c.refresh_from_db()
    assert c.status == "major_outage"
    assert incident.status == "investigating"
    assert list(incident.components.all()) == [c]
    update = incident.updates.get()
    change = ComponentStatusChange.objects.get(component=c)
    assert (change.old_status, change.new_status) == ("operational", "major_outage")
    assert change.incident_update == update and change.incident == incident
    assert AuditEntry.objects.filter(action="incident.declare", actor_name="test").exists()


def test_update_for_resolved_incident_is_refused_and_writes_nothing(catalogue, actor):
    incident = services.incident_declare(name="x", body="y", actor=actor)
    services.incident_resolve(incident=incident, actor=actor)
    count = IncidentUpdate.objects.count()
    with pytest.raises(ValidationError, match="takes no more updates"):
        services.incident_post_update(incident=incident, status="monitoring", body="z", actor=actor)
    assert IncidentUpdate.objects.count() == count


def test_bad_component_status_is_refused_before_anything_is_written(catalogue, actor):
    with pytest.raises(ValidationError, match="not a component status"):
        services.incident_declare(
            name="x",
            body="y",
            actor=actor,
            component_statuses={catalogue["runs_us"]: "on_fire"},
        )
    assert Incident.objects.count() == 0
    assert ComponentStatusChange.objects.count() == 0


def test_resolve_restores_components_and_sets_times(catalogue, actor):
    c = catalogue["runs_eu"]
    incident = services.incident_declare(
        name="x", body="y", actor=actor, component_statuses={c: "partial_outage"}
    )
    services.incident_post_update(incident=incident, status="monitoring", body="fix", actor=actor)
    services.incident_resolve(incident=incident, actor=actor)
    incident.refresh_from_db()
    c.refresh_from_db()
    assert c.status == "operational"
    assert incident.monitoring_at is not None and incident.resolved_at is not None


def test_maintenance_moves_with_its_window(catalogue, actor):
    c = catalogue["api_global"]
    now = timezone.now()
    m = services.maintenance_schedule(
        name="DB upgrade",
        body="planned",
        actor=actor,
        components=[c],
        scheduled_for=now + timedelta(minutes=5),
        scheduled_until=now + timedelta(minutes=65),
    )
    assert services.maintenance_advance_due(now=now) == []
    services.maintenance_advance_due(now=now + timedelta(minutes=6))
    m.refresh_from_db()
    c.refresh_from_db()
    assert (m.status, c.status) == ("in_progress", "under_maintenance")
    services.maintenance_advance_due(now=now + timedelta(minutes=66))
    m.refresh_from_db()
    c.refresh_from_db()
    assert (m.status, c.status) == ("completed", "operational")


def test_maintenance_window_must_end_after_start(catalogue, actor):
    now = timezone.now()
    with pytest.raises(ValidationError, match="after its start"):
        services.maintenance_schedule(
            name="x", body="y", actor=actor, scheduled_for=now, scheduled_until=now
        )


def test_markdown_is_sanitized(catalogue, actor):
    incident = services.incident_declare(
        name="x",
        body="<script>alert(1)</script> [a](javascript:alert(1)) <img src=x onerror=alert(1)>",
        actor=actor,
    )
    html = incident.updates.get().body_html
    assert "<script" not in html and "javascript:" not in html and "onerror" not in html


def test_postmortem_needs_a_resolved_incident(catalogue, actor):
    incident = services.incident_declare(name="x", body="y", actor=actor)
    with pytest.raises(ValidationError, match="once the incident is resolved"):
        services.postmortem_publish(incident=incident, body="# What happened", actor=actor)
    services.incident_resolve(incident=incident, actor=actor)
    pm = services.postmortem_publish(incident=incident, body="# What happened", actor=actor)
    assert "<h1>What happened</h1>" in pm.body_html
    incident.refresh_from_db()
    assert incident.status == "postmortem"


def test_postmortem_can_be_announced_on_the_timeline_and_to_recipients(catalogue, actor):
    from notifier.models import Delivery
    from notifier.services import subscriber_add_confirmed

    subscriber_add_confirmed(email="ada@example.com", actor=actor)
    incident = services.incident_declare(
        name="x", body="y", actor=actor, deliver_notifications=False
    )
    services.incident_resolve(incident=incident, actor=actor, deliver_notifications=False)
    services.postmortem_publish(incident=incident, body="# What happened", actor=actor)
    assert not incident.updates.filter(status="postmortem").exists()
    assert Delivery.objects.count() == 0
    services.postmortem_publish(incident=incident, body="# Revised", actor=actor, notify=True)
    update = incident.updates.get(status="postmortem")
    assert f"/incidents/{incident.public_id}#postmortem-title" in update.body
    assert Delivery.objects.filter(update=update, subscriber__email="ada@example.com").count() == 1


def _maintenance_on(components, actor) -> Incident:
    now = timezone.now()
    return services.maintenance_schedule(
        name="Control plane disks",
        body="planned",
        actor=actor,
        components=components,
        scheduled_for=now + timedelta(hours=1),
        scheduled_until=now + timedelta(hours=3),
    )


def test_completed_maintenance_gives_each_component_back_its_own_prior_status(catalogue, actor):
    runs_us, runs_eu = catalogue["runs_us"], catalogue["runs_eu"]
    component_set_status(
        component=runs_eu, status="degraded_performance", actor=actor, reason="slow"
    )
    maintenance = _maintenance_on([runs_us, runs_eu], actor)

    services.maintenance_start(incident=maintenance, actor=actor)
    runs_us.refresh_from_db()
    runs_eu.refresh_from_db()
    assert (runs_us.status, runs_eu.status) == ("under_maintenance", "under_maintenance")

    services.maintenance_complete(incident=maintenance, actor=actor)
    runs_us.refresh_from_db()
    runs_eu.refresh_from_db()
    assert (runs_us.status, runs_eu.status) == ("operational", "degraded_performance")
    given_back = ComponentStatusChange.objects.filter(
        incident=maintenance, old_status="under_maintenance"
    )
    assert {(c.component_id, c.new_status) for c in given_back} == {
        (runs_us.pk, "operational"),
        (runs_eu.pk, "degraded_performance"),
    }


def test_completed_maintenance_leaves_a_component_a_human_changed_during_the_window(
    catalogue, actor
):
    """Only components still under maintenance are given back (_default_component_statuses):
    a status a human set during the window is theirs to keep."""
    runs_us, api = catalogue["runs_us"], catalogue["api_global"]
    maintenance = _maintenance_on([runs_us, api], actor)
    services.maintenance_start(incident=maintenance, actor=actor)
    human = Actor(name="on-call")
    component_set_status(component=api, status="major_outage", actor=human, reason="it broke")

    services.maintenance_complete(incident=maintenance, actor=actor)
    runs_us.refresh_from_db()
    api.refresh_from_db()
    assert (runs_us.status, api.status) == ("operational", "major_outage")
    last = ComponentStatusChange.objects.filter(component=api).order_by("-id").first()
    assert (last.actor_name, last.new_status) == ("on-call", "major_outage")


def test_an_update_raises_the_impact_whichever_door_it_comes_through(catalogue, actor):
    """The rule of statuspage.status.impact_raised lives in the service, so an update from
    the API, MCP or the admin raises the impact like the console does, and never lowers it."""
    incident = services.incident_declare(
        name="Slow runs", body="Looking.", actor=actor, impact="minor"
    )
    services.incident_post_update(
        incident=incident,
        status="identified",
        body="Worse than we thought.",
        actor=actor,
        component_statuses={catalogue["runs_us"]: "major_outage"},
    )
    incident.refresh_from_db()
    assert incident.impact == "critical"
    services.incident_post_update(
        incident=incident,
        status="monitoring",
        body="Recovering.",
        actor=actor,
        component_statuses={catalogue["runs_us"]: "degraded_performance"},
    )
    incident.refresh_from_db()
    assert incident.impact == "critical"  # a recovery keeps it until the commander changes it


def _queries_to_give_back(components, actor) -> int:
    maintenance = _maintenance_on(components, actor)
    services.maintenance_start(incident=maintenance, actor=actor)
    maintenance.refresh_from_db()
    with CaptureQueriesContext(connection) as queries:
        statuses = services._default_component_statuses(maintenance, "completed")
    assert set(statuses.values()) == {"operational"} and len(statuses) == len(components)
    services.maintenance_complete(incident=maintenance, actor=actor)
    return len(queries)


def test_it_reads_the_statuses_to_give_back_in_queries_that_do_not_grow_with_components(
    catalogue, actor
):
    """Completing a maintenance looks up each component's status before it, once for all
    of them (it was one query per component)."""
    one = _queries_to_give_back([catalogue["runs_us"]], actor)
    three = _queries_to_give_back(
        [catalogue["runs_us"], catalogue["runs_eu"], catalogue["api_global"]], actor
    )
    assert one == three == 2
