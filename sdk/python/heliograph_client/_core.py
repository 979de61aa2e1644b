"""The HTTP behaviour every operation shares: the base URL and token, retries with backoff that
honour `Retry-After`, an `Idempotency-Key` on every POST, errors as exceptions, pagination by
`Link: rel="next"`, and dry runs. The generated resources (`_operations.py`) only say which
operation to call with which fields; everything about HTTP is here, once for the sync and
once for the async client.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Generic, TypeVar
from urllib.parse import quote, urlsplit, urlunsplit

import httpx

from heliograph_client.errors import (
    DryRun,
    HeliographError,
    NetworkError,
    error_for,
    parse_retry_after,
)

__version__ = "0.1.0"

DEFAULT_PAGE_ID = "heliograph"
USER_AGENT = f"heliograph-client/{__version__} (python)"
T = TypeVar("T")


@dataclass(frozen=True)
class Operation:
    """One operation of the OpenAPI document, as the generated code declares it."""

    id: str  # the operationId, e.g. "incidents_post"
    method: str
    path: str  # the OpenAPI path, e.g. "/v1/pages/{page_id}/incidents/{incident_id}"
    envelope: str | None = None  # the body's top-level key, e.g. "incident"
    many: bool = False  # answers a JSON array (a GET of one follows `Link: rel="next"`)
    scope: str = ""


@dataclass(frozen=True)
class RetryPolicy:
    """When and how long to wait before sending a request again.

    429 is always retried (the API refused before doing anything), after `Retry-After`
    seconds, unless the server asks for longer than `max_retry_after` (then RateLimitError
    is raised at once). 500, 502, 503, 504 and broken connections are retried when sending
    the request again cannot do the work twice: GET, HEAD, PUT, DELETE, and a POST that
    carries an Idempotency-Key (every POST, by default). A connection that could not be made
    at all is retried for every method. The wait is exponential (`backoff`, doubled each
    time, at most `max_backoff`) with jitter, so clients that failed together do not come
    back together. A 502 with the API's own error body (a channel test that failed) is an
    answer, not an outage: it is raised at once."""

    max_retries: int = 3
    backoff: float = 0.5
    max_backoff: float = 8.0
    max_retry_after: float = 60.0
    statuses: frozenset[int] = field(default_factory=lambda: frozenset({429, 500, 502, 503, 504}))

    def wait(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number `attempt` (0 for the first retry)."""
        ceiling = min(self.max_backoff, self.backoff * (2**attempt))
        if retry_after is not None:
            # What the server asked for, plus a little jitter so that all the clients told
            # the same second do not come back in the same millisecond.
            return retry_after + random.uniform(0, min(ceiling, 1.0) / 4)
        return random.uniform(ceiling / 2, ceiling)


NO_RETRIES = RetryPolicy(max_retries=0)
REPLAY_SAFE = {"GET", "HEAD", "OPTIONS", "PUT", "DELETE"}


def resolve_settings(
    url: str | None, token: str | None, page_id: str | None
) -> tuple[str, str | None, str]:
    """(site URL, token, page id) from the arguments, else HELIOGRAPH_URL, HELIOGRAPH_TOKEN
    and HELIOGRAPH_PAGE_ID. The URL is the site's (https://status.example.com); a URL that
    already names the API (…/v1 or …/v1/pages/<page id>) is accepted too."""
    url = url or os.environ.get("HELIOGRAPH_URL") or ""
    token = token or os.environ.get("HELIOGRAPH_TOKEN") or None
    page_id = page_id or os.environ.get("HELIOGRAPH_PAGE_ID") or None
    if not url:
        raise ValueError(
            "No Heliograph URL: pass url= (e.g. https://status.example.com) or set HELIOGRAPH_URL."
        )
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"Not an http(s) URL: {url!r}")
    path = parts.path.rstrip("/")
    match = re.search(r"/v1(?:/pages(?:/([^/]+))?)?$", path)
    if match:
        page_id = page_id or match.group(1)
        path = path[: match.start()]
    site = urlunsplit((parts.scheme, parts.netloc, path, "", ""))
    return site, token, page_id or DEFAULT_PAGE_ID


def _encode(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"Cannot send {type(value).__name__} as JSON")


