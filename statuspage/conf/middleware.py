"""Project-wide middleware: what no single app can answer for.

- `RefuseNulMiddleware`: a NUL character (`%00`) in the path or the query string is a 400
  before any view sees it. No page or API id contains one, PostgreSQL refuses NUL in any text
  it is sent (a lookup of `/console/incidents/%00/` would be a 500), and the public snapshot
  files are read by path.
- `OutageMiddleware`: the database or Redis down, seen by a view (the console, `/subscribe/`,
  the admin), is a 503 with `Retry-After` and a sentence (statuspage.outage), never a bare
  "Server Error (500)". The public page and /api/v2 never raise it: they are served from the
  snapshot, stale if they must be. The v1 API answers its own 503 in JSON
  (statuspage.api.framework) and `server_error` below catches what fails outside a view.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.views import defaults

from statuspage.outage import Outage, outage

log = logging.getLogger(__name__)

API_PREFIX = "/v1/"


def _wants_json(request: HttpRequest) -> bool:
    return request.path_info.startswith(API_PREFIX) or "application/json" in request.headers.get(
        "Accept", ""
    )


def _json(status: int, body: dict, headers: dict[str, str] | None = None) -> HttpResponse:
    response = HttpResponse(json.dumps(body), status=status, content_type="application/json")
    for name, value in (headers or {}).items():
        response[name] = value
    return response


class RefuseNulMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        where = None
        query = request.META.get("QUERY_STRING", "")
        if "\x00" in request.path_info:
            where = "path"
        elif "%00" in query or "\x00" in query:  # the only spellings of NUL; else no parsing
            for name, values in request.GET.lists():
                if "\x00" in name or any("\x00" in value for value in values):
                    where = name.replace("\x00", "\\x00")
                    break
        if where is None:
            return self.get_response(request)
        place = "address" if where == "path" else f"query parameter '{where}'"
        message = f"The {place} contains a NUL character (%00); no Heliograph address does."
        if _wants_json(request):
            return _json(400, {"message": message, "errors": {where: message}})
        return HttpResponse(message, status=400, content_type="text/plain; charset=utf-8")


def unavailable_response(request: HttpRequest, down: Outage) -> HttpResponse:
    """503 with Retry-After: JSON `{"message"}` for API clients, else a small page that needs
    neither the database nor a signed-in user."""
    headers = {"Retry-After": str(down.retry_after), "Cache-Control": "no-store"}
    if _wants_json(request):
        return _json(503, {"message": down.message}, headers)
    html = render_to_string(
        "unavailable.html",
        {"message": down.message, "retry_after": down.retry_after, "site_name": settings.SITE_NAME},
    )
    response = HttpResponse(html, status=503)
    for name, value in headers.items():
        response[name] = value
    return response


class OutageMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        down = outage(exception)
        if down is None:
            return None
        log.warning(
            "%s %s: %s is down: %s", request.method, request.path, down.server, down.log_line
        )
        return unavailable_response(request, down)


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: an outage met outside a view (a middleware saving the session) is a 503
    too; anything else is Django's plain 500 page."""
    down = outage(sys.exc_info()[1]) if sys.exc_info()[1] is not None else None
    if down is not None:
        return unavailable_response(request, down)
    return defaults.server_error(request)
