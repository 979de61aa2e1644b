"""The machinery of the v1 API: routes, authentication, scopes, rate limits, body parsing,
pagination and errors. Handlers (statuspage/api/resources/, one module per resource) receive
a `Call` and return plain data; everything about HTTP lives here, so the MCP server can call
the same handlers.

Kept deliberately small instead of pulling in a REST framework: the v1 API's conventions
(bare JSON arrays, Rails-style `incident[name]=…` form bodies, `.json` suffixes, `{"message"}`
errors) are easier to honour exactly by hand.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import (
    ObjectDoesNotExist,
    RequestDataTooBig,
    SuspiciousOperation,
    ValidationError,
)
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.utils.dateparse import parse_date, parse_datetime
from django.views.decorators.csrf import csrf_exempt

from statuspage.api.models import ApiScope, ApiToken
from statuspage.api.services import api_token_authenticate
from statuspage.outage import outage
from statuspage.services import UNSET, Actor

log = logging.getLogger(__name__)

MAX_PER_PAGE = 100
# The last page a list may ask for: 100 million items in, beyond any real list, and an offset
# every database can take.
MAX_PAGE = 1_000_000
# No field of the API takes a number beyond a 64-bit integer (what the database stores).
MAX_INT = 2**63 - 1
# The whole-number fields of the API are positions: a PostgreSQL integer.
MAX_FIELD_INT = 2**31 - 1
# The deepest JSON a body may be: the deepest real body (metrics/data) is 4 levels.
MAX_DEPTH = 32
# Times the API accepts: from the epoch to the end of year 9999 (what every database stores).
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 12, 31, tzinfo=UTC)


def rate_limit() -> int:
    """Requests per token per window (settings.HELIOGRAPH_API_RATE_LIMIT)."""
    return settings.HELIOGRAPH_API_RATE_LIMIT


def rate_window() -> int:
    return settings.HELIOGRAPH_API_RATE_WINDOW


def max_body() -> int:
    return settings.HELIOGRAPH_API_MAX_BODY


class ApiError(Exception):
    """An error answered as `{"message": …}` with an HTTP status."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        errors: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors
        self.headers = headers or {}

    def body(self) -> dict:
        data: dict[str, Any] = {"message": self.message}
        if self.errors:
            data["errors"] = self.errors
        return data


def invalid(field_name: str, message: str) -> ApiError:
    return ApiError(422, f"{field_name}: {message}", errors={field_name: message})


def given(**fields: Any) -> dict[str, Any]:
    """The fields the client sent (None or UNSET: not sent), as keyword arguments for a
    service, so that the service alone owns the default of every field left out."""
    return {
        name: value for name, value in fields.items() if value is not None and value is not UNSET
    }


def not_found(what: str, ident: str) -> ApiError:
    return ApiError(404, f"Unknown {what}: {ident}")


def validation_error_to_api(exc: ValidationError) -> ApiError:
    """A service's ValidationError ({field: message}) as a 422 that names the field."""
    if hasattr(exc, "error_dict"):
        errors = {f: " ".join(str(m) for m in msgs) for f, msgs in exc.message_dict.items()}
    else:
        errors = {"__all__": " ".join(exc.messages)}
    message = "; ".join(
        msg if name == "__all__" else f"{name}: {msg}" for name, msg in errors.items()
    )
    return ApiError(422, message, errors=errors)


def parse_time(value: Any, name: str) -> datetime:
    """An ISO 8601 time (without an offset: UTC) as an aware datetime, or a 422 naming the
    field: not a time, no such day (`2027-02-30`), or outside 1970–9999."""
    example = "must be an ISO 8601 time, e.g. 2026-06-22T20:09:00Z."
    if not isinstance(value, str):
        raise invalid(name, example)
    try:
        parsed = parse_datetime(value.strip())
    except ValueError:  # well formed, but no such day or hour, or an offset beyond ±24 h
        raise invalid(name, f"'{value}' is not a real time; it {example}") from None
    if parsed is None:
        raise invalid(name, example)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        in_utc = parsed.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 shifted by its offset
        in_utc = None
    if in_utc is None or not EARLIEST <= in_utc <= LATEST:
        raise invalid(name, f"'{value}' is out of range: give a time from 1970 to 9999.")
    return in_utc  # times are kept in UTC, whatever offset the caller wrote


