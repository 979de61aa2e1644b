"""A bad document can never stop the publish.

Each document is rendered on its own: one that raises keeps its last good version (served
marked stale, alone) or stays absent, the failure is recorded in the snapshot's state and
shown on the console dashboard, and every other document is published. Rows stored by v0.1
with control characters (direct row updates here, as v0.1 could store them) render
everywhere: the feeds drop what XML 1.0 forbids, JSON escapes it, HTML escapes markup.
"""

from __future__ import annotations

import copy
import json
import xml.etree.ElementTree as ET

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone
from test_snapshot import database_unreachable

from incidents.models import Incident, IncidentUpdate
from incidents.services import incident_declare
from statuspage.public import snapshot
from statuspage.public.snapshot import read_state, snapshot_publish, snapshot_publish_safely

BROKEN = "{% if %}"  # a template a bad deploy left behind: TemplateSyntaxError at render


@pytest.fixture(autouse=True)
def snapshot_dir(settings, tmp_path):
    settings.SNAPSHOT_DIR = tmp_path / "snapshot"
    return settings.SNAPSHOT_DIR


@pytest.fixture
def staff_client(django_user_model):
    from django.test import Client

    user = django_user_model.objects.create_user("ic", "ic@example.com", "pw-ic-12345")
    user.is_staff = True
    user.save()
    user.user_permissions.add(Permission.objects.get(codename="run_console"))
    client = Client()
    client.force_login(user)
    return client


def break_templates(settings, broken: dict[str, str]) -> None:
    """Put broken copies of some public templates in front of the real ones."""
    templates = copy.deepcopy(settings.TEMPLATES)
    templates[0]["APP_DIRS"] = False
    templates[0]["OPTIONS"]["loaders"] = [
        ("django.template.loaders.locmem.Loader", broken),
        "django.template.loaders.filesystem.Loader",
        "django.template.loaders.app_directories.Loader",
    ]
    settings.TEMPLATES = templates


def test_a_v01_row_with_control_characters_no_longer_stops_the_publish(
    client, catalogue, actor, django_capture_on_commit_callbacks
):
    old = incident_declare(name="Deploy broke", body="Rolling back.", actor=actor, impact="major")
    snapshot_publish()
    # What v0.1 stored from a paste: terminal colours, a stray ESC, a bell, and some markup.
    Incident.objects.filter(pk=old.pk).update(
        name="Deploy \x1b[31mbroke\x1b <b>now</b>\x07", updated_at=timezone.now()
    )
    IncidentUpdate.objects.filter(incident=old).update(
        body="out \x1b[0m\x0c", body_html="<p>out \x1b[0m\x0c</p>", updated_at=timezone.now()
    )

    with django_capture_on_commit_callbacks(execute=True):  # published after commit
        new = incident_declare(
            name="Runs not starting",
            body="Investigating.",
            actor=actor,
            component_statuses={catalogue["runs_us"]: "major_outage"},
        )

    assert read_state() == {}  # nothing failed
    page = client.get("/")
    html = page.content.decode()
    assert page.status_code == 200 and "X-Snapshot-Stale" not in page
    assert "Runs not starting" in html and "Deploy " in html
    assert "&lt;b&gt;now&lt;/b&gt;" in html and "<b>now</b>" not in html  # escaped
    summary = client.get("/api/v2/summary.json")
    assert summary.status_code == 200 and "X-Snapshot-Stale" not in summary
    assert b"\x1b" not in summary.content and b"\\u001b" in summary.content  # escaped
    names = {i["name"] for i in summary.json()["incidents"]}
    assert names == {"Runs not starting", "Deploy \x1b[31mbroke\x1b <b>now</b>\x07"}
    assert client.get(f"/incidents/{new.public_id}").status_code == 200
    assert client.get(f"/incidents/{old.public_id}").status_code == 200

    for path in ("/history.atom", "/history.rss"):
        feed = client.get(path)
        assert feed.status_code == 200 and "X-Snapshot-Stale" not in feed
        assert not any(byte in feed.content for byte in (b"\x1b", b"\x07", b"\x0c"))
        root = ET.fromstring(feed.content)  # well-formed XML 1.0
        titles = [e.text for e in root.iter() if e.tag.rsplit("}", 1)[-1] == "title"]
        assert "Runs not starting [Investigating]" in titles
        assert "Deploy broke <b>now</b> [Investigating]" in titles


