"""Alert sources' intake URLs, through Django's test client: the payloads of Alertmanager,
Grafana and the generic JSON; the mapping to components; duplicates, flaps, the hold-down,
a human's override; bad payloads (400, nothing changed); unknown components (staff told,
never a 500)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from detection_helpers import alertmanager_payload
from django.core.management import call_command
from django.utils import timezone

from notifier.models import StaffNotice
from statuspage.metrics.models import Alert, AlertIntake, AlertSource, AlertState
from statuspage.metrics.services import alert_source_create, alerts_release_due
from statuspage.models import AuditEntry, Component, ComponentStatusChange
from statuspage.services import component_set_status

pytestmark = pytest.mark.django_db


def status_of(component: Component) -> str:
    component.refresh_from_db()
    return component.status


def test_the_command_prints_the_intake_url_and_the_alert_moves_the_component_and_back(
    catalogue, post, capsys
):
    """The issue's "done when", in-process: a source created by the command, an Alertmanager
    payload for service=run-execution, region=us-east-1, severity=critical."""
    call_command(
        "create_alert_source", "prod-am", "--kind", "alertmanager", "--automation", "component"
    )
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("url: http://testserver/intake/alerts/") and out[1].startswith("id: ")
    source = AlertSource.objects.get(name="prod-am")
    assert out[0] == f"url: http://testserver{source.intake_path}"
    assert out[1] == f"id: {source.public_id}"
    runs_us = catalogue["runs_us"]
    labels = {"service": "run-execution", "region": "us-east-1"}

    response = post(source, alertmanager_payload(**labels))
    assert response.status_code == 200, response.content
    assert runs_us.name == "Run execution (us-east-1)"
    assert status_of(runs_us) == "major_outage"
    change = ComponentStatusChange.objects.get(component=runs_us)
    assert change.actor_name == "alert-source:prod-am"  # audited as the source
    assert AuditEntry.objects.filter(
        action="component.set_status", actor_name="alert-source:prod-am"
    )
    assert status_of(catalogue["runs_eu"]) == "operational"

    response = post(source, alertmanager_payload("resolved", **labels))
    assert response.status_code == 200
    # The default hold-down keeps the status until it is over, then gives it back.
    assert status_of(runs_us) == "major_outage"
    assert Alert.objects.get().state == AlertState.RESOLVING
    assert alerts_release_due(now=timezone.now() + timedelta(seconds=source.hold_down + 1)) == 1
    assert status_of(runs_us) == "operational"
    assert Alert.objects.get().state == AlertState.RESOLVED


def test_a_component_id_label_and_a_global_service_are_found(catalogue, source, post):
    post(source, alertmanager_payload(component=catalogue["runs_eu"].public_id))
    assert status_of(catalogue["runs_eu"]) == "major_outage"
    # `service` without `region`: the service's global component.
    post(source, alertmanager_payload(service="api", severity="warning"))
    assert status_of(catalogue["api_global"]) == "degraded_performance"


def test_a_severity_not_in_the_map_changes_no_status_but_is_an_alert(catalogue, source, post):
    response = post(source, alertmanager_payload(service="api", severity="info"))
    assert response.status_code == 200
    assert status_of(catalogue["api_global"]) == "operational"
    assert Alert.objects.get().component == catalogue["api_global"]


def test_duplicates_are_taken_once(catalogue, source, post):
    payload = alertmanager_payload(service="run-execution", region="us-east-1")
    for _ in range(3):  # Alertmanager re-sends a firing group every repeat_interval
        assert post(source, payload).status_code == 200
    assert Alert.objects.count() == 1
    assert ComponentStatusChange.objects.filter(component=catalogue["runs_us"]).count() == 1
    assert StaffNotice.objects.filter(key__endswith=":firing").count() == 1
    last = AlertIntake.objects.first()
    assert last.status_code == 200 and "already firing (duplicate)" in " ".join(last.actions)
    resolved = alertmanager_payload("resolved", service="run-execution", region="us-east-1")
    post(source, resolved)
    post(source, resolved)
    assert status_of(catalogue["runs_us"]) == "operational"
    assert ComponentStatusChange.objects.filter(component=catalogue["runs_us"]).count() == 2


def test_a_flapping_alert_within_the_hold_down_does_not_flap_the_page(catalogue, actor, post):
    source = alert_source_create(name="flappy", kind="alertmanager", actor=actor, hold_down=120)
    labels = {"service": "run-execution", "region": "us-east-1"}
    for _ in range(3):  # fire, resolve, fire, resolve, …
        post(source, alertmanager_payload(**labels))
        post(source, alertmanager_payload("resolved", **labels))
    runs_us = catalogue["runs_us"]
    assert status_of(runs_us) == "major_outage"
    assert ComponentStatusChange.objects.filter(component=runs_us).count() == 1
    post(source, alertmanager_payload(**labels))  # firing again: nothing to release
    assert alerts_release_due(now=timezone.now() + timedelta(seconds=121)) == 0
    post(source, alertmanager_payload("resolved", **labels))
    assert alerts_release_due(now=timezone.now() + timedelta(seconds=60)) == 0
    assert status_of(runs_us) == "major_outage"
    assert alerts_release_due(now=timezone.now() + timedelta(seconds=121)) == 1
    assert status_of(runs_us) == "operational"
    assert ComponentStatusChange.objects.filter(component=runs_us).count() == 2
    assert Alert.objects.count() == 1


def test_a_status_a_human_set_meanwhile_is_kept(catalogue, source, post, actor):
    labels = {"service": "run-execution", "region": "us-east-1"}
    post(source, alertmanager_payload(**labels))
    component_set_status(component=catalogue["runs_us"], status="partial_outage", actor=actor)
    post(source, alertmanager_payload("resolved", **labels))
    assert status_of(catalogue["runs_us"]) == "partial_outage"
    assert "changed by someone since" in " ".join(AlertIntake.objects.first().actions)


def test_an_alert_never_makes_the_page_look_better(catalogue, source, post, actor):
    component_set_status(component=catalogue["runs_us"], status="major_outage", actor=actor)
    post(
        source,
        alertmanager_payload(service="run-execution", region="us-east-1", severity="warning"),
    )
    assert status_of(catalogue["runs_us"]) == "major_outage"
    post(
        source,
        alertmanager_payload(
            "resolved", service="run-execution", region="us-east-1", severity="warning"
        ),
    )
    assert status_of(catalogue["runs_us"]) == "major_outage"


def test_two_alerts_on_one_component_hand_it_over(catalogue, source, post):
    runs_us = catalogue["runs_us"]
    where = {"service": "run-execution", "region": "us-east-1"}
    post(source, alertmanager_payload(alertname="Slow", severity="warning", **where))
    post(source, alertmanager_payload(alertname="Down", severity="critical", **where))
    assert status_of(runs_us) == "major_outage"
    post(source, alertmanager_payload("resolved", alertname="Down", severity="critical", **where))
    assert status_of(runs_us) == "degraded_performance"  # "Slow" still fires
    post(source, alertmanager_payload("resolved", alertname="Slow", severity="warning", **where))
    assert status_of(runs_us) == "operational"
    # The other way round: the worse alert first, the milder one taking nothing.
    post(source, alertmanager_payload(alertname="Down", severity="critical", **where))
    post(source, alertmanager_payload(alertname="Slow", severity="warning", **where))
    post(source, alertmanager_payload("resolved", alertname="Down", severity="critical", **where))
    assert status_of(runs_us) == "degraded_performance"
    post(source, alertmanager_payload("resolved", alertname="Slow", severity="warning", **where))
    assert status_of(runs_us) == "operational"


def test_a_worse_severity_of_the_same_alert_takes_the_component_further(catalogue, actor, post):
    source = alert_source_create(name="generic", kind="generic", actor=actor, hold_down=0)
    component = catalogue["runs_eu"].public_id
    body = {"component": component, "status": "firing", "severity": "warning", "summary": "Slow"}
    post(source, body)
    assert status_of(catalogue["runs_eu"]) == "degraded_performance"
    post(source, {**body, "severity": "critical"})
    assert status_of(catalogue["runs_eu"]) == "major_outage"
    post(source, {**body, "status": "resolved"})
    assert status_of(catalogue["runs_eu"]) == "operational"
    assert Alert.objects.get().name == "Slow"


def test_grafana_webhook_contact_point_payload(catalogue, actor, post):
    source = alert_source_create(name="grafana", kind="grafana", actor=actor, hold_down=0)
    alert = {
        "status": "firing",
        "labels": {
            "alertname": "High queue depth",
            "grafana_folder": "Runs",
            "service": "run-execution",
            "region": "eu-central-1",
            "severity": "critical",
        },
        "annotations": {"summary": "Queue depth above 500k"},
        "startsAt": "2026-06-22T20:05:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://grafana.internal/alerting/grafana/abc/view",
        "fingerprint": "57c6d9296de2ad39",
        "silenceURL": "http://grafana.internal/alerting/silence/new",
        "dashboardURL": "",
        "panelURL": "",
        "values": {"B": 612345, "C": 1},
        "valueString": "[ var='B' labels={} value=612345 ]",
    }
    body = {
        "receiver": "heliograph",
        "status": "firing",
        "orgId": 1,
        "alerts": [alert],
        "groupLabels": {"alertname": "High queue depth"},
        "commonLabels": alert["labels"],
        "commonAnnotations": alert["annotations"],
        "externalURL": "http://grafana.internal/",
        "version": "1",
        "groupKey": '{}:{alertname="High queue depth"}',
        "truncatedAlerts": 0,
        "title": "[FIRING:1] High queue depth",
        "state": "alerting",
        "message": "**Firing**\n\nValue: B=612345",
    }
    assert post(source, body).status_code == 200
    assert status_of(catalogue["runs_eu"]) == "major_outage"
    assert Alert.objects.get().summary == "Queue depth above 500k"
    resolved = {**body, "status": "resolved", "alerts": [{**alert, "status": "resolved"}]}
    assert post(source, resolved).status_code == 200
    assert status_of(catalogue["runs_eu"]) == "operational"


@pytest.mark.parametrize(
    ("kind", "body", "reason"),
    [
        ("alertmanager", "this is not json", "The body is not JSON"),
        ("alertmanager", "[1, 2]", "must be a JSON object"),
        ("alertmanager", '{"version": "4", "alerts": []}', "non-empty list 'alerts'"),
        ("alertmanager", '{"version": "3", "alerts": [{"status": "firing"}]}', "version '3'"),
        ("alertmanager", '{"version": "4", "alerts": [{"status": "on fire"}]}', "alerts[0].status"),
        ("alertmanager", '{"alerts": [{"status": "firing", "labels": ["a"]}]}', "alerts[0].labels"),
        ("alertmanager", b"\xff\xfe not utf-8", "not UTF-8"),
        ("grafana", '{"status": "firing"}', "non-empty list 'alerts'"),
        ("generic", '{"status": "firing", "severity": "critical"}', "name the component"),
        ("generic", '{"component": "x"}', "'status' is required"),
        ("generic", '{"component": ["x"], "status": "firing"}', "body.component must be a string"),
    ],
)
def test_it_refuses_a_bad_payload_with_a_reason_and_changes_nothing(
    catalogue, actor, post, kind, body, reason
):
    source = alert_source_create(name=f"src-{kind}", kind=kind, actor=actor, hold_down=0)
    before = list(Component.objects.values_list("pk", "status"))
    response = post(source, body)
    assert response.status_code == 400
    assert reason in response.json()["message"]
    assert Alert.objects.count() == 0 and StaffNotice.objects.count() == 0
    assert list(Component.objects.values_list("pk", "status")) == before
    intake = AlertIntake.objects.get()  # recorded, with why it was refused
    assert intake.status_code == 400 and reason in intake.actions[0]


def test_an_unknown_component_is_told_to_staff_and_never_a_500(catalogue, source, post):
    response = post(source, alertmanager_payload(service="no-such-service", region="mars-1"))
    assert response.status_code == 200
    alert = Alert.objects.get()
    assert alert.component is None
    assert alert.unknown_component == "service=no-such-service, region=mars-1"
    notice = StaffNotice.objects.get()
    assert "No component matches service=no-such-service, region=mars-1" in notice.body
    assert not ComponentStatusChange.objects.exists()
    post(source, alertmanager_payload("resolved", service="no-such-service", region="mars-1"))
    assert Alert.objects.get().state == AlertState.RESOLVED


def test_unknown_secret_wrong_method_and_a_body_too_large(client, source, settings):
    assert (
        client.post(
            "/intake/alerts/not-a-secret", data="{}", content_type="application/json"
        ).status_code
        == 404
    )
    assert client.get(source.intake_path).status_code == 405
    settings.HELIOGRAPH_INTAKE_MAX_BODY = 100
    response = client.post(source.intake_path, data="x" * 200, content_type="application/json")
    assert response.status_code == 413
    assert not AlertIntake.objects.exists()


def test_a_disabled_source_changes_nothing(catalogue, actor, post):
    source = alert_source_create(name="off", kind="alertmanager", actor=actor, enabled=False)
    response = post(source, alertmanager_payload(service="run-execution", region="us-east-1"))
    assert response.status_code == 409
    assert status_of(catalogue["runs_us"]) == "operational" and not Alert.objects.exists()


def test_automation_off_only_tells_staff(catalogue, actor, post):
    source = alert_source_create(name="quiet", kind="alertmanager", actor=actor, automation="off")
    post(source, alertmanager_payload(service="run-execution", region="us-east-1"))
    assert status_of(catalogue["runs_us"]) == "operational"
    notice = StaffNotice.objects.get()
    assert "would be Major outage (automation is off)" in notice.body


def test_each_intake_records_what_came_in_and_what_was_done(catalogue, source, post):
    post(source, alertmanager_payload(service="run-execution", region="us-east-1"))
    intake = AlertIntake.objects.get()
    assert json.loads(intake.body)["alerts"][0]["labels"]["service"] == "run-execution"
    assert intake.actions == [
        "RunQueueStalled: firing, alert opened",
        "Run execution (us-east-1): operational → major_outage",
    ]
    source.refresh_from_db()
    assert source.last_intake_at == intake.received_at


def test_control_characters_in_an_alert_are_made_harmless(catalogue, actor, post):
    source = alert_source_create(name="gen", kind="generic", actor=actor, hold_down=0)
    body = {
        "component": catalogue["api_global"].public_id,
        "status": "firing",
        "severity": "critical",
        "summary": "\x1b[31mERROR\x1b[0m api\x00 down\nnow",
    }
    assert post(source, body).status_code == 200
    alert = Alert.objects.get()
    assert alert.summary == "ERROR api down now"
