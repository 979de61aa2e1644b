"""Errors of the API as exceptions.

The API answers an error as `{"message": "…", "errors": {field: message}}` with an HTTP
status; every exception here carries those three (`.status`, `.message`, `.errors`), and the
subclass says which kind of refusal it was, so a script can catch exactly what it handles.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a `Retry-After` header: a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class HeliographError(Exception):
    """An error answered by the API (or no answer at all: `status` is None then)."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        errors: dict[str, str] | None = None,
        response: httpx.Response | None = None,
    ) -> None:
        super().__init__(message if status is None else f"{status}: {message}")
        self.status = status
        self.message = message
        self.errors: dict[str, str] = errors or {}
        self.response = response

    @property
    def headers(self) -> httpx.Headers:
        return self.response.headers if self.response is not None else httpx.Headers()


class BadRequestError(HeliographError):
    """400: the body could not be read (malformed JSON)."""


class AuthenticationError(HeliographError):
    """401: no token, or an unknown or revoked one."""


class PermissionDeniedError(HeliographError):
    """403: the token lacks the scope of the operation."""


class NotFoundError(HeliographError):
    """404: unknown page or id."""


class ConflictError(HeliographError):
    """409: a request with the same Idempotency-Key is still being processed."""


class PayloadTooLargeError(HeliographError):
    """413: the body is larger than the server accepts."""


class ValidationError(HeliographError):
    """422: a field was refused; `.errors` maps each field to its message. Nothing was written."""


class RateLimitError(HeliographError):
    """429: too many requests for this token; `.retry_after` is the wait the server asked for."""

    @property
    def retry_after(self) -> float | None:
        return parse_retry_after(self.headers.get("Retry-After"))


class ServerError(HeliographError):
    """5xx: the server failed (or a channel test failed: 502 with the reason)."""


class NetworkError(HeliographError):
    """No answer: the server could not be reached, or the connection broke."""


class DryRun(Exception):  # noqa: N818 - it is not an error: the request was not sent on purpose
    """Raised instead of sending a write when the client was made with `dry_run=True`.

    Carries the request exactly as it would have been sent (`method`, `url`, `headers`,
    `body`); reads are still sent, so names can be looked up first."""

    def __init__(self, request: httpx.Request) -> None:
        super().__init__(f"{request.method} {request.url}")
        self.request = request
        self.method = request.method
        self.url = str(request.url)
        self.headers = request.headers
        content = request.content
        self.body: Any = None
        if content:
            try:
                self.body = json.loads(content)
            except ValueError:
                self.body = content.decode("utf-8", errors="replace")


BY_STATUS: dict[int, type[HeliographError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: PayloadTooLargeError,
    422: ValidationError,
    429: RateLimitError,
}


def error_for(response: httpx.Response) -> HeliographError:
    """The exception of an error answer, with the API's message and field errors."""
    message = response.reason_phrase or "HTTP error"
    errors: dict[str, str] = {}
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict):
        message = str(data.get("message") or message)
        if isinstance(data.get("errors"), dict):
            errors = {str(k): str(v) for k, v in data["errors"].items()}
    elif response.text and len(response.text) < 500:
        message = response.text.strip() or message
    cls = BY_STATUS.get(response.status_code)
    if cls is None:
        cls = ServerError if response.status_code >= 500 else HeliographError
    return cls(message, status=response.status_code, errors=errors, response=response)