def time_from_unix(value: float, name: str) -> datetime:
    """Unix seconds as an aware UTC datetime, or a 422 naming the field (NaN, infinity, and
    times before 1970 or after 9999: 1e20 seconds is not a time)."""
    if not math.isfinite(value) or not 0 <= value <= LATEST.timestamp():
        hint = " (milliseconds? send seconds)" if 1e11 < value < 1e15 else ""
        raise invalid(name, f"{value!r} is not a unix time from 1970 to 9999{hint}.")
    return EARLIEST + timedelta(seconds=value)


# --- Reading fields -----------------------------------------------------------------------


@dataclass
class Page:
    """A page of a list; handlers return it and the dispatcher adds the pagination headers."""

    items: list
    total: int
    page: int
    per_page: int


@dataclass
class Call:
    """One API call: who makes it, the body's fields (envelope removed), the query."""

    token: ApiToken
    data: dict = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    body: dict = field(default_factory=dict)

    @property
    def actor(self) -> Actor:
        return Actor(name=f"api:{self.token.name}")

    def has(self, name: str) -> bool:
        return name in self.data and self.data[name] is not None

    def str(
        self, name: str, *, required: bool = False, max_length: int | None = None
    ) -> str | None:
        value = self.data.get(name)
        if value is None:
            if required:
                raise invalid(name, "is required.")
            return None
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            raise invalid(name, "must be a string.")
        if required and not value.strip():
            raise invalid(name, "is required.")
        if max_length is not None and len(value) > max_length:
            raise invalid(name, f"is {len(value)} characters long; at most {max_length}.")
        return value

    def choice(self, name: str, choices: list[str], *, required: bool = False) -> str | None:
        value = self.str(name, required=required)
        if value is not None and value not in choices:
            raise invalid(name, f"'{value}' is not one of {', '.join(choices)}.")
        return value

    def bool(self, name: str) -> bool | None:
        value = self.data.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in {"true", "1", "yes", "on"}:
            return True
        if isinstance(value, str) and value.lower() in {"false", "0", "no", "off"}:
            return False
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise invalid(name, "must be true or false.")

    def int(self, name: str, *, minimum: int = 0, maximum: int = MAX_FIELD_INT) -> int | None:
        value = self.data.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            raise invalid(name, f"must be a whole number ≥ {minimum}.")
        try:
            number = int(value)
        except (TypeError, ValueError, OverflowError):  # a list, "1e20", inf, NaN
            raise invalid(name, "must be a whole number.") from None
        if isinstance(value, float) and value != number:
            raise invalid(name, "must be a whole number.")
        if not minimum <= number <= maximum:
            raise invalid(name, f"must be a whole number from {minimum} to {maximum}.")
        return number

    def datetime(self, name: str) -> datetime | None:
        value = self.data.get(name)
        if value is None or value == "":
            return None
        return parse_time(value, name)

    def date(self, name: str) -> date | None:
        value = self.data.get(name)
        if value is None or value == "":
            return None
        example = "must be a date, e.g. 2026-06-22."
        if not isinstance(value, str):
            raise invalid(name, example)
        try:
            parsed = parse_date(value.strip())
        except ValueError:  # well formed, but no such day: 2027-02-30, 2026-13-45
            raise invalid(name, f"'{value}' is not a real date (no such day).") from None
        if parsed is None:
            raise invalid(name, example)
        return parsed

    def list(self, name: str) -> list[str] | None:
        """A list of strings: a JSON array, form `x[]=a&x[]=b`, or a comma-separated string."""
        value = self.data.get(name)
        if value is None:
            return None
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        if isinstance(value, dict):  # form x[0]=a&x[1]=b
            value = list(value.values())
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise invalid(name, "must be a list of ids.")
        return value

    def mapping(self, name: str) -> dict[str, str] | None:
        value = self.data.get(name)
        if value is None or value == "":
            return None
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise invalid(name, 'must be an object like {"<id>": "<status>"}.')
        return value

    def pagination(self, *, limit_name: str = "per_page", default: int = MAX_PER_PAGE) -> tuple:
        """(page, per_page) from the query; per_page at most 100, page at most MAX_PAGE."""
        page = _query_int(self.query, "page", 1, minimum=1, maximum=MAX_PAGE)
        names = (limit_name, "per_page") if limit_name != "per_page" else ("per_page",)
        name = next((n for n in names if self.query.get(n)), limit_name)
        per_page = _query_int(self.query, name, default, minimum=1, maximum=MAX_PER_PAGE)
        return page, per_page


