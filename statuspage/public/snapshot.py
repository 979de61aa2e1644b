"""The published snapshot: the public page and JSON documents, rendered once per change.

Write side: every service function that changes what the public sees says so
(`statuspage.hooks.public_changed`); once per committed transaction, after the deliveries are
enqueued, `publish_committed` rebuilds. Beat
(`statuspage.public.tasks.snapshot_refresh`) rebuilds periodically so time-dependent parts (today's
uptime, the "last updated" time) stay right, and `manage.py snapshot_publish` rebuilds by hand.

Storage, in `settings.SNAPSHOT_DIR`:
- `blobs/<sha256>` (and `<sha256>.gz`, pre-compressed): document bodies, content-addressed,
  each written to a temporary file and moved into place with `os.replace`;
- `manifest.json`: per public path, its blob, content type, ETag, Last-Modified and the time it
  was rendered; written last (temp + `os.replace`), so a reader sees either the old snapshot
  or the new one, never a mix. Blobs no longer referenced by the new or the previous manifest
  are deleted afterwards;
- `state.json`: what went wrong. `last_failure_at`/`failing_since`/`error`: the last publish
  failed as a whole (e.g. the database was unreachable); while that is newer than the
  manifest, the snapshot is served marked stale. `documents`: per path, a document the last
  publish could not render (`error`, `since`, `last_at`). Each document is rendered on its
  own (`_attempt`): one that raises keeps its last good version in the manifest (or stays
  absent if it never rendered) and only it is served marked stale; every other document is
  published. A database error still fails the whole publish. The console dashboard shows
  both (`console_dashboard`, an `incidents.console` provider). Gone after a clean publish.

Read side: `SnapshotStore` keeps the manifest and bodies in memory and re-checks the manifest
file at most every 0.2 s, so a request costs a dict lookup and no database query. A
document is stale when the last publish failed after it was rendered, when the last publish
could not render that document, or when the snapshot is older than
`settings.SNAPSHOT_STALE_AFTER` seconds (beat or the workers are gone); stale HTML
carries a visible banner ("may be out of date since …"), stale JSON an `X-Snapshot-Stale`
header.
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import hashlib
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.utils import formatdate
from functools import cached_property
from itertools import groupby
from pathlib import Path

from django.conf import settings
from django.db import Error as DbError
from django.db import connection, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import dateformat, feedgenerator, timezone, translation
from django.utils.translation import gettext

from incidents import selectors
from incidents.documents import (
    components_list,
    incidents_for_json,
    incidents_list,
    page_dict,
    status_dict,
)
from incidents.models import Incident, IncidentKind, IncidentStatus
from statuspage import hooks, languages, queues
from statuspage.metrics.selectors import metrics_for_page
from statuspage.models import ComponentStatus
from statuspage.public import calendars, services, targets, tree, uptime
from statuspage.public.models import PublishTarget
from statuspage.public.uptime import UptimeSeries, format_duration, series_sum
from statuspage.selectors import component_matrix, components_for_page, regions_for_page
from statuspage.status import INDICATOR_SEVERITY, status_sentence
from statuspage.text import xml_safe

log = logging.getLogger(__name__)

SNAPSHOT_FORMAT = 1
CACHE_CONTROL = "public, max-age=10, stale-while-revalidate=30, stale-if-error=86400"
FULL_REFRESH_EVERY = 3600  # seconds: a full re-render picks up e.g. renamed components
STALE_MARKER = b"<!--heliograph:stale-->"
MANIFEST = "manifest.json"
DIRTY = ".dirty"  # a change committed while another process was publishing
STATE = "state.json"
BLOBS = "blobs"
GZIP_MIN_SIZE = 512
RECENT_ON_PAGE = 5  # closed incidents and maintenance listed under "Recent history"
PHONE_DAYS = 30  # a phone shows the last 30 day bars, with the figure of those 30 days

# The icon of the banner for each overall indicator (the icons are named after statuses).
OVERALL_ICON = {
    "none": "operational",
    "maintenance": "under_maintenance",
    "minor": "degraded_performance",
    "major": "partial_outage",
    "critical": "major_outage",
}

HTML = "text/html; charset=utf-8"
JSON = "application/json"
ATOM = "application/atom+xml; charset=utf-8"
RSS = "application/rss+xml; charset=utf-8"
SVG = "image/svg+xml; charset=utf-8"
STATUS_LABEL = dict(ComponentStatus.choices)

# The badges' colours: by overall indicator, and by component status.
BADGE_COLOR = {
    "none": "#1f9d55",
    "maintenance": "#3b6fd8",
    "minor": "#b7830a",
    "major": "#d2520b",
    "critical": "#d2222d",
    "operational": "#1f9d55",
    "under_maintenance": "#3b6fd8",
    "degraded_performance": "#b7830a",
    "partial_outage": "#d2520b",
    "major_outage": "#d2222d",
}


# --- Write side --------------------------------------------------------------------------------


def publish_committed(commit: hooks.Commit) -> None:
    """After commit (the `PUBLISH` stage of statuspage.hooks, after the deliveries were
    enqueued): republish once if the transaction changed what the public sees."""
    if commit.public_changed:
        snapshot_publish_safely()


def snapshot_publish_safely() -> None:
    """Publish after a commit, coalescing bursts: if another process is publishing right now,
    leave a note (DIRTY) and return at once; that publisher renders once more when it is done.

    A setter writes the note *before* trying the lock, and a publisher looks for the note
    *after* releasing it, so every change is either published by its own request or seen by
    the publisher that held the lock: nothing is missed, and no request waits for another
    request's render. A failure (database down) is recorded and left to the periodic refresh.
    The buckets are written by a Celery task (`publish_targets_export`), never here: a slow
    bucket must not hold the request that committed.
    """
    directory = snapshot_dir()
    (directory / BLOBS).mkdir(parents=True, exist_ok=True)
    note = directory / DIRTY
    note.touch()
    published = False
    while note.exists():
        with open(directory / ".lock", "a+b") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                break  # the holder will see the note when it is done
            try:
                with contextlib.suppress(FileNotFoundError):
                    note.unlink()
                _publish_locked(directory, full=False)
                published = True
            except Exception:  # the write has committed; a failed render must not undo it
                log.exception("snapshot publish failed; the periodic refresh will retry")
                break
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
    if published:
        _queue_bucket_export()


def snapshot_dir() -> Path:
    return Path(settings.SNAPSHOT_DIR)


def snapshot_publish(*, full: bool = False, buckets: bool = True) -> dict:
    """Render the page and JSON documents and store them for the read path, and write the
    site to the publish targets: this host's directories, then (unless `buckets` is False)
    the buckets, from this process, after the publish lock is released.

    Incident pages are re-rendered only for incidents whose version (see
    `selectors.incident_versions`) changed since the last snapshot, unless `full` is set,
    the templates changed, or the last full render is older than FULL_REFRESH_EVERY.
    A failure (database unreachable, …) is recorded in state.json, which marks the served
    snapshot stale, and re-raised. Returns the new manifest.
    """
    directory = snapshot_dir()
    (directory / BLOBS).mkdir(parents=True, exist_ok=True)
    shared = targets.targets_configured(shared=True) if buckets else []
    with publish_lock(directory):
        manifest = _publish_locked(directory, full=full)
        files = _site_files_or_none(directory, manifest) if shared else None
    if files is not None:
        targets.targets_export(files, shared)
    return manifest


def _publish_locked(directory: Path, *, full: bool) -> dict:
    """The publish itself, and the export to this host's directories; the caller holds the
    publish lock."""
    previous = read_manifest(directory)
    now = timezone.now()
    fingerprint = render_fingerprint()
    full = (
        full
        or previous is None
        or previous.get("fingerprint") != fingerprint
        or now.timestamp() - previous.get("full_at", 0) > FULL_REFRESH_EVERY
    )
    try:
        documents, versions, failures = _render_all(previous=previous, full=full, now=now)
    except Exception as exc:
        state = read_state(directory)
        at = time.time()
        state.update(
            last_failure_at=at,
            failing_since=state.get("failing_since", at),
            error=repr(exc)[:500],
        )
        _write_state(directory, state)
        store.invalidate()
        raise
    manifest = _store(
        directory=directory,
        previous=previous,
        documents=documents,
        versions=versions,
        now=now,
        full=full,
        fingerprint=fingerprint,
    )
    _record_document_failures(directory, failures)
    store.invalidate()
    _release(directory, manifest, failures)
    export_directories(directory, manifest)
    return manifest


def _release(directory: Path, manifest: dict, failures: dict[str, str]) -> None:
    """Store the release in the database, for the web nodes that do not share this host's
    disk (statuspage.public.replication). A failure leaves this host's snapshot published
    and is logged: the next publish stores its own release."""
    try:
        services.snapshot_release_store(
            manifest=manifest,
            failures=failures,
            read_blob=lambda digest: (directory / BLOBS / digest).read_bytes(),
        )
    except DbError:
        log.exception("the snapshot could not be stored for the other web nodes")


def site_files(directory: Path, manifest: dict) -> list[tree.SiteFile]:
    """The static tree of a snapshot of `directory` (statuspage.public.tree)."""
    return tree.site_files(
        manifest,
        lambda name: (directory / BLOBS / name).read_bytes(),
        cache_control=CACHE_CONTROL,
    )


def _site_files_or_none(directory: Path, manifest: dict) -> list[tree.SiteFile] | None:
    try:
        return site_files(directory, manifest)
    except Exception:
        log.exception("the static site could not be assembled")
        return None


def export_directories(directory: Path, manifest: dict) -> dict[str, str]:
    """Write the site of `manifest` to this host's directory targets (under the publish
    lock: an older snapshot never replaces a newer one). Never raises; returns the errors."""
    directories = targets.targets_configured(shared=False)
    if not directories:
        return {}
    files = _site_files_or_none(directory, manifest)
    if files is None:
        return {t.url: "the static site could not be assembled" for t in directories}
    return targets.targets_export(files, directories)


def _queue_bucket_export() -> None:
    """Have a worker write the buckets (`publish_targets_export`). When the broker cannot take
    the task, the buckets are recorded as failing, so beat's retry writes them."""
    shared = targets.targets_configured(shared=True)
    if not shared:
        return
    try:
        queues.task("statuspage.public.tasks.publish_targets_export").delay()
    except Exception as exc:
        log.exception("could not queue the export to the buckets")
        for target in shared:
            targets.target_record(
                target, f"could not queue the export: {type(exc).__name__}: {exc}"[:500]
            )


