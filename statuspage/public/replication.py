"""Web nodes without a shared disk.

Any number of web processes, on any number of hosts, share only the database (and Redis when
set). Whoever commits a change publishes the snapshot into its own host's `SNAPSHOT_DIR` and
stores it in the database as a release (`SnapshotRelease` + the `SnapshotBlob` bodies it
lacks, `statuspage.public.services.snapshot_release_store`).

Every web host runs one copier: a thread, started on the first public request by a process
that serves requests (`statuspage/conf/wsgi.py` enables it), that asks the database every
0.2 s for the newest release (one indexed row) and, when it is newer than the host's own
snapshot, copies it: the missing blobs first, the manifest last, under the host's publish
lock, then writes the host's directory targets. The host's other processes see the new
manifest within 0.2 s (`SnapshotStore.recheck_every`). So every node serves a commit within
about half a second of its publish, and the request path never touches the database: with
PostgreSQL and Redis both down, each node keeps serving its last copy (marked stale after
`HELIOGRAPH_SNAPSHOT_STALE_AFTER`), and the copier catches up when the database is back.

One copier per host: the processes of a host share its snapshot directory, and the one that
holds the directory's `.copier.lock` copies; the others try to take it over every few seconds
(so a copier that died is replaced).
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import json
import logging
import os
import threading
import time
from pathlib import Path

from django.db import close_old_connections, connection

from statuspage.public import snapshot, targets
from statuspage.public.models import SnapshotBlob, SnapshotRelease
from statuspage.public.services import IN_CHUNK

log = logging.getLogger(__name__)

SYNC_EVERY = 0.2  # seconds between two looks at the newest release
TAKEOVER_EVERY = 3.0  # seconds between two tries of a host's non-copying processes
RETRY_DIRECTORIES_EVERY = 30.0  # seconds between two retries of a failed directory target
ERROR_LOG_EVERY = 60.0  # log a copier failure (database down) at most this often

_enabled = False
_started_in: int | None = None  # the pid whose copier runs (a fork has none)
_start_lock = threading.Lock()


def sync_enable() -> None:
    """Copy other hosts' releases in this process (once it serves its first request)."""
    global _enabled
    _enabled = True


def ensure_started() -> None:
    """Start this process's copier if enabled and not running (cheap: called per request)."""
    global _started_in
    if not _enabled or _started_in == os.getpid():
        return
    with _start_lock:
        if _started_in == os.getpid():
            return
        _started_in = os.getpid()
        threading.Thread(target=_copier, name="snapshot-copier", daemon=True).start()


def sync_once() -> bool:
    """Copy the newest release into this host's snapshot if it is newer than the host's own.
    Returns whether it did. Raises the database's errors."""
    directory = snapshot.snapshot_dir()
    head = SnapshotRelease.objects.values_list("id", "generated_at").first()
    if head is None:
        return False
    local = snapshot.read_manifest(directory)
    if local is not None and local["generated_at"] >= head[1]:
        return False
    release = SnapshotRelease.objects.filter(pk=head[0]).first()
    if release is None:  # pruned by a newer publish: the next look takes that one
        return False
    manifest = json.loads(release.manifest)
    if not _blobs_fetch(directory, manifest):
        return False
    with snapshot.publish_lock(directory):
        local = snapshot.read_manifest(directory)
        if local is not None and local["generated_at"] >= manifest["generated_at"]:
            return False  # this host published something newer meanwhile
        snapshot.manifest_install(directory, manifest, json.loads(release.failures))
        snapshot.export_directories(directory, manifest)
    return True


def _blobs_fetch(directory: Path, manifest: dict) -> bool:
    """Write the blobs of `manifest` this host lacks (and their .gz); False if the database
    no longer has one (a newer release replaced it)."""
    blobs = directory / snapshot.BLOBS
    blobs.mkdir(parents=True, exist_ok=True)
    gzipped = {}
    for entry in manifest["documents"].values():
        gzipped[entry["sha256"]] = gzipped.get(entry["sha256"], False) or entry.get("gzip")
    missing = [
        digest
        for digest, gz in gzipped.items()
        if not (blobs / digest).exists() or (gz and not (blobs / f"{digest}.gz").exists())
    ]
    for start in range(0, len(missing), IN_CHUNK):
        chunk = missing[start : start + IN_CHUNK]
        for digest, body in SnapshotBlob.objects.filter(sha256__in=chunk).values_list(
            "sha256", "body"
        ):
            body = bytes(body)
            snapshot.atomic_write(blobs / digest, body)
            if gzipped[digest]:
                snapshot.atomic_write(blobs / f"{digest}.gz", gzip.compress(body, 6, mtime=0))
    return all((blobs / digest).exists() for digest in missing)


def _copier() -> None:
    """The copier thread: see the module docstring. Never raises."""
    held: tuple[Path, object] | None = None
    last_error = -ERROR_LOG_EVERY
    last_retry = time.monotonic()
    while True:
        directory = snapshot.snapshot_dir()
        if held is None or held[0] != directory:
            if held is not None:
                held[1].close()
            held = _take(directory)
            if held is None:
                time.sleep(TAKEOVER_EVERY)
                continue
        time.sleep(SYNC_EVERY)
        try:
            close_old_connections()
            sync_once()
            if targets.directories_failed() and time.monotonic() - last_retry > (
                RETRY_DIRECTORIES_EVERY
            ):
                last_retry = time.monotonic()
                _retry_directories(directory)
        except Exception:
            if time.monotonic() - last_error > ERROR_LOG_EVERY:
                last_error = time.monotonic()
                log.exception("could not copy the newest snapshot; serving this host's copy")
            with contextlib.suppress(Exception):
                connection.close()


def _take(directory: Path) -> tuple[Path, object] | None:
    """The host's copier lock for `directory`, or None while another process holds it."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        handle = open(directory / ".copier.lock", "a+b")  # noqa: SIM115 - held for the thread's life
    except OSError:
        return None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return directory, handle


def _retry_directories(directory: Path) -> None:
    """Write this host's directory targets again after one failed (a full disk, …)."""
    with snapshot.publish_lock(directory):
        manifest = snapshot.read_manifest(directory)
        if manifest is not None:
            snapshot.export_directories(directory, manifest)