def is_number(ident: str) -> bool:
    """Whether a path's id can be a row number: ASCII digits only (`"²".isdigit()` is true, and
    int() refuses it), at most 18 of them (a 64-bit integer)."""
    return ident.isascii() and ident.isdigit() and len(ident) <= 18


def _query_int(
    query: dict[str, str], name: str, default: int, *, minimum: int, maximum: int
) -> int:
    raw = (query.get(name) or "").strip()
    if not raw:
        return default
    if not raw.isascii() or not raw.isdigit() or len(raw) > 12:
        raise invalid(name, f"must be a whole number from {minimum} to {maximum}.")
    number = int(raw)
    if not minimum <= number <= maximum:
        raise invalid(name, f"must be a whole number from {minimum} to {maximum}.")
    return number


def paginate(queryset: Any, call: Call, serialize: Callable[[Any], Any], **kw: Any) -> Page:
    page, per_page = call.pagination(**kw)
    total = len(queryset) if isinstance(queryset, list) else queryset.count()
    start = (page - 1) * per_page
    items = [serialize(obj) for obj in queryset[start : start + per_page]]
    return Page(items=items, total=total, page=page, per_page=per_page)


# --- Routes -------------------------------------------------------------------------------


@dataclass
class Operation:
    method: str
    handler: Callable[..., Any]
    scope: str
    summary: str
    envelope: str | None = None  # the body's top-level key, e.g. "incident"
    fields: dict[str, dict] = field(default_factory=dict)  # OpenAPI schemas of body fields
    required: list[str] = field(default_factory=list)
    status: int = 200
    paginated: bool = False
    query: dict[str, str] = field(default_factory=dict)  # query parameters: description
    response: str = "object"  # a schema name of openapi.SCHEMAS, or "object"
    many: bool = False
    tag: str = ""
    # A field that takes the whole body when it is sent as text (e.g. a CSV file).
    raw_body: str | None = None


@dataclass
class Route:
    path: str  # below /v1/pages/{page_id}/, e.g. "incidents/{incident_id}"
    operations: dict[str, Operation]
    name: str = ""

    @property
    def regex(self) -> str:
        if self.path == "/":  # the list of pages (one)
            return r"^pages(?:\.json)?/?$"
        if not self.path:  # the page itself
            return r"^pages/(?P<page_id>[^/.]+)(?:\.json)?/?$"
        pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/.]+)", self.path)
        return rf"^pages/(?P<page_id>[^/]+)/{pattern}(?:\.json)?/?$"


# Declaring routes: a resource module writes
#
#     ROUTES = [
#         route("regions", "regions",
#               get(regions_list, "List regions", paginated=True, ...),
#               post(region_post, ApiScope.COMPONENTS, "Create a region", ...),
#               tag="Regions"),
#     ]
#
# Reads need the `read` scope unless told otherwise; a DELETE answers 204.


def get(
    handler: Callable[..., Any], summary: str, *, scope: str = ApiScope.READ, **kw: Any
) -> Operation:
    return Operation(method="GET", handler=handler, scope=scope, summary=summary, **kw)


def post(handler: Callable[..., Any], scope: str, summary: str, **kw: Any) -> Operation:
    return Operation(method="POST", handler=handler, scope=scope, summary=summary, **kw)


def put(handler: Callable[..., Any], scope: str, summary: str, **kw: Any) -> Operation:
    return Operation(method="PUT", handler=handler, scope=scope, summary=summary, **kw)


def patch(handler: Callable[..., Any], scope: str, summary: str, **kw: Any) -> Operation:
    return Operation(method="PATCH", handler=handler, scope=scope, summary=summary, **kw)


def patch_and_put(
    handler: Callable[..., Any], scope: str, summary: str, **kw: Any
) -> tuple[Operation, Operation]:
    """PATCH, and PUT as its synonym (v1 clients use either)."""
    operation = patch(handler, scope, summary, **kw)
    return operation, replace(operation, method="PUT")


def delete(handler: Callable[..., Any], scope: str, summary: str, **kw: Any) -> Operation:
    return Operation(
        method="DELETE", handler=handler, scope=scope, summary=summary, **{"status": 204, **kw}
    )