def _clean(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The fields given (None means "not given": the API treats a null the same way)."""
    return {k: v for k, v in fields.items() if v is not None}


def next_link(response: httpx.Response) -> str | None:
    """The `rel="next"` URL of the Link header, if any."""
    for part in response.headers.get("Link", "").split(","):
        match = re.match(r"\s*<([^>]*)>\s*;(.*)", part)
        if match and re.search(r'rel="?next"?', match.group(2)):
            return match.group(1)
    return None


@dataclass
class Page(Generic[T]):
    """One page of a list: its items and what the pagination headers said."""

    items: list[T]
    total: int | None
    page: int | None
    per_page: int | None
    next_url: str | None


def _page_of(response: httpx.Response, data: Any) -> Page[Any]:
    def number(name: str) -> int | None:
        value = response.headers.get(name)
        return int(value) if value and value.isdigit() else None

    return Page(
        items=list(data) if isinstance(data, list) else [data],
        total=number("X-Total-Count"),
        page=number("X-Page"),
        per_page=number("X-Per-Page"),
        next_url=next_link(response),
    )


class _Base:
    """What the sync and async clients share: settings, URLs, headers, decisions."""

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        page_id: str | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        idempotency_keys: bool = True,
        dry_run: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.url, self.token, self.page_id = resolve_settings(url, token, page_id)
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.idempotency_keys = idempotency_keys
        self.dry_run = dry_run
        self.headers = {
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
            **(headers or {}),
        }
        if self.token:
            self.headers["Authorization"] = f"OAuth {self.token}"

    def _url(self, operation: Operation, path_params: Mapping[str, str]) -> str:
        values = {"page_id": self.page_id, **path_params}

        def fill(match: re.Match[str]) -> str:
            return quote(str(values[match.group(1)]), safe="")

        return self.url + re.sub(r"\{(\w+)\}", fill, operation.path)

    def _follow(self, link: str) -> str:
        """A next-page link on our own base URL: behind a proxy the server may name itself
        by another scheme or host than the one we reach it by."""
        parts = urlsplit(link)
        base = urlsplit(self.url)
        return urlunsplit((base.scheme, base.netloc, parts.path, parts.query, ""))

    def _build(
        self,
        http: httpx.Client | httpx.AsyncClient,
        operation: Operation,
        url: str,
        *,
        query: Mapping[str, Any] | None,
        fields: Mapping[str, Any] | None,
        extra_fields: Mapping[str, Any] | None,
        idempotency_key: str | None,
    ) -> httpx.Request:
        headers = dict(self.headers)
        content = None
        if operation.method in ("POST", "PUT", "PATCH"):
            inner = {**_clean(fields or {}), **(extra_fields or {})}
            body = {operation.envelope: inner} if operation.envelope else inner
            content = json.dumps(body, default=_encode).encode()
            headers["Content-Type"] = "application/json"
        if operation.method == "POST":
            key = idempotency_key or (str(uuid.uuid4()) if self.idempotency_keys else None)
            if key:
                headers["Idempotency-Key"] = key
        params = {k: _param(v) for k, v in _clean(query or {}).items()}
        return http.build_request(
            operation.method, url, params=params, headers=headers, content=content
        )

    def _check_dry_run(self, request: httpx.Request) -> None:
        if self.dry_run and request.method not in ("GET", "HEAD"):
            raise DryRun(request)

    def _retry_wait(
        self, request: httpx.Request, response: httpx.Response | None, attempt: int, failure: Any
    ) -> float | None:
        """Seconds to wait before sending again, or None to give up now."""
        if attempt >= self.retry.max_retries:
            return None
        replay_safe = request.method in REPLAY_SAFE or (
            request.method == "POST" and "Idempotency-Key" in request.headers
        )
        if response is None:  # no answer
            if isinstance(failure, httpx.ConnectError | httpx.ConnectTimeout):
                return self.retry.wait(attempt)  # never reached the server
            return self.retry.wait(attempt) if replay_safe else None
        status = response.status_code
        if status == 409 and attempt > 0 and "Idempotency-Key" in request.headers:
            # Our first try is still running on the server: its answer will be stored.
            return self.retry.wait(attempt)
        if status not in self.retry.statuses:
            return None
        if status == 429:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if retry_after is not None and retry_after > self.retry.max_retry_after:
                return None
            return self.retry.wait(attempt, retry_after)
        if status == 502 and _is_api_error(response):
            return None
        if not replay_safe:
            return None
        return self.retry.wait(attempt, parse_retry_after(response.headers.get("Retry-After")))

    @staticmethod
    def _result(response: httpx.Response) -> Any:
        if response.status_code >= 400:
            raise error_for(response)
        if response.status_code == 204 or not response.content:
            return None
        if "json" in response.headers.get("Content-Type", ""):
            return response.json()
        return response.text  # e.g. a credit report's CSV


def _param(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _is_api_error(response: httpx.Response) -> bool:
    try:
        data = response.json()
    except ValueError:
        return False
    return isinstance(data, dict) and "message" in data


class SyncTransport(_Base):
    """The synchronous half: `httpx.Client`, `time.sleep` between tries."""

    def __init__(self, *args: Any, http_client: httpx.Client | None = None, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self._owns_http = http_client is None
        self.http = http_client or httpx.Client(timeout=self.timeout)
        self._sleep = time.sleep

    def close(self) -> None:
        if self._owns_http:
            self.http.close()

    def __enter__(self) -> SyncTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, request: httpx.Request) -> httpx.Response:
        self._check_dry_run(request)
        attempt = 0
        while True:
            response: httpx.Response | None = None
            failure: Exception | None = None
            try:
                response = self.http.send(request)
                response.read()
            except httpx.TransportError as exc:
                failure = exc
            wait = self._retry_wait(request, response, attempt, failure)
            if wait is None:
                if response is None:
                    raise NetworkError(f"{request.method} {request.url}: {failure}") from failure
                return response
            self._sleep(wait)
            attempt += 1

    def _call(
        self,
        operation: Operation,
        path: Mapping[str, str] | None = None,
        *,
        query: Mapping[str, Any] | None = None,
        fields: Mapping[str, Any] | None = None,
        extra_fields: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Any:
        url = self._url(operation, path or {})
        request = self._build(
            self.http,
            operation,
            url,
            query=query,
            fields=fields,
            extra_fields=extra_fields,
            idempotency_key=idempotency_key,
        )
        return self._result(self._send(request))

    def _list(
        self,
        operation: Operation,
        path: Mapping[str, str] | None = None,
        *,
        query: Mapping[str, Any] | None = None,
    ) -> Paginator[Any]:
        url = self._url(operation, path or {})
        first = self._build(
            self.http,
            operation,
            url,
            query=query,
            fields=None,
            extra_fields=None,
            idempotency_key=None,
        )
        return Paginator(self, first)


class AsyncTransport(_Base):
    """The asynchronous half: `httpx.AsyncClient`, `asyncio.sleep` between tries."""

    def __init__(self, *args: Any, http_client: httpx.AsyncClient | None = None, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self._owns_http = http_client is None
        self.http = http_client or httpx.AsyncClient(timeout=self.timeout)
        self._sleep = asyncio.sleep

    async def aclose(self) -> None:
        if self._owns_http:
            await self.http.aclose()

    async def __aenter__(self) -> AsyncTransport:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _send(self, request: httpx.Request) -> httpx.Response:
        self._check_dry_run(request)
        attempt = 0
        while True:
            response: httpx.Response | None = None
            failure: Exception | None = None
            try:
                response = await self.http.send(request)
                await response.aread()
            except httpx.TransportError as exc:
                failure = exc
            wait = self._retry_wait(request, response, attempt, failure)
            if wait is None:
                if response is None:
                    raise NetworkError(f"{request.method} {request.url}: {failure}") from failure
                return response
            await self._sleep(wait)
            attempt += 1

    async def _call(
        self,
        operation: Operation,
        path: Mapping[str, str] | None = None,
        *,
        query: Mapping[str, Any] | None = None,
        fields: Mapping[str, Any] | None = None,
        extra_fields: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Any:
        url = self._url(operation, path or {})
        request = self._build(
            self.http,
            operation,
            url,
            query=query,
            fields=fields,
            extra_fields=extra_fields,
            idempotency_key=idempotency_key,
        )
        return self._result(await self._send(request))

    def _list(
        self,
        operation: Operation,
        path: Mapping[str, str] | None = None,
        *,
        query: Mapping[str, Any] | None = None,
    ) -> AsyncPaginator[Any]:
        url = self._url(operation, path or {})
        first = self._build(
            self.http,
            operation,
            url,
            query=query,
            fields=None,
            extra_fields=None,
            idempotency_key=None,
        )
        return AsyncPaginator(self, first)


class Paginator(Generic[T]):
    """A list of the API, page after page: iterate it for every item (the next page is
    fetched when the last one is used up, by its `Link: rel="next"`), or call `pages()` for
    the pages with their totals. Nothing is fetched until it is iterated."""

    def __init__(self, transport: SyncTransport, first: httpx.Request) -> None:
        self._transport = transport
        self._first = first

    def pages(self) -> Iterator[Page[T]]:
        request: httpx.Request | None = self._first
        while request is not None:
            response = self._transport._send(request)
            page = _page_of(response, self._transport._result(response))
            yield page
            request = (
                self._transport.http.build_request(
                    "GET", self._transport._follow(page.next_url), headers=self._transport.headers
                )
                if page.next_url
                else None
            )

    def __iter__(self) -> Iterator[T]:
        for page in self.pages():
            yield from page.items

    def first_page(self) -> Page[T]:
        return next(iter(self.pages()))

    def to_list(self) -> list[T]:
        return list(self)


class AsyncPaginator(Generic[T]):
    """The async `Paginator`: `async for item in client.incidents.list(): …`."""

    def __init__(self, transport: AsyncTransport, first: httpx.Request) -> None:
        self._transport = transport
        self._first = first

    async def pages(self) -> AsyncIterator[Page[T]]:
        request: httpx.Request | None = self._first
        while request is not None:
            response = await self._transport._send(request)
            page = _page_of(response, self._transport._result(response))
            yield page
            request = (
                self._transport.http.build_request(
                    "GET", self._transport._follow(page.next_url), headers=self._transport.headers
                )
                if page.next_url
                else None
            )

    async def __aiter__(self) -> AsyncIterator[T]:
        async for page in self.pages():
            for item in page.items:
                yield item

    async def first_page(self) -> Page[T]:
        async for page in self.pages():
            return page
        raise HeliographError("The list answered no page.")

    async def to_list(self) -> list[T]:
        return [item async for item in self]
