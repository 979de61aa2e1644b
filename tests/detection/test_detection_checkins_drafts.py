"""Check-ins (missed, failed, back), incident drafts (one-click publish from the dashboard,
discarded when the alert resolves first), and staff alerts reaching a chat channel marked
"staff alerts" through the outbox, as a real Slack client sends them to a loopback sink."""

from __future__ import annotations

from datetime import timedelta

import pytest
from detection_helpers import alertmanager_payload
from django.core import mail
from django.core.management import call_command
from django.utils import timezone
from sinks import ChatSink

from incidents.models import Incident
from notifier.models import Delivery, DeliveryStatus, StaffNotice
from notifier.services import channel_create
from statuspage.conf.celery import app as celery_app
from statuspage.metrics import services
from statuspage.metrics.models import Alert, AlertState, CheckIn, IncidentDraft
from statuspage.metrics.services import alert_source_create, checkins_check_due
from statuspage.models import ComponentStatusChange
from statuspage.services import component_set_status

pytestmark = pytest.mark.django_db


def status_of(component) -> str:
    component.refresh_from_db()
    return component.status


def test_a_missed_check_in_degrades_the_component_and_the_next_one_restores_it(
    client, checkin, catalogue
):
    runs_us = catalogue["runs_us"]
    assert checkins_check_due(now=timezone.now() + timedelta(days=1)) == 0  # never called yet
    response = client.get(checkin.intake_path)
    assert response.status_code == 200 and response.content == b"ok\n"
    checkin.refresh_from_db()
    deadline = checkin.last_ping_at + timedelta(seconds=3600 + 60)
    assert checkin.due_at == deadline
    assert checkins_check_due(now=deadline - timedelta(seconds=1)) == 0
    assert checkins_check_due(now=deadline + timedelta(seconds=1)) == 1
    assert checkins_check_due(now=deadline + timedelta(seconds=20)) == 0  # one alert, not two
    alert = Alert.objects.get()
    assert alert.name == "nightly-export missed its check-in" and alert.checkin == checkin
    assert status_of(runs_us) == "degraded_performance"
    change = ComponentStatusChange.objects.get(component=runs_us)
    assert change.actor_name == "checkin:nightly-export"
    assert StaffNotice.objects.get().status_label == "Check-in missed"

    assert (
        client.post(
            checkin.intake_path, data="exported 1234 rows", content_type="text/plain"
        ).status_code
        == 200
    )
    assert status_of(runs_us) == "operational"
    alert.refresh_from_db()
    assert alert.state == AlertState.RESOLVED
    assert checkin.intakes.first().body == "exported 1234 rows"


def test_a_failed_run_raises_the_alert_at_once(client, checkin, catalogue):
    response = client.post(checkin.intake_path + "/fail", data="", content_type="text/plain")
    assert response.status_code == 200 and response.content == b"failure recorded\n"
    assert status_of(catalogue["runs_us"]) == "degraded_performance"
    assert Alert.objects.get().name == "nightly-export failed"
    client.get(checkin.intake_path + "/fail")  # failing again: the same alert
    assert Alert.objects.count() == 1
    client.get(checkin.intake_path)
    assert status_of(catalogue["runs_us"]) == "operational"


def test_unknown_and_paused_check_ins(client, checkin, actor):
    assert client.get("/checkin/nope").status_code == 404
    services.checkin_update(checkin=checkin, actor=actor, enabled=False)
    assert client.get(checkin.intake_path).status_code == 409
    assert CheckIn.objects.get().last_ping_at is None


def test_create_checkin_command_prints_its_url(catalogue, capsys):
    call_command(
        "create_checkin",
        "backup",
        "--period",
        "86400",
        "--component",
        catalogue["api_global"].public_id,
    )
    url, ident = capsys.readouterr().out.splitlines()
    checkin = CheckIn.objects.get(name="backup")
    assert url == f"url: http://testserver/checkin/{checkin.secret}"
    assert ident == f"id: {checkin.public_id}" and checkin.component == catalogue["api_global"]


@pytest.fixture
def commander(django_user_model):
    return django_user_model.objects.create_superuser("ic", "ic@example.com", "pw-ic-123456")


