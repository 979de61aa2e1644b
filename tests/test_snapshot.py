"""Publishing the snapshot and serving it when things break.

The database outage is real: the connection is closed and pointed at a closed port
(PostgreSQL) or an unopenable file (SQLite), so every new connection fails.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import time
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import OperationalError, connection
from django.test.signals import template_rendered

from incidents.services import (
    incident_declare,
    incident_delete,
    incident_post_update,
    incident_update_edit,
)
from statuspage.public import snapshot
from statuspage.public.snapshot import read_manifest, snapshot_publish, snapshot_publish_safely
from statuspage.public.tasks import snapshot_refresh


@pytest.fixture(autouse=True)
def snapshot_dir(settings, tmp_path):
    settings.SNAPSHOT_DIR = tmp_path / "snapshot"
    return settings.SNAPSHOT_DIR


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def database_unreachable(tmp_path):
    """Make every new database connection fail, for real, and restore it afterwards."""
    saved = dict(connection.settings_dict)
    raw = None
    if connection.vendor == "sqlite":
        # The in-memory test database lives as long as its connection: keep it aside.
        raw, connection.connection = connection.connection, None
        connection.settings_dict["NAME"] = str(tmp_path / "no-such-dir" / "db.sqlite3")
    else:
        connection.close()
        connection.settings_dict["HOST"] = "127.0.0.1"
        connection.settings_dict["PORT"] = str(closed_port())
    try:
        yield
    finally:
        if connection.vendor == "sqlite":
            connection.connection = None
            connection.settings_dict.clear()
            connection.settings_dict.update(saved)
            connection.connection = raw
        else:
            connection.close()
            connection.settings_dict.clear()
            connection.settings_dict.update(saved)
        connection.errors_occurred = False


def rendered_templates():
    names: list[str] = []

    def record(sender, template, context, **kwargs):
        names.append(template.name)

    template_rendered.connect(record)
    return names, lambda: template_rendered.disconnect(record)


@pytest.mark.django_db(transaction=True)
def test_change_through_services_is_published_after_commit(client, catalogue, actor):
    snapshot_publish()
    assert client.get("/api/v2/incidents/unresolved.json").json()["incidents"] == []

    incident = incident_declare(
        name="Runs not starting",
        body="Investigating.",
        actor=actor,
        impact="critical",
        component_statuses={catalogue["runs_us"]: "major_outage"},
    )

    # No explicit publish: the service's after-commit hook did it.
    data = client.get("/api/v2/incidents/unresolved.json").json()
    assert [i["id"] for i in data["incidents"]] == [incident.public_id]
    page = client.get("/").content.decode()
    assert "Runs not starting" in page and "Major System Outage" in page
    assert client.get(f"/incidents/{incident.public_id}").status_code == 200


def test_publish_waits_for_commit(client, catalogue, actor, django_capture_on_commit_callbacks):
    snapshot_publish()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        incident_declare(name="Not yet", body="x", actor=actor)
        assert client.get("/api/v2/incidents/unresolved.json").json()["incidents"] == []
    assert len(callbacks) >= 1
    for callback in callbacks:
        callback()
    names = [i["name"] for i in client.get("/api/v2/incidents/unresolved.json").json()["incidents"]]
    assert names == ["Not yet"]
    assert sum(1 for c in callbacks if c.__name__ == "_drain") >= 1


def test_only_changed_incident_pages_are_rendered(catalogue, actor):
    first = incident_declare(name="First", body="one", actor=actor)
    second = incident_declare(name="Second", body="two", actor=actor)
    snapshot_publish(full=True)
    before = read_manifest()["documents"]

    incident_post_update(incident=second, status="identified", body="found", actor=actor)
    names, stop = rendered_templates()
    try:
        snapshot_publish()
    finally:
        stop()
    # Only "Second", once per rendering (English without prefix, then each language).
    assert names.count("public/incident.html") == len(snapshot.RENDERINGS)
    after = read_manifest()["documents"]
    assert after[f"/incidents/{first.public_id}"] == before[f"/incidents/{first.public_id}"]
    assert after[f"/incidents/{second.public_id}"] != before[f"/incidents/{second.public_id}"]

    # Editing the text of an update (the incident row itself is untouched) re-renders it too.
    update = first.updates.get()
    incident_update_edit(update=update, actor=actor, body="one, corrected")
    names, stop = rendered_templates()
    try:
        snapshot_publish()
        assert names.count("public/incident.html") == len(snapshot.RENDERINGS)
        snapshot_publish(full=True)
        # A full refresh renders all (both incidents, in every rendering).
        assert names.count("public/incident.html") == 3 * len(snapshot.RENDERINGS)
    finally:
        stop()


def test_deleted_incident_disappears(client, catalogue, actor):
    incident = incident_declare(name="Declared by mistake", body="oops", actor=actor)
    snapshot_publish()
    assert client.get(f"/incidents/{incident.public_id}").status_code == 200
    public_id = incident.public_id
    incident_delete(incident=incident, actor=actor)
    snapshot_publish()
    assert client.get(f"/incidents/{public_id}").status_code == 404


def test_storage_is_content_addressed_and_cleaned(catalogue, actor, snapshot_dir):
    snapshot_publish()
    first = read_manifest()
    change = incident_declare(name="Change", body="x", actor=actor)
    snapshot_publish()
    second = read_manifest()
    incident_declare(name="Another", body="y", actor=actor)
    snapshot_publish()
    third = read_manifest()
    blobs = {p.name.split(".")[0] for p in (snapshot_dir / "blobs").iterdir()}
    referenced = {e["sha256"] for m in (second, third) for e in m["documents"].values()}
    assert blobs == referenced  # this and the previous generation, nothing else
    only_first = {e["sha256"] for e in first["documents"].values()} - referenced
    assert only_first and not (only_first & blobs)
    assert not [p for p in snapshot_dir.rglob(".tmp-*")]
    # An unchanged document keeps its entry (and so its Last-Modified) across publishes.
    path = f"/incidents/{change.public_id}"
    assert third["documents"][path] == second["documents"][path]


@pytest.mark.django_db(transaction=True)
def test_database_down_serves_last_snapshot_marked_stale(client, catalogue, actor, tmp_path):
    incident_declare(
        name="Runs not starting",
        body="Investigating.",
        actor=actor,
        impact="critical",
        component_statuses={catalogue["runs_us"]: "major_outage"},
    )
    fresh = client.get("/")
    assert fresh.status_code == 200
    assert "may be out of date" not in fresh.content.decode()
    generated_at = read_manifest()["generated_at"]

    with database_unreachable(tmp_path):
        with pytest.raises(OperationalError):
            snapshot_publish()  # what beat's refresh runs: it fails for real
        snapshot_publish_safely()  # the after-commit path logs instead of raising

        page = client.get("/")
        assert page.status_code == 200
        html = page.content.decode()
        assert "This page may be out of date." in html
        assert "Runs not starting" in html  # the last snapshot, still there
        assert page["X-Snapshot-Stale"] == "true"
        assert page["ETag"] != fresh["ETag"]
        # A browser holding the fresh copy gets the stale one (with its banner), not a 304.
        assert client.get("/", HTTP_IF_NONE_MATCH=fresh["ETag"]).status_code == 200
        assert client.get("/", HTTP_IF_MODIFIED_SINCE=fresh["Last-Modified"]).status_code == 200
        assert client.get("/", HTTP_IF_NONE_MATCH=page["ETag"]).status_code == 304
        summary = client.get("/api/v2/summary.json")
        assert summary.status_code == 200
        assert summary["X-Snapshot-Stale"] == "true"
        assert summary.json()["incidents"][0]["name"] == "Runs not starting"
        incident_page = client.get(
            summary.json()["incidents"][0]["shortlink"].removeprefix("http://testserver")
        )
        assert incident_page.status_code == 200
        assert "may be out of date" in incident_page.content.decode()
        gzipped = client.get("/", HTTP_ACCEPT_ENCODING="gzip")
        assert gzipped.status_code == 200 and gzipped["Content-Encoding"] == "gzip"
        assert read_manifest()["generated_at"] == generated_at
        state = json.loads((snapshot.snapshot_dir() / "state.json").read_text())
        assert "OperationalError" in state["error"]

    # The database is back: the next publish clears the marker.
    snapshot_publish()
    recovered = client.get("/")
    assert "may be out of date" not in recovered.content.decode()
    assert "X-Snapshot-Stale" not in recovered


@pytest.mark.django_db(transaction=True)
def test_no_snapshot_and_no_database_is_a_short_503(client, catalogue, tmp_path, settings):
    settings.SNAPSHOT_DIR = tmp_path / "never-published"  # the catalogue's publish went elsewhere
    with database_unreachable(tmp_path):
        response = client.get("/")
        assert response.status_code == 503
        assert response["Content-Type"] == "text/plain; charset=utf-8"
        assert b"not available yet" in response.content
        assert response["Retry-After"] == "30"
        assert client.get("/api/v2/summary.json").status_code == 503


def test_missing_snapshot_is_built_on_first_request(client, catalogue, snapshot_dir):
    assert read_manifest() is None
    response = client.get("/api/v2/components.json")
    assert response.status_code == 200
    assert len(response.json()["components"]) == 4
    assert (snapshot_dir / "manifest.json").exists()


def test_old_snapshot_is_marked_stale(client, catalogue, settings):
    snapshot_publish()
    assert "X-Snapshot-Stale" not in client.get("/")
    settings.SNAPSHOT_STALE_AFTER = 0  # beat has not refreshed it in time
    response = client.get("/")
    assert response.status_code == 200
    assert response["X-Snapshot-Stale"] == "true"
    assert "This page may be out of date." in response.content.decode()


def test_command_and_beat_task_publish(catalogue, snapshot_dir):
    out = StringIO()
    call_command("snapshot_publish", "--full", stdout=out)
    # 12 pages, feeds and JSON documents, snapshot.json, badge.svg, embed.html,
    # maintenance.ics, and a badge and a maintenance calendar for each of the catalogue's 4
    # components and groups: 24; and the page, history and embed.html in the 6 languages under
    # their prefix: 18 more.
    assert "Published 42 documents" in out.getvalue()
    first = read_manifest()["generated_at"]
    snapshot_refresh()
    assert read_manifest()["generated_at"] > first


def test_a_publish_by_another_process_is_picked_up_within_a_second(
    client, catalogue, actor, settings, tmp_path
):
    """Another process (a worker, beat) replaces the files; this process's cache notices by
    re-checking the manifest at most once a second, without being told."""
    snapshot_publish()
    first = client.get("/api/v2/incidents/unresolved.json")
    assert first.json()["incidents"] == []

    # "The other process": publish into a second folder, then move its files into ours.
    ours = settings.SNAPSHOT_DIR
    settings.SNAPSHOT_DIR = tmp_path / "elsewhere"
    incident_declare(name="Seen by the other process", body="x", actor=actor)
    snapshot_publish()
    settings.SNAPSHOT_DIR = ours
    assert client.get("/api/v2/incidents/unresolved.json").json()["incidents"] == []
    for blob in (tmp_path / "elsewhere" / "blobs").iterdir():
        shutil.copy(blob, ours / "blobs" / blob.name)
    os.replace(tmp_path / "elsewhere" / "manifest.json", ours / "manifest.json")

    deadline = time.monotonic() + 3
    names: list[str] = []
    while time.monotonic() < deadline and not names:
        names = [
            i["name"] for i in client.get("/api/v2/incidents/unresolved.json").json()["incidents"]
        ]
        time.sleep(0.05)
    assert names == ["Seen by the other process"]
