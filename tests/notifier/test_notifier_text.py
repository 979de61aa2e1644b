"""Rows stored before the text rule (v0.1 stored anything) cannot stop an email: a newline or
a control character in a stored name never reaches a header (`BadHeaderError`), so the
delivery is sent at once instead of being retried until dead."""

from __future__ import annotations

import pytest
from django.utils import timezone

from incidents import services as incidents
from incidents.models import Incident
from notifier import services
from notifier.models import Channel, Delivery, DeliveryStatus, Subscriber, SubscriberKind

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("loopback", "eager")]


def test_a_stored_name_with_a_newline_is_emailed_with_a_one_line_subject(
    django_capture_on_commit_callbacks, catalogue, actor, smtp
):
    incident = incidents.incident_declare(
        name="Runs not starting", body="Looking.", actor=actor, deliver_notifications=False
    )
    # What v0.1 could store: the name as typed, line break and terminal colours included.
    Incident.objects.filter(pk=incident.pk).update(name="Runs not\r\nstarting \x1b[31mnow\x1b[0m")
    Subscriber.objects.create(
        kind=SubscriberKind.EMAIL, email="ada@example.com", confirmed_at=timezone.now()
    )
    with django_capture_on_commit_callbacks(execute=True):
        incidents.incident_post_update(
            incident=incident, status="identified", body="Found it.", actor=actor
        )
    delivery = Delivery.objects.get(subscriber__email="ada@example.com")
    assert delivery.status == DeliveryStatus.SENT, delivery.last_error
    assert delivery.attempts == 1
    (mail,) = smtp.to("ada@example.com")
    subject = str(mail.message["Subject"]).strip()
    assert subject == "[Heliograph] Incident: Runs not starting now – Identified"


def test_a_broken_channel_with_a_newline_in_its_stored_name_still_alerts_staff(
    catalogue, actor, smtp, django_user_model
):
    staff = django_user_model.objects.create_user("ic", "ic@example.com", "pw-ic-12345")
    staff.is_staff = True
    staff.save()
    channel = services.channel_create(
        kind="webhook", name="Ops hook", url="https://hooks.example.com/x", actor=actor
    )
    Channel.objects.filter(pk=channel.pk).update(name="Ops\nhook")
    assert services.staff_alert_send(channel_id=channel.pk, error="410 Gone") == 1
    (mail,) = smtp.to("ic@example.com")
    assert mail.message["Subject"].strip() == "[Heliograph] Notification channel broken: Ops hook"