def route(
    path: str, name: str, *operations: Operation | tuple[Operation, ...], tag: str = ""
) -> Route:
    """A route from its operations (keyed by method, in the order given); `tag` is the
    OpenAPI tag of those that name none."""
    flat = [o for item in operations for o in (item if isinstance(item, tuple) else (item,))]
    return Route(
        path,
        {o.method: o if o.tag or not tag else replace(o, tag=tag) for o in flat},
        name=name,
    )


# --- Parsing bodies -----------------------------------------------------------------------


def parse_form(pairs: list[tuple[str, str]]) -> dict:
    """Rails-style nested keys: `incident[components][abc]=major_outage`,
    `incident[component_ids][]=a` → {"incident": {"components": {"abc": …}, "component_ids": [a]}}.
    A key nested deeper than MAX_DEPTH is a 400."""
    result: dict = {}
    for key, value in pairs:
        parts = re.findall(r"[^\[\]]+|\[\]", key)
        parts = [p for p in parts if p] or [key]
        if len(parts) > MAX_DEPTH:
            raise body_error(
                f"The form key '{printable(key[:80])}…' is nested deeper than {MAX_DEPTH} levels."
            )
        target: Any = result
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            nxt = parts[i + 1] if not last else None
            if part == "[]":
                if not isinstance(target, list):
                    break
                target.append(value)
                break
            if not isinstance(target, dict):
                break
            if last:
                target[part] = value
            else:
                default: Any = [] if nxt == "[]" else {}
                if part not in target or not isinstance(target[part], type(default)):
                    target[part] = default
                target = target[part]
    return result


RAW_TYPES = ("text/csv", "text/plain", "application/octet-stream")
_SURROGATE = re.compile("[\ud800-\udfff]")


class _OutOfRange(str):
    """A JSON integer too long to be a number of ours (json.loads would refuse it past 4300
    digits with a ValueError that names no field): kept as its text, refused by check_values."""


def _json_int(text: str) -> int | _OutOfRange:
    return int(text) if len(text) <= 20 else _OutOfRange(text)


def body_error(message: str) -> ApiError:
    """A body that cannot be read at all (not UTF-8, not JSON, too deep): 400, `errors.body`."""
    return ApiError(400, message, errors={"body": message})


