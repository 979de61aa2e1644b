"""After-commit publishes coalesce: a request never waits for another process's render, and
a change committed during someone else's render is still published."""

from __future__ import annotations

import fcntl
import threading

import pytest

from incidents.services import incident_declare
from statuspage.public.snapshot import (
    DIRTY,
    read_manifest,
    snapshot_publish,
    snapshot_publish_safely,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def snapshot_dir(settings, tmp_path):
    settings.SNAPSHOT_DIR = tmp_path / "snapshot"
    return settings.SNAPSHOT_DIR


def test_a_publish_during_another_returns_at_once_and_leaves_a_note(catalogue, snapshot_dir):
    snapshot_publish()
    before = read_manifest()["generated_at"]
    with open(snapshot_dir / ".lock", "a+b") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # another process is publishing
        worker = threading.Thread(target=snapshot_publish_safely)
        worker.start()
        worker.join(timeout=5)
        assert not worker.is_alive(), "the after-commit publish waited for the lock"
        assert (snapshot_dir / DIRTY).exists()
        assert read_manifest()["generated_at"] == before
        fcntl.flock(held, fcntl.LOCK_UN)


def test_the_note_makes_the_next_publisher_render_the_change(
    catalogue, actor, snapshot_dir, django_capture_on_commit_callbacks
):
    snapshot_publish()
    # A change commits while the lock is held elsewhere: its after-commit publish only
    # leaves the note.
    with open(snapshot_dir / ".lock", "a+b") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            incident = incident_declare(name="etcd lost quorum", body="Investigating.", actor=actor)
        fcntl.flock(held, fcntl.LOCK_UN)
    assert callbacks, "the declaration registers its publish after commit"
    assert (snapshot_dir / DIRTY).exists()
    assert f"/incidents/{incident.public_id}" not in read_manifest()["documents"]
    snapshot_publish_safely()  # the holder, once done, sees the note and renders again
    assert f"/incidents/{incident.public_id}" in read_manifest()["documents"]
    assert not (snapshot_dir / DIRTY).exists()