def test_a_draft_is_published_with_one_click_from_the_dashboard(
    client, catalogue, actor, post, commander
):
    source = alert_source_create(
        name="drafting", kind="alertmanager", actor=actor, automation="draft", hold_down=0
    )
    post(source, alertmanager_payload(service="run-execution", region="us-east-1"))
    draft = IncidentDraft.objects.get()
    # A major outage is a critical impact (statuspage.status: the badge never says less).
    assert draft.name == "Runs are not being dequeued" and draft.impact == "critical"
    assert draft.component_statuses == {catalogue["runs_us"].public_id: "major_outage"}
    assert not Incident.objects.exists()  # nothing public yet
    client.force_login(commander)
    page = client.get("/console/").content.decode()
    assert "Incident drafts (1)" in page and "Runs are not being dequeued" in page
    response = client.post(f"/console/metrics/drafts/{draft.pk}/publish")
    incident = Incident.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/{incident.public_id}/")
    assert incident.name == "Runs are not being dequeued" and incident.impact == "critical"
    assert list(incident.components.all()) == [catalogue["runs_us"]]
    assert incident.updates.get().author_name == "ic"
    assert "Incident drafts" not in client.get("/console/").content.decode()
    # The commander is in charge now: the alert resolving does not give the component back.
    post(source, alertmanager_payload("resolved", service="run-execution", region="us-east-1"))
    assert status_of(catalogue["runs_us"]) == "major_outage"
    # Publishing twice is refused.
    client.post(f"/console/metrics/drafts/{draft.pk}/publish")
    assert Incident.objects.count() == 1


def test_a_draft_nobody_published_is_discarded_when_its_alert_resolves(catalogue, actor, post):
    source = alert_source_create(
        name="drafting", kind="alertmanager", actor=actor, automation="draft", hold_down=0
    )
    post(source, alertmanager_payload(service="run-execution", region="us-east-1"))
    post(source, alertmanager_payload("resolved", service="run-execution", region="us-east-1"))
    draft = IncidentDraft.objects.get()
    assert draft.discarded_at is not None and "resolved before" in draft.discarded_reason
    assert status_of(catalogue["runs_us"]) == "operational"
    with pytest.raises(Exception, match="discarded"):
        services.incident_draft_publish(draft=draft, actor=actor)


@pytest.fixture
def chat(settings):
    sink = ChatSink()
    settings.HELIOGRAPH_ALLOW_PRIVATE_TARGETS = True
    settings.HELIOGRAPH_SLACK_API_URL = f"{sink.url}/api/"
    conf = celery_app.conf
    old = conf.task_always_eager, conf.task_eager_propagates
    conf.task_always_eager, conf.task_eager_propagates = True, True
    yield sink
    conf.task_always_eager, conf.task_eager_propagates = old
    sink.close()


def test_staff_alerts_reach_a_chat_channel_marked_for_them(
    catalogue, actor, post, chat, staff_user, django_capture_on_commit_callbacks
):
    staff_room = channel_create(
        kind="slack",
        name="ops",
        url=f"{chat.url}/services/T0/B0/ops",
        actor=actor,
        staff_alerts=True,
    )
    public_room = channel_create(
        kind="slack", name="customers", url=f"{chat.url}/services/T0/B0/pub", actor=actor
    )
    source = alert_source_create(
        name="prod", kind="alertmanager", actor=actor, automation="draft", hold_down=0
    )
    with django_capture_on_commit_callbacks(execute=True):
        post(source, alertmanager_payload(service="run-execution", region="us-east-1"))
    texts = [r.json()["text"] for r in chat.received if r.path.endswith("/ops")]
    assert any(
        t.startswith("[Alert firing] RunQueueStalled — Run execution (us-east-1)") for t in texts
    )
    assert any(
        t.startswith("[Incident draft] Draft ready: Runs are not being dequeued") for t in texts
    )
    assert not [r for r in chat.received if r.path.endswith("/pub")]  # not the public channel
    assert Delivery.objects.filter(channel=staff_room, status=DeliveryStatus.SENT).count() == 2
    assert not Delivery.objects.filter(channel=public_room).exists()
    # … and by email to staff.
    assert any("RunQueueStalled" in m.subject for m in mail.outbox)
    assert mail.outbox[0].to == [staff_user.email]


def test_metric_threshold_alerts_reach_the_staff_channel_too(
    catalogue, actor, chat, django_capture_on_commit_callbacks
):
    channel_create(
        kind="slack",
        name="ops",
        url=f"{chat.url}/services/T0/B0/ops",
        actor=actor,
        staff_alerts=True,
    )
    metric = services.metric_create(
        name="Queue depth", slug="queue-depth", actor=actor, critical_threshold=100
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.metric_points_record(metric=metric, points=[(timezone.now(), 500)], actor=actor)
    assert [r.json()["text"].split("\n")[0] for r in chat.received] == [
        "[Metric critical] Queue depth: critical (500)"
    ]


def test_staff_alerts_are_for_slack_and_discord_channels(actor, db):
    with pytest.raises(Exception, match="Slack and Discord"):
        channel_create(
            kind="webhook",
            name="hook",
            url="https://example.com/hook",
            actor=actor,
            staff_alerts=True,
        )


def test_a_human_change_after_a_check_in_alert_is_kept(client, checkin, catalogue, actor):
    client.get(checkin.intake_path + "/fail")
    component_set_status(component=catalogue["runs_us"], status="major_outage", actor=actor)
    client.get(checkin.intake_path)
    assert status_of(catalogue["runs_us"]) == "major_outage"