def printable(text: str) -> str:
    """Text safe to echo in a message: NUL and unpaired surrogates written as escapes."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


def _text_problem(text: str) -> str | None:
    if "\x00" in text:
        return "contains a NUL character (\\x00); remove it."
    bad = _SURROGATE.search(text)
    if bad:
        return (
            f"contains an unpaired UTF-16 surrogate ({printable(bad.group())}); send valid "
            "Unicode text."
        )
    return None


def check_values(data: Any, *, exempt: tuple[str, ...] = (), envelope: str | None = None) -> None:
    """Refuse what no field of the API can take, wherever it is in a body: a string with a NUL
    character or an unpaired surrogate, a number that is not finite or beyond 64 bits (422
    naming the field), nesting deeper than MAX_DEPTH (400). Field names are dotted paths
    below the envelope (`components.abc`, `data[0].timestamp`). `exempt` fields are passed
    through untouched (a CSV file: its importer names the bad line)."""

    def field_name(path: str) -> str:
        if envelope and path.startswith(f"{envelope}."):
            return path.removeprefix(f"{envelope}.")
        return path or "body"

    stack: list[tuple[Any, str, int]] = [(data, "", 0)]
    while stack:
        value, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise body_error(f"The body is nested deeper than {MAX_DEPTH} levels.")
        name = field_name(path)
        if name in exempt:
            continue
        if isinstance(value, _OutOfRange):
            raise invalid(name, f"is out of range (at most {MAX_INT}).")
        if isinstance(value, str):
            problem = _text_problem(value)
            if problem:
                raise invalid(name, problem)
        elif isinstance(value, bool):
            continue
        elif isinstance(value, int):
            if abs(value) > MAX_INT:
                raise invalid(name, f"is out of range (at most {MAX_INT}).")
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise invalid(name, "must be a finite number (not NaN or Infinity).")
        elif isinstance(value, dict):
            for key, item in value.items():
                key_text = str(key)
                child = f"{path}.{printable(key_text)}" if path else printable(key_text)
                problem = _text_problem(key_text)
                if problem:
                    raise invalid(field_name(child), f"the field name {problem}")
                stack.append((item, child, depth + 1))
        elif isinstance(value, list | tuple):
            for index, item in enumerate(value):
                stack.append((item, f"{path}[{index}]", depth + 1))


def parse_body(request: HttpRequest, raw_field: str | None = None) -> dict:
    """The body as a dict: JSON, a form (urlencoded or multipart), or, for an operation with a
    `raw_field`, a text file (CSV) as that field. Anything unreadable is a 400 that says why;
    check_values then refuses values no field takes."""
    length = _content_length(request)
    if length > max_body():
        raise ApiError(413, f"The request body is larger than {max_body()} bytes.")
    try:
        raw = request.body
    except RequestDataTooBig:
        raise ApiError(413, f"The request body is larger than {max_body()} bytes.") from None
    if len(raw) > max_body():
        raise ApiError(413, f"The request body is larger than {max_body()} bytes.")
    if not raw.strip():
        return {}
    content_type = request.content_type or ""
    if raw_field and content_type in RAW_TYPES:
        # Undecodable bytes are kept (as surrogates): the importer names the line they are on,
        # or tells that the file is UTF-16.
        return {raw_field: raw.decode("utf-8-sig", errors="surrogateescape")}
    if content_type == "multipart/form-data":
        try:
            form = request.POST
        except (MultiPartParserError, SuspiciousOperation) as exc:
            raise body_error(f"Malformed multipart body: {exc}") from None
        return parse_form([(k, v) for k in form for v in form.getlist(k)])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise body_error(
            f"The body is not UTF-8 text (byte 0x{raw[exc.start]:02x} at position {exc.start})."
        ) from None
    if content_type == "application/json" or (
        content_type != "application/x-www-form-urlencoded" and text.lstrip()[:1] in ("{", "[")
    ):
        try:
            data = json.loads(text, parse_int=_json_int)
        except json.JSONDecodeError as exc:
            raise body_error(f"Malformed JSON: {exc}") from None
        except RecursionError:
            raise body_error(f"The body is nested deeper than {MAX_DEPTH} levels.") from None
        if not isinstance(data, dict):
            raise body_error("The JSON body must be an object.")
        return data
    try:
        pairs = parse_qsl(text, keep_blank_values=True, errors="strict")
    except UnicodeDecodeError as exc:
        raise body_error(f"The form is not UTF-8 text once decoded: {exc.reason}.") from None
    return parse_form(pairs)


def _content_length(request: HttpRequest) -> int:
    try:
        return max(0, int(request.META.get("CONTENT_LENGTH") or 0))
    except ValueError:
        raise body_error("The Content-Length header is not a number.") from None


def unwrap(body: dict, envelope: str | None) -> dict:
    """The fields inside the envelope (`{"incident": {...}}`); a bare object is accepted too."""
    if envelope is None:
        return body
    if envelope in body:
        inner = body[envelope]
        if not isinstance(inner, dict):
            raise invalid(envelope, "must be an object.")
        return inner
    return body


# --- Authentication and rate limit --------------------------------------------------------


def raw_token(request: HttpRequest) -> str:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() in ("oauth", "bearer", "token"):
            return value.strip()
        return ""
    return request.GET.get("api_key", "")


def authenticate(request: HttpRequest) -> ApiToken:
    return authenticate_raw(raw_token(request))


def authenticate_raw(raw: str) -> ApiToken:
    """The active token with this secret, else 401 (used by HTTP and by the MCP server)."""
    if not raw:
        raise ApiError(
            401,
            "Authentication required: send `Authorization: OAuth <token>` (or Bearer).",
            headers={"WWW-Authenticate": 'OAuth realm="heliograph"'},
        )
    token = api_token_authenticate(raw=raw)
    if token is None:
        raise ApiError(
            401,
            "Could not authenticate: the token is unknown or revoked.",
            headers={"WWW-Authenticate": 'OAuth realm="heliograph"'},
        )
    return token


def check_rate(token: ApiToken) -> dict[str, str]:
    """Count this request in the token's fixed window; 429 with Retry-After past the limit.

    The count lives in Django's cache (Redis in production) so all web workers share it. If
    the cache is down the request is let through: the API must keep working in an outage.
    """
    limit, window = rate_limit(), rate_window()
    now = time.time()
    slot = int(now // window)
    key = f"heliograph:api:rate:{token.token_hash[:24]}:{slot}"
    try:
        cache.add(key, 0, timeout=window + 5)
        count = cache.incr(key)
    except Exception:
        log.warning("rate limit cache unavailable; request let through", exc_info=True)
        return {}
    reset = max(1, math.ceil((slot + 1) * window - now))
    headers = {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": str(max(0, limit - count)),
        "X-RateLimit-Reset": str(reset),
    }
    if count > limit:
        raise ApiError(
            429,
            f"Rate limit exceeded: {limit} requests per {window} s for this token; retry in {reset} s.",
            headers={**headers, "Retry-After": str(reset)},
        )
    return headers


def check_scope(token: ApiToken, scope: str) -> None:
    if not token.has_scope(scope):
        raise ApiError(403, f"This token lacks the '{scope}' scope.")


# --- Responses ----------------------------------------------------------------------------


def error_response(exc: ApiError, extra_headers: dict[str, str] | None = None) -> HttpResponse:
    response = JsonResponse(exc.body(), status=exc.status)
    for name, value in {**(extra_headers or {}), **exc.headers}.items():
        response[name] = value
    return response


def page_headers(request: HttpRequest, page: Page) -> dict[str, str]:
    headers = {
        "X-Total-Count": str(page.total),
        "X-Page": str(page.page),
        "X-Per-Page": str(page.per_page),
    }
    links = []
    base = request.build_absolute_uri(request.path)
    query = {k: v for k, v in request.GET.items() if k not in ("page", "api_key")}
    if page.page * page.per_page < page.total:
        links.append(f'<{base}?{urlencode({**query, "page": page.page + 1})}>; rel="next"')
    if page.page > 1:
        links.append(f'<{base}?{urlencode({**query, "page": page.page - 1})}>; rel="prev"')
    if links:
        headers["Link"] = ", ".join(links)
    return headers


def run_operation(operation: Operation, call: Call, path_params: dict[str, str]) -> Any:
    """Run a handler with the checks every caller (HTTP or MCP) gets: scope, values no field
    takes (check_values), errors mapped."""
    check_scope(call.token, operation.scope)
    check_values(call.data, exempt=(operation.raw_body,) if operation.raw_body else ())
    check_values(call.query)
    try:
        return operation.handler(call, **path_params)
    except ValidationError as exc:
        raise validation_error_to_api(exc) from None
    except ObjectDoesNotExist as exc:
        raise ApiError(404, str(exc) or "Not found.") from None


IDEMPOTENCY_TTL = 24 * 3600


@dataclass
class IdempotencySlot:
    """Where a POST's answer is kept for its `Idempotency-Key`, and the request it answers."""

    cache_key: str
    key: str
    fingerprint: str


