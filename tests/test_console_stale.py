"""Issue 12, finding 3: what a commander typed in a stale tab is never lost.

Tab B shows an incident; meanwhile tab A (or another commander) resolves it or posts another
update. Posting from tab B then posts nothing blind: the page says what happened, links to
it, and gives back the text as typed (posting again sends it, when the incident is open).
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Permission

from incidents import services
from incidents.models import IncidentUpdate

TYPED = "Customers in us-east-1 see **retries** succeed; keep an eye on the queue."


@pytest.fixture
def commander_client(client, django_user_model):
    user = django_user_model.objects.create_user("ic", "ic@example.com", "pw-ic-stale-1")
    user.is_staff = True
    user.save()
    user.user_permissions.add(Permission.objects.get(codename="run_console"))
    client.force_login(user)
    return client


@pytest.fixture
def incident(catalogue, actor):
    return services.incident_declare(
        name="Runs not starting",
        body="Investigating",
        actor=actor,
        impact="critical",
        component_statuses={catalogue["runs_us"]: "major_outage"},
    )


def _seen(client, incident) -> str:
    """What tab B sent along: the last update its page showed."""
    html = client.get(f"/console/incidents/{incident.public_id}/").content.decode()
    return re.search(r'name="seen" value="([^"]*)"', html).group(1)


def _post_update(client, incident, *, seen: str, body: str = TYPED):
    return client.post(
        f"/console/incidents/{incident.public_id}/update/",
        {"status": "monitoring", "impact": "", "body": body, "notify": "on", "seen": seen},
    )


def test_an_update_from_a_tab_opened_before_the_resolve_keeps_the_text(
    commander_client, incident, actor
):
    seen = _seen(commander_client, incident)  # tab B opens the incident
    services.incident_resolve(incident=incident, actor=actor, body="Fixed.")  # tab A resolves
    count = IncidentUpdate.objects.count()

    response = _post_update(commander_client, incident, seen=seen)  # tab B posts

    assert IncidentUpdate.objects.count() == count  # nothing posted blind
    html = response.content.decode()
    notice = re.search(
        r'<div class="notice bad" role="alert" id="stale-notice">.*?</div>', html, re.S
    )
    assert notice, "the page says what happened"
    assert "became resolved" in notice.group(0) and "it takes no more updates" in notice.group(0)
    assert 'href="#timeline-title"' in notice.group(0)  # a link to the new state
    # The typed text comes back, ready to copy.
    assert "retries** succeed" in html and 'id="kept-text"' in html


def test_an_update_after_someone_else_posted_is_shown_first_then_sent(
    commander_client, incident, actor
):
    seen = _seen(commander_client, incident)
    other = services.incident_post_update(
        incident=incident, status="identified", body="etcd lost quorum.", actor=actor
    )
    count = IncidentUpdate.objects.count()

    response = _post_update(commander_client, incident, seen=seen)

    assert response.status_code == 400
    assert IncidentUpdate.objects.count() == count
    html = response.content.decode()
    assert "another update was posted while you were typing" in html
    assert f'href="#update-{other.public_id}"' in html
    # The form comes back as typed, now marked as having seen the newer update.
    assert "retries** succeed" in html
    assert f'name="seen" value="{other.public_id}"' in html

    # Posting it again (the commander read the other update) sends it.
    response = _post_update(commander_client, incident, seen=other.public_id)
    assert response.status_code == 302
    assert IncidentUpdate.objects.filter(incident=incident, body=TYPED).exists()


def test_a_resolve_from_a_stale_tab_keeps_its_message(commander_client, incident, actor):
    services.incident_resolve(incident=incident, actor=actor, body="Fixed.")
    response = commander_client.post(
        f"/console/incidents/{incident.public_id}/resolve/",
        {"body": "All regions are back; the backlog drained.", "notify": "on"},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "it takes no more updates" in html
    assert "All regions are back; the backlog drained." in html


def test_a_form_without_the_seen_field_still_posts(commander_client, incident):
    """API-like clients and older pages (no `seen`): no conflict check, as before."""
    response = commander_client.post(
        f"/console/incidents/{incident.public_id}/update/",
        {"status": "monitoring", "body": TYPED, "notify": "on"},
    )
    assert response.status_code == 302
