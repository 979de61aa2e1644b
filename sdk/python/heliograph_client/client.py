"""`Client` and `AsyncClient`: the transport (HTTP, retries, errors) with every resource of the
API attached (`client.incidents`, `client.components`, …, generated in `_operations.py`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from heliograph_client._core import AsyncTransport, RetryPolicy, SyncTransport
from heliograph_client._operations import AsyncApi, SyncApi


class Client(SyncTransport, SyncApi):
    """The API, synchronously.

        client = Client("https://status.example.com", "hg_…")   # or HELIOGRAPH_URL/TOKEN
        incident = client.incidents.create(name="Runs not starting", status="investigating")

    `url` is the site (a URL ending in /v1 or /v1/pages/<id> works too); `token` is an API
    token (sent as `Authorization: OAuth <token>`); `page_id` defaults to HELIOGRAPH_PAGE_ID
    or "heliograph". Use it as a context manager, or call `close()`, to free connections.
    """

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
        http_client: httpx.Client | None = None,
    ) -> None:
        SyncTransport.__init__(
            self,
            url,
            token,
            page_id=page_id,
            timeout=timeout,
            retry=retry,
            idempotency_keys=idempotency_keys,
            dry_run=dry_run,
            headers=headers,
            http_client=http_client,
        )
        SyncApi.__init__(self, self)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class AsyncClient(AsyncTransport, AsyncApi):
    """The API with `async`/`await`: the same resources and methods as `Client`.

    async with AsyncClient() as client:
        async for incident in client.incidents.list_unresolved():
            ...
    """

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
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        AsyncTransport.__init__(
            self,
            url,
            token,
            page_id=page_id,
            timeout=timeout,
            retry=retry,
            idempotency_keys=idempotency_keys,
            dry_run=dry_run,
            headers=headers,
            http_client=http_client,
        )
        AsyncApi.__init__(self, self)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()
