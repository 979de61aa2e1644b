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
- `state.json`: the last failed publish (e.g. the database was unreachable). While it is newer
  than the manifest, the snapshot is served marked stale.

Read side: `SnapshotStore` keeps the manifest and bodies in memory and re-checks the manifest
file at most once a second, so a request costs a dict lookup and no database query. A
document is stale when the last publish failed after it was rendered, or when the snapshot is
older than `settings.SNAPSHOT_STALE_AFTER` seconds (beat or the workers are gone); stale HTML
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
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import formatdate
from itertools import groupby
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.template.loader import render_to_string
from django.utils import feedgenerator, timezone

from incidents import selectors
from incidents.documents import (
    components_list,
    incidents_for_json,
    incidents_list,
    page_dict,
    status_dict,
)
from incidents.models import Incident, IncidentKind
from statuspage import hooks
from statuspage.metrics.selectors import metrics_for_page
from statuspage.public import uptime
from statuspage.public.uptime import format_duration, series_sum
from statuspage.selectors import component_matrix, components_for_page, regions_for_page

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
    """
    directory = snapshot_dir()
    (directory / BLOBS).mkdir(parents=True, exist_ok=True)
    note = directory / DIRTY
    note.touch()
    while note.exists():
        with open(directory / ".lock", "a+b") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return  # the holder will see the note when it is done
            try:
                with contextlib.suppress(FileNotFoundError):
                    note.unlink()
                _publish_locked(directory, full=False)
            except Exception:  # the write has committed; a failed render must not undo it
                log.exception("snapshot publish failed; the periodic refresh will retry")
                return
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def snapshot_dir() -> Path:
    return Path(settings.SNAPSHOT_DIR)


def snapshot_publish(*, full: bool = False) -> dict:
    """Render the page and JSON documents and store them for the read path.

    Incident pages are re-rendered only for incidents whose version (see
    `selectors.incident_versions`) changed since the last snapshot, unless `full` is set,
    the templates changed, or the last full render is older than FULL_REFRESH_EVERY.
    A failure (database unreachable, …) is recorded in state.json, which marks the served
    snapshot stale, and re-raised. Returns the new manifest.
    """
    directory = snapshot_dir()
    (directory / BLOBS).mkdir(parents=True, exist_ok=True)
    with _publish_lock(directory):
        return _publish_locked(directory, full=full)


def _publish_locked(directory: Path, *, full: bool) -> dict:
    """The publish itself; the caller holds the publish lock."""
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
        documents, versions = _render_all(previous=previous, full=full, now=now)
    except Exception as exc:
        _write_state(directory, {"last_failure_at": time.time(), "error": repr(exc)[:500]})
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
    with contextlib.suppress(FileNotFoundError):
        (directory / STATE).unlink()
    store.invalidate()
    return manifest


@contextlib.contextmanager
def _publish_lock(directory: Path) -> Iterator[None]:
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


def _atomic_write(path: Path, data: bytes, *, sync: bool = False) -> None:
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
        _atomic_write(directory / STATE, json.dumps(state).encode())
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
            _atomic_write(blobs / digest, body)
        compressed = False
        if len(body) >= GZIP_MIN_SIZE:
            if not (blobs / f"{digest}.gz").exists():
                _atomic_write(blobs / f"{digest}.gz", gzip.compress(body, 6, mtime=0))
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
    _atomic_write(directory / MANIFEST, json.dumps(manifest, indent=1).encode(), sync=True)
    # Keep the blobs of this and the previous manifest (a reader may still hold the previous).
    keep = {e["sha256"] for e in entries.values()} | {e["sha256"] for e in old_docs.values()}
    for blob in blobs.iterdir():
        if blob.name.split(".")[0] not in keep:
            with contextlib.suppress(FileNotFoundError):
                blob.unlink()
    return manifest


_fingerprint: str | None = None


def render_fingerprint() -> str:
    """A hash of what the documents are rendered with (templates, static files and their
    hashed names, the site's name and URL, format), so a deploy that changes them triggers a
    full re-render."""
    global _fingerprint
    if _fingerprint is None:
        digest = hashlib.sha256(str(SNAPSHOT_FORMAT).encode())
        for value in (settings.SITE_NAME, settings.SITE_URL, settings.PAGE_ID, settings.STATIC_URL):
            digest.update(f"{value}\n".encode())
        base = Path(settings.BASE_DIR)
        roots = [base / "templates" / "public", base / "statuspage" / "static"]
        files = [base / "templates" / "base_public.html"]
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
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode(), JSON


def _render_all(
    *, previous: dict | None, full: bool, now: datetime
) -> tuple[dict[str, tuple[bytes, str] | tuple[dict, str]], dict[str, str]]:
    """Read everything in one transaction (a consistent snapshot on PostgreSQL) and render."""
    outer = connection.in_atomic_block
    with transaction.atomic():
        if not outer and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        return _render_all_in_transaction(previous=previous, full=full, now=now)


def _render_all_in_transaction(*, previous: dict | None, full: bool, now: datetime):
    components = list(components_for_page())
    regions = list(regions_for_page())
    open_incidents = list(incidents_for_json(selectors.incidents_open()))
    active = list(incidents_for_json(selectors.maintenances_active()))
    upcoming = list(incidents_for_json(selectors.maintenances_upcoming()))
    overall = selectors.page_status(
        component_statuses=[c.status for c in components],
        open_incident_impacts=[i.impact for i in open_incidents],
        maintenance_in_progress=bool(active),
    )
    updated_at = selectors.page_updated_at(components)
    page = page_dict(updated_at=updated_at)
    status = status_dict(overall)
    components_json = components_list(components)
    open_json = incidents_list(open_incidents)
    active_json = incidents_list(active)
    upcoming_json = incidents_list(upcoming)
    recent_incidents = list(
        incidents_for_json(selectors.incidents_recent(kind=IncidentKind.INCIDENT, limit=50))
    )
    recent_maintenances = list(
        incidents_for_json(selectors.incidents_recent(kind=IncidentKind.MAINTENANCE, limit=50))
    )

    docs: dict = {
        "/api/v2/summary.json": _json(
            {
                "page": page,
                "status": status,
                "components": components_json,
                "incidents": open_json,
                "scheduled_maintenances": active_json + upcoming_json,
            }
        ),
        "/api/v2/status.json": _json({"page": page, "status": status}),
        "/api/v2/components.json": _json({"page": page, "components": components_json}),
        "/api/v2/incidents.json": _json(
            {"page": page, "incidents": incidents_list(recent_incidents)}
        ),
        "/api/v2/incidents/unresolved.json": _json({"page": page, "incidents": open_json}),
        "/api/v2/scheduled-maintenances.json": _json(
            {"page": page, "scheduled_maintenances": incidents_list(recent_maintenances)}
        ),
        "/api/v2/scheduled-maintenances/upcoming.json": _json(
            {"page": page, "scheduled_maintenances": upcoming_json}
        ),
        "/api/v2/scheduled-maintenances/active.json": _json(
            {"page": page, "scheduled_maintenances": active_json}
        ),
    }

    common = {
        "site_name": settings.SITE_NAME,
        "site_url": settings.SITE_URL,
        "generated_at": now,
        "updated_at": updated_at,
    }
    everything = list(
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
    series = uptime.component_uptime(components=components, now=now)
    # As in the status-page JSON: `showcase` puts a component's uptime on the page, and
    # `only_show_if_degraded` hides it from the matrix while it is operational.
    showcased = [c for c in components if c.showcase]
    docs["/"] = _html(
        "public/index.html",
        {
            **common,
            "overall": overall,
            "overall_icon": OVERALL_ICON[overall.indicator],
            "matrix": component_matrix(
                components=[
                    c
                    for c in components
                    if c.status != "operational" or not c.only_show_if_degraded
                ],
                regions=regions,
            ),
            "open_incidents": [_incident_summary(i) for i in open_incidents],
            "active_maintenances": [_incident_summary(i) for i in active],
            "upcoming_maintenances": [_incident_summary(i) for i in upcoming],
            "uptime_services": _uptime_rows(showcased, series, by="service"),
            "uptime_regions": _uptime_rows(showcased, series, by="region"),
            "uptime_formula": uptime.FORMULA,
            "uptime_days": uptime.DAYS,
            "recent": [i for i in everything if not i.is_open][:RECENT_ON_PAGE],
            "metrics": metrics_for_page(now=now),
        },
    )

    months = [
        {"month": month, "incidents": list(items)}
        for month, items in groupby(everything, key=lambda i: i.created_at.date().replace(day=1))
    ]
    docs["/history"] = _html("public/history.html", {**common, "months": months})
    feed_items = list(incidents_for_json(selectors.incidents_recent(limit=50)))
    docs["/history.atom"] = (_feed(feedgenerator.Atom1Feed, feed_items, updated_at), ATOM)
    docs["/history.rss"] = (_feed(feedgenerator.Rss201rev2Feed, feed_items, updated_at), RSS)

    versions = selectors.incident_versions()
    old_versions = (previous or {}).get("incidents", {})
    old_docs = (previous or {}).get("documents", {})
    changed = [
        public_id
        for public_id, version in versions.items()
        if full
        or old_versions.get(public_id) != version
        or f"/incidents/{public_id}" not in old_docs
    ]
    for public_id in versions:
        if public_id not in changed:
            docs[f"/incidents/{public_id}"] = (old_docs[f"/incidents/{public_id}"], HTML)
    for start in range(0, len(changed), 200):
        batch = incidents_for_json(
            Incident.objects.filter(public_id__in=changed[start : start + 200]).select_related(
                "postmortem"
            )
        )
        for incident in batch:
            docs[f"/incidents/{incident.public_id}"] = _html(
                "public/incident.html", {**common, **_incident_page(incident)}
            )
    return docs, versions


def _html(template: str, context: dict) -> tuple[bytes, str]:
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


def _bars(series) -> list[dict]:
    """One bar per day: its colour (the worst status seen) and a title with the figures."""
    bars = []
    for day in series.days:
        if not day.has_data:
            bars.append({"cls": "nd", "title": f"{day.day.isoformat()} no data"})
            continue
        title = f"{day.day.isoformat()} {day.percent}%"
        if day.major_us:
            title += f", major outage {format_duration(day.major_us)}"
        if day.partial_us:
            title += f", partial outage {format_duration(day.partial_us)}"
        bars.append({"cls": BAR_CLASS[day.worst], "title": title})
    return bars


def _uptime_rows(components, series: dict, *, by: str) -> list[dict]:
    """One row per service (over its components) or per region (over its components)."""
    groups: dict[int, dict] = {}
    for component in components:
        key_obj = component.service if by == "service" else component.region
        if key_obj is None:
            continue
        group = groups.setdefault(key_obj.pk, {"obj": key_obj, "series": []})
        group["series"].append(series[component.pk])
    rows = []
    for group in groups.values():
        total = series_sum(group["series"])
        rows.append(
            {
                "name": group["obj"].name if by == "service" else group["obj"].slug,
                "label": group["obj"].name,
                "percent": total.percent,
                "bars": _bars(total),
                "position": group["obj"].position,
            }
        )
    rows.sort(key=lambda r: (r["position"], r["name"]))
    return rows


def _incident_summary(incident) -> dict:
    updates = list(incident.updates.all())  # newest first
    return {
        "incident": incident,
        "latest": updates[:3],
        "more": max(0, len(updates) - 3),
        "components": list(incident.components.all()),
    }


def _incident_page(incident) -> dict:
    updates = sorted(incident.updates.all(), key=lambda u: (u.display_at, u.pk))
    postmortem = getattr(incident, "postmortem", None)
    if postmortem is not None and postmortem.published_at is None:
        postmortem = None
    return {
        "incident": incident,
        "timeline": [{"update": u, "changes": list(u.status_changes.all())} for u in updates],
        "components": list(incident.components.all()),
        "postmortem": postmortem,
    }


def _feed(feed_class, incidents, updated_at) -> bytes:
    site = settings.SITE_URL
    feed = feed_class(
        title=f"{settings.SITE_NAME} status: incident history",
        link=f"{site}/history",
        description=f"Incidents and scheduled maintenance of {settings.SITE_NAME}",
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
            title=f"{incident.name} [{incident.get_status_display()}]",
            link=f"{site}/incidents/{incident.public_id}",
            description=description,
            unique_id=f"{site}/incidents/{incident.public_id}",
            pubdate=incident.created_at,
            updateddate=max(
                incident.updated_at, latest.updated_at if latest else incident.updated_at
            ),
        )
    return feed.writeString("utf-8").encode()


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

    recheck_every = 1.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._directory: Path | None = None
        self._setting: object = None
        self._checked = -1e9
        self._signature: tuple | None = None
        self._state_signature: tuple | None = None
        self._manifest: dict | None = None
        self._failure_at = 0.0
        self._bodies: dict[str, bytes] = {}
        self._variants: dict[tuple[str, bool, bool], bytes] = {}
        self._served_cache: dict[tuple[str, bool, bool], Served] = {}
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
                if state_signature:
                    with contextlib.suppress(OSError, ValueError):
                        state = json.loads((directory / STATE).read_bytes())
                        self._failure_at = float(state.get("last_failure_at", 0))
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

    def is_stale(self, manifest: dict) -> bool:
        generated_at = manifest["generated_at"]
        if self._failure_at > generated_at:
            return True
        return time.time() - generated_at > settings.SNAPSHOT_STALE_AFTER

    def lookup(self, path: str, *, accept_gzip: bool = False) -> Served | None:
        """The document published at `path`, or None. Raises SnapshotMissing.

        The hot path: a clock check, a staleness check and one dict lookup."""
        manifest = self.manifest()
        stale = self.is_stale(manifest)
        key = (path, accept_gzip, stale)
        served = self._served_cache.get(key)
        if served is not None and self._served_manifest is manifest:
            return served
        for attempt in (1, 2):
            entry = manifest["documents"].get(path)
            if entry is None:
                return None  # not cached: unknown paths must not grow the cache
            try:
                served = self._served(manifest, entry, accept_gzip, stale)
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

    def _served(self, manifest: dict, entry: dict, accept_gzip: bool, stale: bool) -> Served:
        digest = entry["sha256"]
        etag = entry["etag"]
        gzipped = accept_gzip and entry["gzip"]
        is_html = entry["content_type"] == HTML
        if stale and is_html:
            key = (digest, True, gzipped)
            body = self._variants.get(key)
            if body is None:
                plain = self._blob(digest).replace(
                    STALE_MARKER, stale_banner(manifest["generated_at"]), 1
                )
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
