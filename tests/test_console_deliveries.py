"""Issue 12: after declare or update, the incident's console page says what each update sent
to whom (counts per medium), and marks the line live while deliveries are on the way."""

from __future__ import annotations

import re

from django.contrib.auth.models import Permission

from incidents.models import Incident
from notifier.models import Delivery
from notifier.services import subscriber_add_confirmed
from statuspage.services import Actor


def _login(client, django_user_model):
    user = django_user_model.objects.create_user("ic", "ic@example.com", "pw-ic-sent-1")
    user.is_staff = True
    user.save()
    user.user_permissions.add(Permission.objects.get(codename="run_console"))
    client.force_login(user)


def test_the_timeline_says_what_each_update_sent_to_whom(client, django_user_model, catalogue):
    _login(client, django_user_model)
    for n in range(2):
        subscriber_add_confirmed(email=f"reader{n}@example.com", actor=Actor.system("test"))
    response = client.post(
        "/console/declare/",
        {
            "name": "Runs not starting",
            "impact": "",
            "status": "investigating",
            "body": "Looking into it.",
            "notify": "on",
            f"c_{catalogue['runs_us'].public_id}": "major_outage",
        },
        follow=True,
    )
    incident = Incident.objects.get(name="Runs not starting")
    update = incident.updates.get()
    assert Delivery.objects.filter(update=update).count() == 2
    html = response.content.decode()
    line = re.search(
        rf'<p class="sent" data-deliveries="{update.public_id}"[^>]*>.*?</p>', html, re.S
    ).group(0)
    # Not sent yet (the workers run after commit): 0 of 2 emails, 2 on the way, live.
    assert "data-deliveries-live" in line
    assert re.search(r"Email 0/2", line) and "2 on the way" in line
    assert f"/console/notifications/updates/{update.public_id}/" in line

    Delivery.objects.filter(update=update).update(status="sent")
    html = client.get(f"/console/incidents/{incident.public_id}/").content.decode()
    line = re.search(r'<p class="sent"[^>]*>.*?</p>', html, re.S).group(0)
    assert "Email 2/2" in line and "data-deliveries-live" not in line


def test_an_update_posted_without_notifying_says_so(client, django_user_model, catalogue):
    _login(client, django_user_model)
    client.post(
        "/console/declare/",
        {"name": "Quiet one", "impact": "minor", "status": "investigating", "body": "x"},
    )
    incident = Incident.objects.get(name="Quiet one")
    html = client.get(f"/console/incidents/{incident.public_id}/").content.decode()
    assert "Not notified (posted without notifying)." in html
