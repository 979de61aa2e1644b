"""The public read path: every page, feed and JSON document is served from the published
snapshot (statuspage.public.snapshot), never rendered or queried per request.

No view here touches the session, the user or the CSRF token, so responses carry no cookie
and no `Vary: Cookie`, and shared caches can keep them.
"""

from __future__ import annotations

import threading
import time

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseNotModified, HttpResponseRedirect
from django.template.loader import render_to_string
from django.utils.cache import patch_vary_headers
from django.utils.http import parse_http_date_safe
from django.views.decorators.http import require_safe

from statuspage import languages
from statuspage.public import replication, snapshot

NO_SNAPSHOT_RETRY = 30.0  # seconds between attempts to build a missing snapshot, per process
_build_lock = threading.Lock()
_last_build_attempt: dict[str, float] = {}  # per snapshot directory


@require_safe
def hello(request: HttpRequest) -> HttpResponse:
    """The smallest possible view: the benchmark's baseline for what a request costs."""
    return HttpResponse(b"hello", content_type="text/plain")


def _etag_matches(header: str, etag: str) -> bool:
    if header.strip() == "*":
        return True
    candidates = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return etag in candidates


def _not_modified(request: HttpRequest, served: snapshot.Served) -> bool:
    """RFC 9110 §13.2.2: If-None-Match wins; If-Modified-Since only when it is absent."""
    if_none_match = request.META.get("HTTP_IF_NONE_MATCH")
    if if_none_match is not None:
        return _etag_matches(if_none_match, served.etag)
    if_modified_since = request.META.get("HTTP_IF_MODIFIED_SINCE")
    if if_modified_since and not served.stale:  # a stale page differs (its banner): send it
        since = parse_http_date_safe(if_modified_since)
        return since is not None and served.last_modified <= since
    return False


def _build_missing_snapshot() -> bool:
    """Try to publish the snapshot when there is none (first start); at most every 30 s."""
    directory = str(snapshot.snapshot_dir())
    with _build_lock:
        if snapshot.read_manifest() is not None:
            snapshot.store.invalidate()
            return True
        if time.monotonic() - _last_build_attempt.get(directory, -1e9) < NO_SNAPSHOT_RETRY:
            return False
        _last_build_attempt[directory] = time.monotonic()
        try:
            # Another web node may have published already: copy its release; else render.
            if not replication.sync_once():
                snapshot.snapshot_publish(buckets=False)
        except Exception:
            snapshot.log.exception("no snapshot, and it cannot be built now")
            return False
        return True


def _unavailable() -> HttpResponse:
    response = HttpResponse(
        b"The status page is not available yet: it has not been published and the database "
        b"cannot be reached. Please try again in a minute.\n",
        status=503,
        content_type="text/plain; charset=utf-8",
    )
    response["Retry-After"] = "30"
    response["Cache-Control"] = "no-store"
    return response


def _not_found(*, page: bool = False) -> HttpResponse:
    """404. For a page (an incident's address), a page of the site that says so and where to
    look; rendered from settings only, no database query."""
    if page:
        body = render_to_string("public/not_found.html", {"site_name": settings.SITE_NAME}).encode()
        response = HttpResponse(body, status=404, content_type="text/html; charset=utf-8")
    else:
        response = HttpResponse(
            b"Not found.\n", status=404, content_type="text/plain; charset=utf-8"
        )
    response["Cache-Control"] = "public, max-age=10"
    return response


def serve(request: HttpRequest, path: str) -> HttpResponse:
    """Answer from the snapshot, with validators, caching headers and conditional requests."""
    replication.ensure_started()
    accept_gzip = "gzip" in request.META.get("HTTP_ACCEPT_ENCODING", "")
    try:
        served = snapshot.store.lookup(path, accept_gzip=accept_gzip)
    except snapshot.SnapshotMissing:
        if not _build_missing_snapshot():
            return _unavailable()
        try:
            served = snapshot.store.lookup(path, accept_gzip=accept_gzip)
        except snapshot.SnapshotMissing:
            return _unavailable()
    if served is None:
        return _not_found(page=not path.startswith("/api/"))
    if _not_modified(request, served):
        response = HttpResponseNotModified()
    elif request.method == "HEAD":
        # Headers only (servers drop a HEAD body anyway, with a warning per request).
        response = HttpResponse(b"", content_type=served.content_type)
        response["Content-Length"] = str(len(served.body))
        if served.gzipped:
            response["Content-Encoding"] = "gzip"
    else:
        response = HttpResponse(served.body, content_type=served.content_type)
        if served.gzipped:
            response["Content-Encoding"] = "gzip"
    response["ETag"] = served.etag
    response["Last-Modified"] = served.last_modified_http
    response["Cache-Control"] = snapshot.CACHE_CONTROL
    if served.gzip_available:
        response["Vary"] = "Accept-Encoding"
    if path.startswith("/api/v2/"):
        # Public data: status widgets on other sites may read it from the browser.
        response["Access-Control-Allow-Origin"] = "*"
    if served.stale:
        response["X-Snapshot-Stale"] = "true"
    return response


# The one page other sites may frame (docs/security.md): every other response keeps
# `X-Frame-Options: DENY` and `frame-ancestors 'none'`.
FRAMEABLE = "/embed.html"
FRAMEABLE_PATHS = {FRAMEABLE} | {languages.language_path(c, FRAMEABLE) for c in languages.CODES}


# The pages whose address without prefix follows the visitor's Accept-Language.
NEGOTIATED = {"/", "/history"}


def _negotiated(request: HttpRequest, path: str) -> HttpResponse:
    """A page at its address without prefix: English is served there; a visitor whose
    browser prefers another of the page's languages is sent to that language's address
    (statuspage/languages.py). Either way the answer varies by Accept-Language."""
    language = languages.language_from_accept(request.META.get("HTTP_ACCEPT_LANGUAGE"))
    if language != languages.DEFAULT:
        response = HttpResponseRedirect(languages.language_path(language, path))
        query = request.META.get("QUERY_STRING")
        if query:
            response["Location"] += "?" + query
        response["Cache-Control"] = "public, max-age=60"
    else:
        response = serve(request, path)
    patch_vary_headers(response, ("Accept-Language",))
    return response


@require_safe
def localized(request: HttpRequest, *, language: str, page: str) -> HttpResponse:
    """A page in one language, at its prefix (`/de/history`)."""
    return document(request, path=languages.language_path(language, page))


@require_safe
def localized_incident(request: HttpRequest, *, language: str, public_id: str) -> HttpResponse:
    return serve(request, languages.language_path(language, f"/incidents/{public_id}"))


@require_safe
def document(request: HttpRequest, *, path: str) -> HttpResponse:
    if path in NEGOTIATED:
        return _negotiated(request, path)
    response = serve(request, path)
    if path in FRAMEABLE_PATHS:
        response.xframe_options_exempt = True  # XFrameOptionsMiddleware leaves it out
        # What django-csp's `csp_replace` decorator sets: its middleware then sends the
        # project's policy with only this directive replaced.
        response._csp_replace = {"frame-ancestors": ["*"]}
    return response


@require_safe
def incident(request: HttpRequest, public_id: str) -> HttpResponse:
    return _negotiated(request, f"/incidents/{public_id}")


@require_safe
def badge(request: HttpRequest, component_id: str) -> HttpResponse:
    return serve(request, f"/badge/{component_id}.svg")


@require_safe
def component_calendar(request: HttpRequest, component_id: str) -> HttpResponse:
    return serve(request, f"/maintenance/{component_id}.ics")