def test_a_document_that_fails_keeps_its_last_version_and_is_on_the_dashboard_until_fixed(
    client, staff_client, catalogue, actor, settings, django_capture_on_commit_callbacks
):
    first = incident_declare(name="First outage", body="One.", actor=actor)
    snapshot_publish()
    history_before = client.get("/history")
    assert "First outage" in history_before.content.decode()
    assert 'id="snapshot-failures"' not in staff_client.get("/console/").content.decode()

    working = copy.deepcopy(settings.TEMPLATES)
    break_templates(settings, {"public/history.html": BROKEN, "public/incident.html": BROKEN})
    with django_capture_on_commit_callbacks(execute=True):  # its publish must not stop
        second = incident_declare(
            name="Second outage",
            body="Two.",
            actor=actor,
            component_statuses={catalogue["runs_eu"]: "partial_outage"},
        )

    # Everything else is published, and is not marked stale.
    page = client.get("/")
    assert "Second outage" in page.content.decode() and "X-Snapshot-Stale" not in page
    unresolved = client.get("/api/v2/incidents/unresolved.json")
    assert {i["name"] for i in unresolved.json()["incidents"]} == {"First outage", "Second outage"}
    assert "X-Snapshot-Stale" not in unresolved
    first_page = client.get(f"/incidents/{first.public_id}")  # unchanged, carried over
    assert first_page.status_code == 200 and "X-Snapshot-Stale" not in first_page
    assert "Second outage" in client.get("/history.atom").content.decode()
    # The failed documents: the last good version, marked stale; absent if never rendered.
    history = client.get("/history")
    assert history.status_code == 200 and history["X-Snapshot-Stale"] == "true"
    assert "This page may be out of date." in history.content.decode()
    assert "Second outage" not in history.content.decode()
    assert history["ETag"] != history_before["ETag"]
    assert client.get(f"/incidents/{second.public_id}").status_code == 404
    state = read_state()
    # The broken templates fail in every rendering (English without prefix, each language).
    assert set(state["documents"]) == {
        lang.path(page)
        for lang in snapshot.RENDERINGS
        for page in ("/history", f"/incidents/{second.public_id}")
    }
    assert "TemplateSyntaxError" in state["documents"]["/history"]["error"]
    assert "last_failure_at" not in state  # the publish itself succeeded
    since = state["documents"]["/history"]["since"]

    dashboard = staff_client.get("/console/").content.decode()
    assert 'id="snapshot-failures"' in dashboard
    # Two pages, in every rendering (English without prefix and each language).
    assert f"{2 * len(snapshot.RENDERINGS)} documents could not be published" in dashboard
    assert "<code>/history</code>" in dashboard
    assert f'href="/console/incidents/{second.public_id}/"' in dashboard
    assert "TemplateSyntaxError" in dashboard

    snapshot_publish()  # still broken: the failure keeps its first time
    assert read_state()["documents"]["/history"]["since"] == since

    settings.TEMPLATES = working  # the fix is deployed
    snapshot_publish()
    assert read_state() == {}
    history = client.get("/history")
    assert "X-Snapshot-Stale" not in history and "Second outage" in history.content.decode()
    assert client.get(f"/incidents/{second.public_id}").status_code == 200
    assert 'id="snapshot-failures"' not in staff_client.get("/console/").content.decode()


@pytest.mark.django_db(transaction=True)
def test_a_failing_publish_is_on_the_dashboard_and_the_page_is_served_stale(
    client, staff_client, catalogue, actor, tmp_path
):
    incident_declare(name="Runs not starting", body="Investigating.", actor=actor)
    snapshot_publish()
    with database_unreachable(tmp_path):
        snapshot_publish_safely()
        assert client.get("/")["X-Snapshot-Stale"] == "true"
    state = read_state()
    assert "OperationalError" in state["error"] and "documents" not in state
    dashboard = staff_client.get("/console/").content.decode()
    assert 'id="publish-failure"' in dashboard
    assert "The public page is not being updated" in dashboard
    snapshot_publish()
    assert 'id="publish-failure"' not in staff_client.get("/console/").content.decode()
    assert "X-Snapshot-Stale" not in client.get("/")


def test_json_documents_stay_valid_with_any_stored_text(client, catalogue, actor):
    incident = incident_declare(name='Tab\tand quote "x"', body="b", actor=actor)
    stored = 'Tab\tand quote "x", \x1b[1mbold\x7f\x08 and a\u2028line'
    Incident.objects.filter(pk=incident.pk).update(name=stored)
    snapshot_publish(full=True)
    assert read_state() == {}
    body = client.get("/api/v2/incidents.json").content
    assert b"\x1b" not in body and b"\x08" not in body
    assert json.loads(body)["incidents"][0]["name"] == stored
