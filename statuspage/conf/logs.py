"""API tokens never reach a log: what redacts them from Django's logging and gunicorn's.

A script may send its token as `?api_key=hg_…` (v1 clients do), so the token is in the
request line that an access log writes, in the URI of gunicorn's "Error handling request",
in a Referer. `redact` keeps enough to tell tokens apart (`hg_abc…[redacted]`) and nothing
that authenticates; an `Authorization` header is never logged at all.

- Django: `RedactTokens` is the filter of the console handler of settings.LOGGING, which
  every logger ends in (django.request, django.server, ours).
- gunicorn: `GunicornLogger` (`--logger-class statuspage.conf.logs.GunicornLogger`, as
  `make run` starts it) redacts every atom of the access log, whatever its format, and
  filters the error and access loggers the same way.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from gunicorn.glogging import Logger

REDACTED = "[redacted]"
# An API token (statuspage.api.models: "hg_" and 43 URL-safe characters), anywhere.
_TOKEN = re.compile(r"hg_[A-Za-z0-9_-]{4,}")
# The value of `api_key=` in a query string, whatever it is (a mistyped token too).
_API_KEY = re.compile(r"(?i)(\bapi_key(?:=|%3D))(?!hg_)([^&\s\"'<>]+)")
# `Authorization: <scheme> <credentials>` written out as text.
_AUTHORIZATION = re.compile(r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?)([^\"'\r\n,}]+)")


def _shorten(match: re.Match[str]) -> str:
    return f"{match.group()[:6]}…{REDACTED}"


def redact(text: str) -> str:
    """`text` with API tokens, `api_key=` values and Authorization credentials redacted."""
    if not text:
        return text
    text = _AUTHORIZATION.sub(lambda m: m.group(1) + REDACTED, text)
    text = _TOKEN.sub(_shorten, text)
    return _API_KEY.sub(lambda m: m.group(1) + REDACTED, text)


class RedactTokens(logging.Filter):
    """Rewrites a record's message (and its traceback) with `redact` before any handler
    formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: let the handler report it as usual
            return True
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class GunicornLogger(Logger):
    """gunicorn's logger with tokens redacted from the access log (every atom: the request
    line `%(r)s`, the query `%(q)s`, the Referer `%(f)s`, headers `%({name}i)s`, environ
    `%({name}e)s`; Authorization and Cookie not at all) and from the error log."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            if not any(isinstance(f, RedactTokens) for f in log.filters):
                log.addFilter(RedactTokens())

    def atoms(self, resp: Any, req: Any, environ: dict, request_time: Any) -> dict:
        atoms = super().atoms(resp, req, environ, request_time)
        for key, value in atoms.items():
            if "authorization" in key.lower() or "cookie" in key.lower():
                atoms[key] = REDACTED if value else value
            elif isinstance(value, str):
                atoms[key] = redact(value)
        return atoms