def publish_targets_export(*, only_failing: bool = False) -> dict[str, str]:
    """Write the newest snapshot to the buckets and this host's directories (all of them, or
    only those recorded as failing): the Celery task after a web request's publish, and
    beat's retry (`only_failing`). Returns the errors by target URL."""
    chosen = targets.targets_configured()
    if only_failing:
        failing = set(
            PublishTarget.objects.filter(
                failing_since__isnull=False, host__in=["", targets.HOST]
            ).values_list("target", "host")
        )
        chosen = [t for t in chosen if (t.url, targets.target_host(t)) in failing]
    if not chosen:
        return {}
    directory = snapshot_dir()
    (directory / BLOBS).mkdir(parents=True, exist_ok=True)
    with publish_lock(directory):
        manifest = read_manifest(directory)
        if manifest is None:
            return {}
        files = site_files(directory, manifest)
        errors = targets.targets_export(files, [t for t in chosen if not t.shared])
    errors.update(targets.targets_export(files, [t for t in chosen if t.shared]))
    return errors


def _record_document_failures(directory: Path, failures: dict[str, str]) -> None:
    """After a publish: state.json keeps only the documents that failed this time (since
    when, and the error), or goes if none did; the publish itself succeeded."""
    before = read_state(directory).get("documents", {})
    at = time.time()
    documents = {
        path: {"error": error, "since": before.get(path, {}).get("since", at), "last_at": at}
        for path, error in sorted(failures.items())
    }
    if documents:
        _write_state(directory, {"documents": documents})
    else:
        with contextlib.suppress(FileNotFoundError):
            (directory / STATE).unlink()


def read_state(directory: Path | None = None) -> dict:
    """What went wrong in the last publish (see the module docstring); {} when nothing did."""
    try:
        state = json.loads(((directory or snapshot_dir()) / STATE).read_bytes())
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