def idempotency_slot(request: HttpRequest, token: ApiToken, body: dict) -> IdempotencySlot | None:
    """The slot of a POST's `Idempotency-Key` header (per token), or None without one.

    The slot remembers a fingerprint of the request (method, path, body as parsed, so the
    same JSON with other spacing is the same request): a key sent again with another request
    is a client bug that must not silently replay the first answer."""
    key = request.headers.get("Idempotency-Key", "").strip()
    if request.method != "POST" or not key:
        return None
    if len(key) > 200:
        raise invalid("Idempotency-Key", "is longer than 200 characters.")
    canonical = json.dumps(
        [request.method, request.path, body], sort_keys=True, ensure_ascii=True, default=str
    )
    fingerprint = hashlib.sha256(canonical.encode()).hexdigest()
    digest = hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:32]
    return IdempotencySlot(
        cache_key=f"heliograph:api:idem:{token.token_hash[:24]}:{digest}",
        key=key,
        fingerprint=fingerprint,
    )


def idempotent_replay(slot: IdempotencySlot | None) -> HttpResponse | None:
    """A stored answer to the same POST (a retry after a timeout), or None to go ahead.

    A script that retries `POST /incidents` after a lost response must not declare the
    incident twice. The first request marks the key pending; a concurrent duplicate gets 409;
    the key reused with another request (body, path or method) gets 422 naming the key. If
    the cache is down the request goes ahead (as if no key was sent).
    """
    if slot is None:
        return None
    pending = {"fingerprint": slot.fingerprint, "pending": True}
    try:
        if cache.add(slot.cache_key, pending, timeout=IDEMPOTENCY_TTL):
            return None
        stored = cache.get(slot.cache_key)
    except Exception:
        log.warning("idempotency cache unavailable; request goes ahead", exc_info=True)
        return None
    if not isinstance(stored, dict):  # expired between add and get, or a foreign value
        raise ApiError(409, "A request with this Idempotency-Key is still being processed.")
    if stored.get("fingerprint") != slot.fingerprint:
        raise invalid(
            "Idempotency-Key",
            f"'{printable(slot.key)}' was already used with another request (a different "
            "body, path or method) in the last 24 hours; send a new key for a new request.",
        )
    if stored.get("pending"):
        raise ApiError(409, "A request with this Idempotency-Key is still being processed.")
    response = HttpResponse(
        stored["body"], status=stored["status"], content_type="application/json"
    )
    response["Idempotent-Replayed"] = "true"
    return response


