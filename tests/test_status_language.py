"""Issue 12, finding 1: the banner, the incident badge and the matrix speak one status language.

A commander who declares from the console without touching the impact gets the impact of the
worst component status they set (no more "Major" for a degraded-only incident, which turned
the banner orange); the public page words an incident's impact like the matrix words a
component ("Major outage" for a critical incident beside a component in major outage); and
the banner says in a sentence what causes it, never a raw indicator ("Overall status: none").
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Permission

from incidents.models import Incident
from statuspage.public.snapshot import snapshot_publish


@pytest.fixture
def commander_client(client, django_user_model):
    user = django_user_model.objects.create_user("ic", "ic@example.com", "pw-ic-language-1")
    user.is_staff = True
    user.save()
    user.user_permissions.add(Permission.objects.get(codename="run_console"))
    client.force_login(user)
    return client


@pytest.fixture
def published(settings, tmp_path):
    settings.SNAPSHOT_DIR = tmp_path / "snapshot"


def _default_impact(html: str) -> str:
    """The impact the declare form submits when the commander does not touch it."""
    select = re.search(r'<select name="impact"[^>]*>(.*?)</select>', html, re.S).group(1)
    chosen = re.search(r'<option value="([^"]*)"[^>]*selected', select)
    return chosen.group(1) if chosen else re.search(r'<option value="([^"]*)"', select).group(1)


def _declare(client, name: str, statuses: dict) -> Incident:
    form = client.get("/console/declare/").content.decode()
    data = {
        "name": name,
        "impact": _default_impact(form),
        "status": "investigating",
        "body": "We are looking into it.",
        "notify": "on",
        **{f"c_{component.public_id}": status for component, status in statuses.items()},
    }
    response = client.post("/console/declare/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    snapshot_publish()
    return Incident.objects.get(name=name)


def _banner(html: str) -> str:
    return re.search(r'<section class="banner[^"]*".*?</section>', html, re.S).group(0)


def test_a_degraded_only_incident_is_not_an_orange_partial_outage(
    commander_client, catalogue, published, client
):
    incident = _declare(
        commander_client, "Runs slow to start", {catalogue["runs_us"]: "degraded_performance"}
    )
    assert incident.impact == "minor"
    html = client.get("/").content.decode()
    banner = _banner(html)
    assert "b-minor" in banner and "b-major" not in banner
    assert "Partially Degraded Service" in banner
    assert "Partial System Outage" not in html
    # The incident's badge uses the matrix's word for degraded performance.
    assert "Impact: Degraded performance" in html


def test_one_global_component_in_major_outage_reads_the_same_everywhere(
    commander_client, catalogue, published, client
):
    incident = _declare(commander_client, "API down", {catalogue["api_global"]: "major_outage"})
    assert incident.impact == "critical"
    html = client.get("/").content.decode()
    banner = _banner(html)
    assert "b-critical" in banner and "Major System Outage" in banner
    assert "API has a major outage." in banner
    # Badge, matrix cell and legend: one word for the level, no "Major impact" beside red.
    assert "Impact: Major outage" in html and "Major impact" not in html
    row = re.search(r"<tr[^>]*>\s*<th scope=\"row\"><span class=\"sname\">API.*?</tr>", html, re.S)
    assert "Major outage" in row.group(0)
    page = client.get(f"/incidents/{incident.public_id}").content.decode()
    assert "Impact: Major outage" in page


def test_the_banner_says_what_causes_it_never_a_raw_indicator(catalogue, actor, published, client):
    snapshot_publish()
    banner = _banner(client.get("/").content.decode())
    assert "Overall status" not in banner and "<strong>none</strong>" not in banner
    assert "Every component is operational." in banner


def test_an_update_that_makes_things_worse_raises_the_impact(
    commander_client, catalogue, published, client
):
    incident = _declare(
        commander_client, "Slow then down", {catalogue["runs_us"]: "degraded_performance"}
    )
    assert incident.impact == "minor"
    form = commander_client.get(f"/console/incidents/{incident.public_id}/").content.decode()
    seen = re.search(r'name="seen" value="([^"]*)"', form).group(1)
    response = commander_client.post(
        f"/console/incidents/{incident.public_id}/update/",
        {
            "status": "identified",
            "impact": _default_impact(form),
            "body": "Down now.",
            "seen": seen,
            f"c_{catalogue['runs_us'].public_id}": "major_outage",
        },
    )
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.impact == "critical"
    # Recovering does not lower it: the commander decides that.
    form = commander_client.get(f"/console/incidents/{incident.public_id}/").content.decode()
    commander_client.post(
        f"/console/incidents/{incident.public_id}/update/",
        {
            "status": "monitoring",
            "impact": "",
            "body": "Recovering.",
            "seen": re.search(r'name="seen" value="([^"]*)"', form).group(1),
            f"c_{catalogue['runs_us'].public_id}": "degraded_performance",
        },
    )
    incident.refresh_from_db()
    assert incident.impact == "critical"