@contextlib.contextmanager
def publish_lock(directory: Path) -> Iterator[None]:
    """One publisher at a time across processes (web after-commit, worker, beat, command)."""
    with open(directory / ".lock", "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def read_manifest(directory: Path | None = None) -> dict | None:
    path = (directory or snapshot_dir()) / MANIFEST
    try:
        manifest = json.loads(path.read_bytes())
    except (FileNotFoundError, ValueError):
        return None
    if manifest.get("format") != SNAPSHOT_FORMAT:
        return None
    return manifest


def atomic_write(path: Path, data: bytes, *, sync: bool = False) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            if sync:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _write_state(directory: Path, state: dict) -> None:
    try:
        atomic_write(directory / STATE, json.dumps(state).encode())
    except OSError:
        log.exception("could not record the failed publish")


def _store(
    *,
    directory: Path,
    previous: dict | None,
    documents: dict[str, tuple[bytes, str]],
    versions: dict[str, str],
    now: datetime,
    full: bool,
    fingerprint: str,
) -> dict:
    blobs = directory / BLOBS
    old_docs = (previous or {}).get("documents", {})
    generated_at = now.timestamp()
    entries: dict[str, dict] = {}
    for path, (body, content_type) in documents.items():
        if isinstance(body, dict):  # carried over unchanged from the previous manifest
            entries[path] = body
            continue
        digest = hashlib.sha256(body).hexdigest()
        old = old_docs.get(path)
        if old and old["sha256"] == digest:
            entries[path] = old
            continue
        if not (blobs / digest).exists():
            atomic_write(blobs / digest, body)
        compressed = False
        if len(body) >= GZIP_MIN_SIZE:
            if not (blobs / f"{digest}.gz").exists():
                atomic_write(blobs / f"{digest}.gz", gzip.compress(body, 6, mtime=0))
            compressed = True
        entries[path] = {
            "sha256": digest,
            "etag": f'"{digest[:32]}"',
            "content_type": content_type,
            "size": len(body),
            "gzip": compressed,
            "last_modified": int(generated_at),
            "generated_at": generated_at,
        }
    manifest = {
        "format": SNAPSHOT_FORMAT,
        "generated_at": generated_at,
        "full_at": generated_at if full else (previous or {}).get("full_at", generated_at),
        "fingerprint": fingerprint,
        "incidents": versions,
        "documents": entries,
    }
    atomic_write(directory / MANIFEST, json.dumps(manifest, indent=1).encode(), sync=True)
    _clean_blobs(directory, entries, old_docs)
    return manifest


def _clean_blobs(directory: Path, entries: dict, old_docs: dict) -> None:
    """Keep the blobs of this and the previous manifest (a reader may still hold the
    previous); delete the others."""
    keep = {e["sha256"] for e in entries.values()} | {e["sha256"] for e in old_docs.values()}
    for blob in (directory / BLOBS).iterdir():
        if blob.name.split(".")[0] not in keep:
            with contextlib.suppress(FileNotFoundError):
                blob.unlink()


def manifest_install(directory: Path, manifest: dict, failures: dict[str, str]) -> None:
    """Make `manifest`, published by another host and copied from the database with its
    blobs (statuspage.public.replication), this host's snapshot: as a publish here would,
    manifest last, then the documents that failed. The caller holds the publish lock."""
    previous = read_manifest(directory)
    atomic_write(directory / MANIFEST, json.dumps(manifest, indent=1).encode(), sync=True)
    _clean_blobs(directory, manifest["documents"], (previous or {}).get("documents", {}))
    _record_document_failures(directory, failures)
    store.invalidate()


_fingerprint: str | None = None


def render_fingerprint() -> str:
    """A hash of what the documents are rendered with (templates, static files and their
    hashed names, the site's name and URL, format), so a deploy that changes them triggers a
    full re-render."""
    global _fingerprint
    if _fingerprint is None:
        digest = hashlib.sha256(str(SNAPSHOT_FORMAT).encode())
        for value in (
            settings.SITE_NAME,
            settings.SITE_URL,
            settings.PAGE_ID,
            settings.STATIC_URL,
            settings.SNAPSHOT_STALE_AFTER,  # the pages' live script reads it
        ):
            digest.update(f"{value}\n".encode())
        base = Path(settings.BASE_DIR)
        roots = [base / "templates" / "public", base / "statuspage" / "static"]
        files = [base / "templates" / "base_public.html"]
        # The header, footer and <head> partials every page includes.
        files.extend(sorted((base / "templates").glob("_*.html")))
        for root in roots:
            files.extend(sorted(p for p in root.rglob("*") if p.is_file()))
        for file in files:
            if file.exists():
                digest.update(file.name.encode())
                digest.update(file.read_bytes())
        _fingerprint = digest.hexdigest()[:16]
    # The hashed static names: collectstatic after a publish must re-render the pages.
    try:
        static_manifest = (Path(settings.STATIC_ROOT) / "staticfiles.json").read_bytes()
    except OSError:
        static_manifest = b""
    return f"{_fingerprint}-{hashlib.sha256(static_manifest).hexdigest()[:8]}"


# --- Rendering ---------------------------------------------------------------------------------


def _json(data: dict) -> tuple[bytes, str]:
    # json escapes every control character; "backslashreplace" writes a lone surrogate (which
    # no database stores, but a str can hold) as its valid JSON escape instead of raising.
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text.encode("utf-8", "backslashreplace"), JSON


Rendered = dict[str, tuple[bytes, str] | tuple[dict, str]]


def _render_all(
    *, previous: dict | None, full: bool, now: datetime
) -> tuple[Rendered, dict[str, str], dict[str, str]]:
    """Read everything in one transaction (a consistent snapshot on PostgreSQL) and render."""
    outer = connection.in_atomic_block
    with transaction.atomic():
        if not outer and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        return _render_all_in_transaction(previous=previous, full=full, now=now)


class _Inputs:
    """What several documents are rendered from, each read once, on first use.

    Lazy so that a part that raises fails only the documents that use it (each of them tries
    it and fails the same way) while the others are still rendered."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    @cached_property
    def components(self) -> list:
        return list(components_for_page())

    @cached_property
    def regions(self) -> list:
        return list(regions_for_page())

    @cached_property
    def open_incidents(self) -> list:
        return list(incidents_for_json(selectors.incidents_open()))

    @cached_property
    def active(self) -> list:
        return list(incidents_for_json(selectors.maintenances_active()))

    @cached_property
    def upcoming(self) -> list:
        return list(incidents_for_json(selectors.maintenances_upcoming()))

    @cached_property
    def calendar_maintenances(self) -> list:
        """What the maintenance calendars list: upcoming, in progress, and closed (completed
        or cancelled) in the last `calendars.RECENT_DAYS` days, by start of window."""
        since = self.now - timedelta(days=calendars.RECENT_DAYS)
        recent = list(incidents_for_json(selectors.maintenances_closed_since(since)))
        return sorted(
            [*self.upcoming, *self.active, *recent], key=lambda x: (x.scheduled_for, x.pk)
        )

    @cached_property
    def overall(self):
        return selectors.page_status(
            component_statuses=[c.status for c in self.components],
            open_incident_impacts=[i.impact for i in self.open_incidents],
            maintenance_in_progress=bool(self.active),
        )

    @cached_property
    def updated_at(self) -> datetime:
        return selectors.page_updated_at(self.components)

    @cached_property
    def page(self) -> dict:
        return page_dict(updated_at=self.updated_at)

    @cached_property
    def status(self) -> dict:
        return status_dict(self.overall)

    @cached_property
    def components_json(self) -> list:
        return components_list(self.components)

    @cached_property
    def open_json(self) -> list:
        return incidents_list(self.open_incidents)

    @cached_property
    def active_json(self) -> list:
        return incidents_list(self.active)

    @cached_property
    def upcoming_json(self) -> list:
        return incidents_list(self.upcoming)

    @cached_property
    def common(self) -> dict:
        return {
            "site_name": settings.SITE_NAME,
            "site_url": settings.SITE_URL,
            "generated_at": self.now,
            "updated_at": self.updated_at,
            "stale_after": settings.SNAPSHOT_STALE_AFTER,
            "calendar_url": calendars.calendar_path(),
            "webcal_url": calendars.webcal_url(calendars.calendar_path()),
        }

    @cached_property
    def everything(self) -> list:
        return list(
            selectors.incidents_recent().only(
                "public_id",
                "kind",
                "name",
                "status",
                "impact",
                "created_at",
                "updated_at",
                "resolved_at",
                "scheduled_for",
                "scheduled_until",
            )
        )

    @cached_property
    def feed_items(self) -> list:
        return list(incidents_for_json(selectors.incidents_recent(limit=50)))

    @cached_property
    def page_data(self) -> _PageData:
        return _PageData(self)


@dataclass(frozen=True)
class _Language:
    """One rendering of the public pages: `code` is the language, `prefixed` whether the
    pages live under its prefix (`/de/…`, `/en/…`) or at the addresses without one (English,
    the pages that follow Accept-Language). Their links keep the reader in the same set."""

    code: str
    prefixed: bool

    @property
    def lp(self) -> str:
        return languages.language_prefix(self.code) if self.prefixed else ""

    def path(self, page_path: str) -> str:
        return languages.language_path(self.code if self.prefixed else None, page_path)

    def context(self, page_path: str) -> dict:
        return {"language_code": self.code, "lp": self.lp, "page_path": page_path}


# Every public HTML page is rendered at its address without prefix (English) and once per
# language under its prefix (statuspage/languages.py).
RENDERINGS = [_Language(languages.DEFAULT, prefixed=False)] + [
    _Language(code, prefixed=True) for code in languages.CODES
]


def _localized(
    page_path: str, render: Callable[[_Language], tuple[bytes, str]]
) -> dict[str, Callable[[], tuple[bytes, str]]]:
    """The renderers of one HTML page in every rendering, by address."""
    return {lang.path(page_path): (lambda lang=lang: render(lang)) for lang in RENDERINGS}


def _recent_json(kind: str) -> list:
    return incidents_list(list(incidents_for_json(selectors.incidents_recent(kind=kind, limit=50))))


class _PageData:
    """What the page is rendered from in every language, computed once per publish."""

    def __init__(self, i: _Inputs) -> None:
        self.series = uptime.component_uptime(components=i.components, now=i.now)
        # As in the status-page JSON: `showcase` puts a component's uptime on the page, and
        # `only_show_if_degraded` hides it from the matrix while it is operational.
        self.showcased = [c for c in i.components if c.showcase]
        self.matrix = component_matrix(
            components=[
                c for c in i.components if c.status != "operational" or not c.only_show_if_degraded
            ],
            regions=i.regions,
        )
        # On a phone the matrix leads with what is broken: rows (and groups) where every
        # component is operational fold behind "show all services".
        self.affected_services = {
            row.service.pk
            for row in self.matrix.rows
            if any(c is not None and c.status != "operational" for c in row.cells)
            or (row.global_component is not None and row.global_component.status != "operational")
        }
        self.affected_groups = {
            row.service.group_id
            for row in self.matrix.rows
            if row.service.pk in self.affected_services
        }
        self.day_incidents = _incidents_by_component_day(self.showcased, now=i.now)
        self.metrics = metrics_for_page(now=i.now)


def _page(i: _Inputs, lang: _Language) -> tuple[bytes, str]:
    data = i.page_data
    return _html(
        "public/index.html",
        {
            **i.common,
            **lang.context("/"),
            "overall": i.overall,
            "overall_icon": OVERALL_ICON[i.overall.indicator],
            "status_sentence": status_sentence(
                components=[(c.name, c.status) for c in i.components],
                open_incident_impacts=[x.impact for x in i.open_incidents],
                maintenance_in_progress=bool(i.active),
            ),
            "matrix": data.matrix,
            "affected_services": data.affected_services,
            "affected_groups": data.affected_groups,
            "services_total": len(data.matrix.rows),
            "services_affected": len(data.affected_services),
            "open_incidents": [_incident_summary(x) for x in i.open_incidents],
            "active_maintenances": [_incident_summary(x) for x in i.active],
            "upcoming_maintenances": [_incident_summary(x) for x in i.upcoming],
            "uptime_services": _uptime_rows(
                data.showcased, data.series, data.day_incidents, by="service", lp=lang.lp
            ),
            "uptime_regions": _uptime_rows(
                data.showcased, data.series, data.day_incidents, by="region", lp=lang.lp
            ),
            "uptime_formula": gettext(uptime.FORMULA),
            "uptime_days": uptime.DAYS,
            "phone_days": PHONE_DAYS,
            "recent": [x for x in i.everything if not x.is_open][:RECENT_ON_PAGE],
            "metrics": data.metrics,
        },
        lang=lang,
    )


def _history(i: _Inputs, lang: _Language) -> tuple[bytes, str]:
    months = [
        {"month": month, "incidents": list(items)}
        for month, items in groupby(i.everything, key=lambda x: x.created_at.date().replace(day=1))
    ]
    return _html(
        "public/history.html", {**i.common, **lang.context("/history"), "months": months}, lang=lang
    )


def _renderers(i: _Inputs) -> dict[str, Callable[[], tuple[bytes, str]]]:
    """How each page-wide document is rendered; each is tried on its own (`_attempt`)."""
    return {
        "/api/v2/summary.json": lambda: _json(
            {
                "page": i.page,
                "status": i.status,
                "components": i.components_json,
                "incidents": i.open_json,
                "scheduled_maintenances": i.active_json + i.upcoming_json,
            }
        ),
        "/api/v2/status.json": lambda: _json({"page": i.page, "status": i.status}),
        "/api/v2/components.json": lambda: _json({"page": i.page, "components": i.components_json}),
        "/api/v2/incidents.json": lambda: _json(
            {"page": i.page, "incidents": _recent_json(IncidentKind.INCIDENT)}
        ),
        "/api/v2/incidents/unresolved.json": lambda: _json(
            {"page": i.page, "incidents": i.open_json}
        ),
        "/api/v2/scheduled-maintenances.json": lambda: _json(
            {"page": i.page, "scheduled_maintenances": _recent_json(IncidentKind.MAINTENANCE)}
        ),
        "/api/v2/scheduled-maintenances/upcoming.json": lambda: _json(
            {"page": i.page, "scheduled_maintenances": i.upcoming_json}
        ),
        "/api/v2/scheduled-maintenances/active.json": lambda: _json(
            {"page": i.page, "scheduled_maintenances": i.active_json}
        ),
        **_localized("/", lambda lang: _page(i, lang)),
        **_localized("/history", lambda lang: _history(i, lang)),
        "/history.atom": lambda: (_feed(feedgenerator.Atom1Feed, i.feed_items), ATOM),
        "/history.rss": lambda: (_feed(feedgenerator.Rss201rev2Feed, i.feed_items), RSS),
        "/snapshot.json": lambda: _json(
            {"generated_at": i.now.isoformat(), "stale_after": settings.SNAPSHOT_STALE_AFTER}
        ),
        "/badge.svg": lambda: _badge(
            "status", i.overall.description, BADGE_COLOR[i.overall.indicator]
        ),
        **_localized("/embed.html", lambda lang: _embed(i, lang)),
        calendars.calendar_path(): lambda: (
            calendars.render_calendar(
                i.calendar_maintenances, name=f"{settings.SITE_NAME} maintenance"
            ),
            calendars.ICS,
        ),
    }


def _badge(label: str, message: str, color: str) -> tuple[bytes, str]:
    """A flat two-part badge (label | message). Widths are estimated from the text, 7 px a
    character at 11 px, so no font metrics are needed."""
    label_width = 10 + 7 * len(label)
    message_width = 10 + 7 * len(message)
    return render_to_string(
        "public/badge.svg",
        {
            "label": label,
            "message": message,
            "color": color,
            "label_width": label_width,
            "message_width": message_width,
            "width": label_width + message_width,
            "label_x": label_width / 2,
            "message_x": label_width + message_width / 2,
        },
    ).encode(), SVG


def _component_badges(i: _Inputs) -> dict[str, Callable[[], tuple[bytes, str]]]:
    """`/badge/<id>.svg` for every component and group of components.json."""
    return {
        f"/badge/{c['id']}.svg": lambda c=c: _badge(
            c["name"], STATUS_LABEL.get(c["status"], c["status"]), BADGE_COLOR[c["status"]]
        )
        for c in i.components_json
    }


def _component_calendars(i: _Inputs) -> dict[str, Callable[[], tuple[bytes, str]]]:
    """`/maintenance/<id>.ics` for every component and group of components.json (the ids
    of the badges): the maintenance affecting that component, or any component of the
    group."""

    def render(entry: dict) -> tuple[bytes, str]:
        ids = set(entry.get("components", [])) | {entry["id"]}
        affecting = [
            m
            for m in i.calendar_maintenances
            if any(c.public_id in ids for c in m.components.all())
        ]
        name = f"{settings.SITE_NAME} maintenance: {entry['name']}"
        return calendars.render_calendar(affecting, name=name), calendars.ICS

    return {calendars.calendar_path(c["id"]): lambda c=c: render(c) for c in i.components_json}


def _embed(i: _Inputs, lang: _Language) -> tuple[bytes, str]:
    """The status widget other sites may frame: the overall status, what is open now, a
    link to the page."""
    return _html(
        "public/embed.html",
        {
            **i.common,
            **lang.context("/embed.html"),
            "overall": i.overall,
            "overall_icon": OVERALL_ICON[i.overall.indicator],
            "open_incidents": i.open_incidents,
            "active_maintenances": i.active,
        },
        lang=lang,
    )


def _attempt(
    path: str,
    render: Callable[[], tuple[bytes, str]],
    *,
    docs: Rendered,
    failures: dict[str, str],
    old_docs: dict,
) -> bool:
    """Render one document into `docs`. If it raises, keep its last good version (or leave it
    out if it never rendered) and record the error in `failures`: one bad document must not
    stop the others. A database error is not the document's fault: it is re-raised, and the
    whole publish fails (the snapshot is then served marked stale)."""
    try:
        docs[path] = render()
        return True
    except DbError:  # any of the database's errors (Error is their base), not the document's
        raise
    except Exception as exc:
        old = old_docs.get(path)
        log.exception(
            "snapshot: %s could not be rendered; %s",
            path,
            "its last good version stays published" if old else "it is not published",
        )
        failures[path] = f"{type(exc).__name__}: {exc}"[:500]
        if old is not None:
            docs[path] = (old, old["content_type"])
        return False


def _render_all_in_transaction(
    *, previous: dict | None, full: bool, now: datetime
) -> tuple[Rendered, dict[str, str], dict[str, str]]:
    """Every document, each rendered in isolation. Returns the documents (bytes, or the
    previous manifest's entry for one carried over), the incident versions rendered, and the
    documents that failed (path → error)."""
    inputs = _Inputs(now)
    old_docs = (previous or {}).get("documents", {})
    docs: Rendered = {}
    failures: dict[str, str] = {}
    for path, render in _renderers(inputs).items():
        _attempt(path, render, docs=docs, failures=failures, old_docs=old_docs)
    for per_component in (_component_badges, _component_calendars):
        try:
            renderers = per_component(inputs)
        except DbError:
            raise
        except Exception:  # components.json failed just above, and is recorded there
            renderers = {}
        for path, render in renderers.items():
            _attempt(path, render, docs=docs, failures=failures, old_docs=old_docs)

    versions = selectors.incident_versions()
    old_versions = (previous or {}).get("incidents", {})
    paths = {
        public_id: [lang.path(f"/incidents/{public_id}") for lang in RENDERINGS]
        for public_id in versions
    }
    changed = [
        public_id
        for public_id, version in versions.items()
        if full
        or old_versions.get(public_id) != version
        or any(path not in old_docs for path in paths[public_id])
    ]
    for public_id in versions:
        if public_id not in changed:
            for path in paths[public_id]:
                docs[path] = (old_docs[path], HTML)
    for start in range(0, len(changed), 200):
        batch = incidents_for_json(
            Incident.objects.filter(public_id__in=changed[start : start + 200]).select_related(
                "postmortem"
            )
        )
        for incident in batch:
            page = _incident_page(incident)
            for lang in RENDERINGS:
                page_path = f"/incidents/{incident.public_id}"
                rendered = _attempt(
                    lang.path(page_path),
                    lambda lang=lang, page=page, page_path=page_path: _html(
                        "public/incident.html",
                        {**inputs.common, **lang.context(page_path), **page},
                        lang=lang,
                    ),
                    docs=docs,
                    failures=failures,
                    old_docs=old_docs,
                )
                if not rendered:
                    # Not recorded as rendered at this version: the next publish tries again.
                    versions.pop(incident.public_id, None)
    return docs, versions, failures


def _html(template: str, context: dict, *, lang: _Language) -> tuple[bytes, str]:
    """Render an HTML page in `lang`'s language: its words, dates and the staff's
    translations of update texts."""
    with translation.override(lang.code):
        return render_to_string(template, context).encode(), HTML


# Short class names for the day bars: ~900 of them are on the page, so bytes count.
BAR_CLASS = {
    "operational": "ok",
    "degraded_performance": "dg",
    "partial_outage": "po",
    "major_outage": "mo",
    "under_maintenance": "um",
    None: "nd",
}


def _incidents_by_component_day(components, *, now: datetime) -> dict[int, dict[date, list]]:
    """{component id: {UTC day: the incidents and maintenances affecting it that day}} over
    the uptime window, so a day bar links to what happened. One query (and one for the
    components of those incidents), whatever the number of days."""
    days = uptime.window_days(now=now)
    window_start = datetime.combine(days[0], datetime.min.time(), UTC)
    ids = {c.pk for c in components}
    found: dict[int, dict[date, list]] = {}
    incidents = (
        Incident.objects.filter(components__in=ids)
        .exclude(status=IncidentStatus.SCHEDULED)  # a maintenance that has not begun
        .filter(Q(resolved_at__isnull=True) | Q(resolved_at__gte=window_start))
        .distinct()
        .only("public_id", "name", "impact", "kind", "created_at", "started_at", "resolved_at")
        .prefetch_related("components")
    )
    for incident in incidents:
        start = (incident.started_at or incident.created_at).astimezone(UTC).date()
        end = (incident.resolved_at or now).astimezone(UTC).date()
        day = max(start, days[0])
        while day <= end and day <= days[-1]:
            for component in incident.components.all():
                if component.pk in ids:
                    found.setdefault(component.pk, {}).setdefault(day, []).append(incident)
            day += timedelta(days=1)
    return found


def _worst_incident(incidents: list) -> object:
    return max(
        incidents,
        key=lambda x: (
            INDICATOR_SEVERITY.index(x.impact) if x.impact in INDICATOR_SEVERITY else 0,
            x.created_at,
        ),
    )


def _bars(series, incidents: dict[date, list], *, lp: str = "") -> list[dict]:
    """One bar per day: its colour (the worst status seen), the figures it says when focused
    or hovered (in the language active while the page renders), and a link to the worst
    incident of that day when there was one. A day with something to say (downtime, a
    degradation) can be focused even without an incident."""
    bars = []
    day_format = languages.DATE_FORMATS.get(
        languages.language_normalize(translation.get_language()) or languages.DEFAULT,
        languages.DATE_FORMATS[languages.DEFAULT],
    )["day"]
    no_data = gettext("no data")
    for day in series.days:
        # Short ("3 Oct: 100%"): ~900 of them are on the page, and the bytes count.
        label = dateformat.format(day.day, day_format)
        if not day.has_data:
            bars.append({"cls": "nd", "tip": f"{label}: {no_data}"})
            continue
        percent = "100" if day.percent == "100.00" else day.percent
        tip = f"{label}: {percent}%"
        if day.major_us:
            tip += ", " + gettext("major outage %(duration)s") % {
                "duration": format_duration(day.major_us)
            }
        if day.partial_us:
            tip += ", " + gettext("partial outage %(duration)s") % {
                "duration": format_duration(day.partial_us)
            }
        if day.worst == "degraded_performance" and not (day.major_us or day.partial_us):
            tip += ", " + gettext("degraded performance")
        if day.worst == "under_maintenance" and not (day.major_us or day.partial_us):
            tip += ", " + gettext("maintenance")
        bar = {"cls": BAR_CLASS[day.worst], "tip": tip}
        on_day = incidents.get(day.day)
        if on_day:
            worst = _worst_incident(on_day)
            more = len(on_day) - 1
            bar["tip"] = f"{tip}. {worst.name}" + (
                " " + gettext("(+%(count)d more)") % {"count": more} if more else ""
            )
            bar["href"] = f"{lp}/incidents/{worst.public_id}"
        elif day.worst != "operational":
            bar["focus"] = True
        bars.append(bar)
    return bars


def _uptime_rows(
    components, series: dict, day_incidents: dict, *, by: str, lp: str = ""
) -> list[dict]:
    """One row per service (over its components) or per region (over its components), with
    its 90-day figure and the figure of the last 30 days (what a phone shows)."""
    groups: dict[int, dict] = {}
    for component in components:
        key_obj = component.service if by == "service" else component.region
        if key_obj is None:
            continue
        group = groups.setdefault(key_obj.pk, {"obj": key_obj, "series": [], "incidents": {}})
        group["series"].append(series[component.pk])
        for day, incidents in day_incidents.get(component.pk, {}).items():
            known = group["incidents"].setdefault(day, [])
            known.extend(x for x in incidents if x not in known)
    rows = []
    for group in groups.values():
        total = series_sum(group["series"])
        recent = UptimeSeries(days=total.days[-PHONE_DAYS:])
        rows.append(
            {
                "name": group["obj"].name if by == "service" else group["obj"].slug,
                "label": group["obj"].name,
                "percent": _percent2(total),
                "percent_phone": _percent2(recent),
                "bars": _bars(total, group["incidents"], lp=lp),
                "position": group["obj"].position,
            }
        )
    rows.sort(key=lambda r: (r["position"], r["name"]))
    return rows


def _percent2(series: UptimeSeries) -> str | None:
    """The figure shown beside a row: 2 decimals, rounded down like every uptime figure
    (99.999 % shows as 99.99 %, never as 100 %)."""
    percent = series.percent
    return percent[:-1] if percent else None


def _incident_summary(incident) -> dict:
    updates = list(incident.updates.all())  # newest first
    return {
        "incident": incident,
        "latest": updates[:3],
        "more": max(0, len(updates) - 3),
        "components": list(incident.components.all()),
    }


def _incident_page(incident) -> dict:
    updates = sorted(incident.updates.all(), key=lambda u: (u.display_at, u.pk), reverse=True)
    postmortem = getattr(incident, "postmortem", None)
    if postmortem is not None and postmortem.published_at is None:
        postmortem = None
    timeline = [{"update": u, "changes": list(u.status_changes.all())} for u in updates]
    return {
        "incident": incident,
        # Newest first, like the console; the page also carries the oldest-first order for
        # its "oldest first" link (no script on the public page).
        "timeline": timeline,
        "timeline_oldest": timeline[::-1],
        "components": list(incident.components.all()),
        "postmortem": postmortem,
    }


def _feed(feed_class, incidents) -> bytes:
    """An Atom or RSS feed of `incidents`. Every text goes through `xml_safe`: XML 1.0 cannot
    carry most control characters (the writer raises), and rows stored before
    `statuspage.text.clean_text` may hold them, so they are dropped here."""
    site = settings.SITE_URL
    feed = feed_class(
        title=xml_safe(f"{settings.SITE_NAME} status: incident history"),
        link=f"{site}/history",
        description=xml_safe(f"Incidents and scheduled maintenance of {settings.SITE_NAME}"),
        language="en",
        feed_url=f"{site}/history.{'atom' if feed_class is feedgenerator.Atom1Feed else 'rss'}",
    )
    for incident in incidents:
        updates = list(incident.updates.all())  # newest first
        latest = updates[0] if updates else None
        description = "".join(
            f"<p><strong>{u.get_status_display()}</strong> "
            f"({u.display_at.astimezone(UTC):%d %b %Y %H:%M} UTC)</p>{u.body_html}"
            for u in updates
        )
        feed.add_item(
            title=xml_safe(f"{incident.name} [{incident.get_status_display()}]"),
            link=f"{site}/incidents/{incident.public_id}",
            description=xml_safe(description),
            unique_id=f"{site}/incidents/{incident.public_id}",
            pubdate=incident.created_at,
            updateddate=max(
                incident.updated_at, latest.updated_at if latest else incident.updated_at
            ),
        )
    return feed.writeString("utf-8").encode()


# --- The console dashboard ------------------------------------------------------------------------


def console_dashboard() -> dict:
    """What the console dashboard shows of the publish (an `incidents.console` provider): the
    documents that could not be rendered, a failing publish (the database or something
    every document needs), and the publish targets that could not be written (a bucket
    down); each as a red banner until the next publish or export succeeds."""
    state = read_state()
    failures = []
    for path, failure in sorted((state.get("documents") or {}).items()):
        public_id = path.removeprefix("/incidents/") if path.startswith("/incidents/") else ""
        failures.append(
            {
                "path": path,
                "console_url": reverse("console:incident", args=[public_id]) if public_id else "",
                "error": failure.get("error", ""),
                "since": _utc(failure.get("since")),
            }
        )
    publish = None
    if state.get("last_failure_at"):
        publish = {
            "error": state.get("error", ""),
            "since": _utc(state.get("failing_since") or state["last_failure_at"]),
        }
    return {
        "snapshot_failures": failures,
        "snapshot_publish_failure": publish,
        "publish_target_failures": _failing_targets(),
    }


def _failing_targets() -> list[PublishTarget]:
    """The configured publish targets whose last export failed (on any host)."""
    configured = set(settings.PUBLISH_TARGETS)
    if not configured:
        return []
    return [
        row
        for row in PublishTarget.objects.filter(failing_since__isnull=False).order_by(
            "failing_since"
        )
        if row.target in configured
    ]


def _utc(epoch: float | None) -> datetime | None:
    return datetime.fromtimestamp(epoch, UTC) if epoch else None


# --- Read side ---------------------------------------------------------------------------------


class SnapshotMissing(Exception):
    """No snapshot has been published in SNAPSHOT_DIR."""


@dataclass(frozen=True)
class Served:
    """What a view needs to answer one request for one document."""

    body: bytes
    etag: str
    last_modified: int
    last_modified_http: str
    content_type: str
    gzipped: bool
    gzip_available: bool
    stale: bool
    generated_at: float


def _http_date(epoch: float) -> str:
    return formatdate(epoch, usegmt=True)


def stale_banner(generated_at: float) -> bytes:
    when = datetime.fromtimestamp(generated_at, UTC).strftime("%-d %b %Y, %H:%M UTC")
    stamp = datetime.fromtimestamp(generated_at, UTC).isoformat()
    return (
        '<div class="stale" role="alert"><strong>This page may be out of date.</strong> '
        f'It shows the status as of <time datetime="{stamp}">{when}</time>; '
        "it could not be refreshed since.</div>"
    ).encode()


class SnapshotStore:
    """The in-process cache of the published snapshot (see the module docstring)."""

    recheck_every = 0.2  # seconds: a stat() of the manifest; every node current within 1 s

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._directory: Path | None = None
        self._setting: object = None
        self._checked = -1e9
        self._signature: tuple | None = None
        self._state_signature: tuple | None = None
        self._manifest: dict | None = None
        self._failure_at = 0.0
        self._failed: frozenset[str] = frozenset()  # documents whose last render failed
        self._bodies: dict[str, bytes] = {}
        self._variants: dict[tuple[str, float, bool], bytes] = {}
        self._served_cache: dict[tuple[str, bool, bool, bool], Served] = {}
        self._served_manifest: dict | None = None

    def invalidate(self) -> None:
        """Re-read the manifest on the next request (called after a publish in this process)."""
        self._checked = -1e9

    @staticmethod
    def _stat(path: Path) -> tuple | None:
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def _refresh(self) -> None:
        self._setting = settings.SNAPSHOT_DIR  # compared by identity on the hot path
        directory = snapshot_dir()
        with self._lock:
            if directory != self._directory:
                self._directory = directory
                self._signature = self._state_signature = self._manifest = None
                self._bodies.clear()
                self._variants.clear()
            signature = self._stat(directory / MANIFEST)
            if signature != self._signature:
                manifest = read_manifest(directory) if signature else None
                self._manifest = manifest
                self._signature = signature
                keep = {e["sha256"] for e in (manifest or {}).get("documents", {}).values()}
                self._bodies = {k: v for k, v in self._bodies.items() if k.split(".")[0] in keep}
                self._variants = {k: v for k, v in self._variants.items() if k[0] in keep}
            state_signature = self._stat(directory / STATE)
            if state_signature != self._state_signature:
                self._state_signature = state_signature
                self._failure_at = 0.0
                self._failed = frozenset()
                if state_signature:
                    state = read_state(directory)
                    with contextlib.suppress(TypeError, ValueError):
                        self._failure_at = float(state.get("last_failure_at", 0))
                    self._failed = frozenset(state.get("documents") or ())
            self._checked = time.monotonic()

    def _blob(self, name: str) -> bytes:
        body = self._bodies.get(name)
        if body is None:
            body = (self._directory / BLOBS / name).read_bytes()
            self._bodies[name] = body
        return body

    def manifest(self) -> dict:
        if (
            time.monotonic() - self._checked >= self.recheck_every
            or settings.SNAPSHOT_DIR is not self._setting
        ):
            self._refresh()
        if self._manifest is None:
            raise SnapshotMissing()
        return self._manifest

    def is_failing(self, path: str) -> bool:
        """The last publish could not render this document: its last good version is served
        (marked stale), the rest of the snapshot is fresh."""
        return path in self._failed

    def is_stale(self, manifest: dict) -> bool:
        generated_at = manifest["generated_at"]
        if self._failure_at > generated_at:
            return True
        return time.time() - generated_at > settings.SNAPSHOT_STALE_AFTER

    def lookup(self, path: str, *, accept_gzip: bool = False) -> Served | None:
        """The document published at `path`, or None. Raises SnapshotMissing.

        The hot path: a clock check, a staleness check and one dict lookup."""
        manifest = self.manifest()
        failing = path in self._failed
        stale = failing or self.is_stale(manifest)
        key = (path, accept_gzip, stale, failing)
        served = self._served_cache.get(key)
        if served is not None and self._served_manifest is manifest:
            return served
        for attempt in (1, 2):
            entry = manifest["documents"].get(path)
            if entry is None:
                return None  # not cached: unknown paths must not grow the cache
            try:
                served = self._served(manifest, entry, accept_gzip, stale, failing)
                break
            except FileNotFoundError:
                if attempt == 2:
                    raise
                self.invalidate()  # a newer publish removed the blob: take its manifest
                manifest = self.manifest()
        if self._served_manifest is not manifest:
            self._served_cache = {}
            self._served_manifest = manifest
        self._served_cache[key] = served
        return served

    def _served(
        self, manifest: dict, entry: dict, accept_gzip: bool, stale: bool, failing: bool
    ) -> Served:
        digest = entry["sha256"]
        etag = entry["etag"]
        gzipped = accept_gzip and entry["gzip"]
        is_html = entry["content_type"] == HTML
        if stale and is_html:
            # A document that failed to render is as of its own last render; otherwise the
            # whole snapshot is as of its last publish.
            as_of = entry["generated_at"] if failing else manifest["generated_at"]
            key = (digest, as_of, gzipped)
            body = self._variants.get(key)
            if body is None:
                plain = self._blob(digest).replace(STALE_MARKER, stale_banner(as_of), 1)
                body = gzip.compress(plain, 6, mtime=0) if gzipped else plain
                self._variants[key] = body
            etag = f'"{digest[:32]}-stale"'
        else:
            body = self._blob(f"{digest}.gz" if gzipped else digest)
        if gzipped:
            etag = etag[:-1] + '-gz"'
        return Served(
            body=body,
            etag=etag,
            last_modified=entry["last_modified"],
            last_modified_http=_http_date(entry["last_modified"]),
            content_type=entry["content_type"],
            gzipped=gzipped,
            gzip_available=entry["gzip"],
            stale=stale,
            generated_at=manifest["generated_at"],
        )


store = SnapshotStore()