def idempotent_store(slot: IdempotencySlot | None, response: HttpResponse) -> None:
    """Keep a success for replays; forget a refusal, so a corrected request may use the key."""
    if slot is None:
        return
    try:
        if 200 <= response.status_code < 300:
            cache.set(
                slot.cache_key,
                {
                    "fingerprint": slot.fingerprint,
                    "status": response.status_code,
                    "body": response.content,
                },
                timeout=IDEMPOTENCY_TTL,
            )
        else:
            cache.delete(slot.cache_key)
    except Exception:
        log.warning("idempotency cache unavailable; answer not stored", exc_info=True)


def make_view(route: Route) -> Callable[..., HttpResponse]:
    @csrf_exempt
    def view(request: HttpRequest, page_id: str = "", **path_params: str) -> HttpResponse:
        page_id = page_id or settings.PAGE_ID  # `/v1/pages` names no page
        method = request.method or "GET"
        if method == "HEAD":
            method = "GET"
        extra: dict[str, str] = {}
        idem: IdempotencySlot | None = None  # set once this request owns its key's slot
        try:
            token = authenticate(request)
            extra = check_rate(token)
            if page_id != settings.PAGE_ID:
                raise not_found("page", page_id)
            operation = route.operations.get(method)
            if operation is None:
                raise ApiError(
                    405,
                    f"{method} is not allowed here; use {', '.join(route.operations)}.",
                    headers={"Allow": ", ".join(route.operations)},
                )
            body = (
                parse_body(request, operation.raw_body)
                if method in ("POST", "PUT", "PATCH", "DELETE")
                else {}
            )
            raw = (operation.raw_body,) if operation.raw_body else ()
            check_values(body, exempt=raw, envelope=operation.envelope)
            try:
                query = {k: v for k, v in request.GET.items()}
            except SuspiciousOperation as exc:  # too many fields
                raise body_error(f"Malformed query string: {exc}") from None
            slot = idempotency_slot(request, token, body)
            replay = idempotent_replay(slot)
            if replay is not None:
                return replay
            idem = slot
            call = Call(token=token, data=unwrap(body, operation.envelope), query=query, body=body)
            result = run_operation(operation, call, path_params)
        except ApiError as exc:
            idempotent_store(idem, HttpResponse(status=exc.status))
            return error_response(exc, extra)
        except Exception as exc:
            idempotent_store(idem, HttpResponse(status=500))
            down = outage(exc)
            if down is not None:
                log.warning("API %s %s: %s", request.method, request.path, down.log_line)
                unavailable = ApiError(
                    503, down.message, headers={"Retry-After": str(down.retry_after)}
                )
                return error_response(unavailable, extra)
            log.exception("API error on %s %s", request.method, request.path)
            return error_response(ApiError(500, "Internal error; it has been logged."), extra)
        if operation.status == 204:
            response = HttpResponse(status=204)
        elif isinstance(result, HttpResponse):
            response = result
        elif isinstance(result, Page):
            response = JsonResponse(result.items, safe=False, status=operation.status)
            extra.update(page_headers(request, result))
        else:
            response = JsonResponse(result, safe=False, status=operation.status)
        for name, value in extra.items():
            response[name] = value
        response["Cache-Control"] = "no-store"
        idempotent_store(idem, response)
        if request.method == "HEAD":
            response.content = b""
        return response

    view.__name__ = f"api_{route.name or route.path}"
    return view
