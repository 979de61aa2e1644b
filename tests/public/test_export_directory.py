"""The static export to a directory (`file:///…` in HELIOGRAPH_PUBLISH_TARGETS): the same bytes
the app serves at every public path, swapped in atomically, old files cleaned up, a new
incident in the tree within 1 s of its commit, and a target that fails shown on the
dashboard without holding up the others."""

from __future__ import annotations

import gzip
import os
import threading
import time

import pytest
from django.contrib.auth.models import Permission
from django.contrib.staticfiles import finders

from incidents.services import incident_declare, incident_delete
from statuspage.public.models import PublishTarget
from statuspage.public.snapshot import read_manifest, snapshot_publish
from statuspage.public.tree import file_path
from statuspage.public.urls import DOCUMENTS


@pytest.fixture
def site(settings, tmp_path):
    settings.SNAPSHOT_DIR = tmp_path / "snapshot"
    settings.PUBLISH_TARGETS = [f"file://{tmp_path / 'site'}"]
    return tmp_path / "site"


@pytest.fixture
def declared(catalogue, actor):
    return incident_declare(
        name="Runs not starting",
        body="Investigating **now**.",
        actor=actor,
        impact="critical",
        component_statuses={catalogue["runs_us"]: "major_outage"},
    )


@pytest.mark.django_db
def test_the_tree_has_the_bytes_the_app_serves_at_every_public_path(client, site, declared):
    snapshot_publish()
    manifest = read_manifest()
    paths = set(manifest["documents"])
    # Every public document, each incident page and each component's badge.
    assert set(DOCUMENTS) | {f"/incidents/{declared.public_id}"} <= paths
    assert any(p.startswith("/badge/") for p in paths)
    for path in sorted(paths):
        response = client.get(path)
        assert response.status_code == 200, path
        on_disk = site / file_path(path)
        assert on_disk.read_bytes() == response.content, path
        assert int(on_disk.stat().st_mtime) == manifest["documents"][path]["last_modified"]
        compressed = on_disk.with_name(on_disk.name + ".gz")
        if manifest["documents"][path]["gzip"]:
            assert gzip.decompress(compressed.read_bytes()) == response.content, path
            served = client.get(path, HTTP_ACCEPT_ENCODING="gzip")
            assert served["Content-Encoding"] == "gzip"
            assert compressed.read_bytes() == served.content, path
    assert (site / "index.html").exists() and (site / "history" / "index.html").exists()
    assert (site / "incidents" / declared.public_id / "index.html").exists()
    assert (site / "api" / "v2" / "summary.json").exists()
    assert (site / "badge.svg").exists() and (site / "embed.html").exists()

    # The static files the pages use, at the URLs the pages name.
    index = (site / "index.html").read_text()
    for name in ("statuspage/public.css", "statuspage/live.js", "statuspage/icons/favicon.svg"):
        assert f"/static/{name}" in index or name == "statuspage/icons/favicon.svg"
        assert (site / "static" / name).read_bytes() == open(finders.find(name), "rb").read()
    assert (site / "static" / "statuspage" / "public.css.gz").exists()


@pytest.mark.django_db(transaction=True)
def test_a_declared_incident_is_in_the_tree_within_a_second_of_its_commit(site, catalogue, actor):
    snapshot_publish()
    assert b"Cache warming stalled" not in (site / "api/v2/summary.json").read_bytes()
    started = time.monotonic()
    incident = incident_declare(
        name="Cache warming stalled",
        body="Investigating.",
        actor=actor,
        impact="minor",
        component_statuses={catalogue["api_global"]: "degraded_performance"},
    )
    while time.monotonic() - started < 5:
        summary = (site / "api/v2/summary.json").read_bytes()
        if b"Cache warming stalled" in summary:
            break
        time.sleep(0.01)
    elapsed = time.monotonic() - started
    assert elapsed <= 1.0, elapsed
    assert "Cache warming stalled" in (site / "index.html").read_text()
    assert (site / "incidents" / incident.public_id / "index.html").exists()


@pytest.mark.django_db
def test_the_site_is_swapped_atomically_and_old_files_are_removed(site, declared, actor):
    snapshot_publish()
    assert site.is_symlink()
    first_tree = site.resolve()
    incident_delete(incident=declared, actor=actor)
    snapshot_publish()
    assert site.resolve() != first_tree
    assert not (site / "incidents" / declared.public_id).exists()
    # Only the new tree and the one before it (a reader may still be in it) are kept.
    trees = sorted(p.name for p in site.parent.glob(".site.tree-*"))
    assert len(trees) == 2
    snapshot_publish()
    assert not first_tree.exists()
    assert len(list(site.parent.glob(".site.tree-*"))) == 2
    # Unchanged files are hard links into the previous tree, not copies.
    css = site / "static" / "statuspage" / "public.css"
    assert os.stat(css).st_nlink >= 2


@pytest.mark.django_db
def test_a_reader_never_sees_a_half_written_site(site, catalogue, actor):
    snapshot_publish()
    stop = threading.Event()
    problems: list[str] = []

    def read() -> None:
        while not stop.is_set():
            for name in ("index.html", "api/v2/summary.json", "history/index.html"):
                try:
                    body = (site / name).read_bytes()
                except OSError as exc:
                    problems.append(f"{name}: {exc}")
                    continue
                if not body.rstrip().endswith((b"</html>", b"}")):
                    problems.append(f"{name}: truncated")

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for n in range(8):
            incident_declare(name=f"Blip {n}", body="x", actor=actor)
            snapshot_publish()
    finally:
        stop.set()
        reader.join()
    assert problems == []
    assert "Blip 7" in (site / "index.html").read_text()


@pytest.mark.django_db
def test_a_failing_directory_is_shown_on_the_dashboard_and_does_not_stop_the_others(
    client, settings, tmp_path, catalogue, staff_user
):
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "someone-elses.txt").write_text("not ours")
    settings.PUBLISH_TARGETS = [f"file://{taken}", f"file://{tmp_path / 'site'}"]
    settings.SNAPSHOT_DIR = tmp_path / "snapshot"
    snapshot_publish()
    assert (tmp_path / "site" / "index.html").exists()  # the other target was written
    assert (taken / "someone-elses.txt").read_text() == "not ours"
    row = PublishTarget.objects.get(target=f"file://{taken}")
    assert row.failing_since is not None and "not a Heliograph site" in row.error
    staff_user.user_permissions.add(Permission.objects.get(codename="run_console"))
    client.force_login(staff_user)
    dashboard = client.get("/console/").content.decode()
    assert "publish-target-failures" in dashboard and str(taken) in dashboard

    # Fixed: the next export clears it, and the banner goes.
    (taken / "someone-elses.txt").unlink()
    snapshot_publish()
    row.refresh_from_db()
    assert row.failing_since is None and (taken / "index.html").exists()
    assert "publish-target-failures" not in client.get("/console/").content.decode()
