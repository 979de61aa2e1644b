"""API tokens never reach a log: `?api_key=hg_…` and Authorization headers are redacted from
Django's logging (the handler settings.LOGGING configures) and from gunicorn's access and
error logs as `make run` starts gunicorn (a real gunicorn on loopback)."""

from __future__ import annotations

import io
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

from statuspage.conf.logs import RedactTokens, redact

TOKEN = "hg_" + "Zx9" * 14 + "q"  # the shape of a real one: hg_ and 43 URL-safe characters
SHOWN = "hg_Zx9…[redacted]"


def test_redact_keeps_a_prefix_of_tokens_and_nothing_of_other_secrets():
    line = f"GET /v1/pages/p/incidents?page=2&api_key={TOKEN} HTTP/1.1"
    assert redact(line) == f"GET /v1/pages/p/incidents?page=2&api_key={SHOWN} HTTP/1.1"
    assert redact("GET /v1/x?api_key=not-a-token&q=1") == "GET /v1/x?api_key=[redacted]&q=1"
    assert redact(f"Authorization: OAuth {TOKEN}") == "Authorization: [redacted]"
    headers = {"HTTP_AUTHORIZATION": "Bearer abc.def", "HTTP_HOST": "status.example.com"}
    assert "abc.def" not in redact(str(headers)) and "status.example.com" in redact(str(headers))
    assert redact("GET /v1/pages?page=2 HTTP/1.1") == "GET /v1/pages?page=2 HTTP/1.1"


def configured_handler() -> logging.Handler:
    """The console handler of settings.LOGGING, on the root logger."""
    [handler] = [
        h
        for h in logging.getLogger().handlers
        if any(isinstance(f, RedactTokens) for f in h.filters)
    ]
    return handler


def test_django_logging_redacts_tokens_from_messages_and_tracebacks():
    assert "redact_tokens" in settings.LOGGING["handlers"]["console"]["filters"]
    handler = configured_handler()
    out = io.StringIO()
    old = handler.setStream(out)
    try:
        logging.getLogger("django.request").warning(
            "Unauthorized: %s", f"/v1/pages/p/incidents?api_key={TOKEN}"
        )
        try:
            raise ValueError(f"bad header Authorization: OAuth {TOKEN}")
        except ValueError:
            logging.getLogger("statuspage.api.framework").exception(
                "API error on GET /v1/pages/p/incidents?api_key=%s", TOKEN
            )
        logging.getLogger("django.server").info(f'"GET /v1/pages?api_key={TOKEN} HTTP/1.1" 200')
    finally:
        handler.setStream(old)
    text = out.getvalue()
    assert TOKEN not in text and TOKEN[6:20] not in text
    assert f"Unauthorized: /v1/pages/p/incidents?api_key={SHOWN}" in text
    assert "ValueError: bad header Authorization: [redacted]" in text


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


APP = """
def application(environ, start_response):
    if environ["PATH_INFO"] == "/boom":
        raise RuntimeError("boom")
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]
"""


def test_gunicorn_as_make_run_starts_it_redacts_tokens(tmp_path: Path):
    """The flags of run_heliograph (statuspage/demo/management/commands/run_heliograph.py):
    the access log on, our logger class; a format with every atom a token could be in."""
    (tmp_path / "tokenapp.py").write_text(APP)
    port = free_port()
    access, errors = tmp_path / "access.log", tmp_path / "error.log"
    gunicorn = Path(sys.executable).parent / "gunicorn"
    proc = subprocess.Popen(
        [
            str(gunicorn),
            "tokenapp:application",
            "--chdir",
            str(tmp_path),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--access-logfile",
            str(access),
            "--error-logfile",
            str(errors),
            "--logger-class",
            "statuspage.conf.logs.GunicornLogger",
            "--no-control-socket",  # no socket in $HOME shared with another gunicorn
            "--access-logformat",
            '%(h)s "%(r)s" %(s)s q=%(q)s U=%(U)s f="%(f)s" auth="%({authorization}i)s" '
            'raw="%({raw_uri}e)s"',
        ],
        env={**os.environ, "PYTHONPATH": str(Path(settings.BASE_DIR))},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"{base}/ready", timeout=1).read()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.1)
        request = urllib.request.Request(
            f"{base}/v1/pages/p/incidents?api_key={TOKEN}&page=2",
            headers={
                "Authorization": f"OAuth {TOKEN}",
                "Referer": f"{base}/v1/docs?api_key={TOKEN}",
            },
        )
        assert urllib.request.urlopen(request, timeout=5).read() == b"ok"
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(f"{base}/boom?api_key={TOKEN}", timeout=5)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
    access_log = access.read_text()
    error_log = errors.read_text()
    assert "/v1/pages/p/incidents" in access_log and "Error handling request" in error_log
    for text in (access_log, error_log):
        assert TOKEN not in text and TOKEN[6:20] not in text
    assert f"GET /v1/pages/p/incidents?api_key={SHOWN}&page=2 HTTP/1.1" in access_log
    assert f"q=api_key={SHOWN}&page=2" in access_log
    assert f'f="{base}/v1/docs?api_key={SHOWN}"' in access_log
    assert 'auth="[redacted]"' in access_log
    assert f"/boom?api_key={SHOWN}" in error_log
