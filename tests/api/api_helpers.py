"""HTTP helper of the API tests (imported by the tests and conftest)."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from django.conf import settings
from django.test import Client

BASE = f"/v1/pages/{settings.PAGE_ID}"


class Api:
    """Sends requests the way scripts do: `Authorization: OAuth <token>`, JSON or form."""

    def __init__(self, client: Client, token: str) -> None:
        self.client = client
        self.token = token

    def __call__(
        self,
        method: str,
        path: str,
        *,
        json_body: dict | None = None,
        form: dict | list | None = None,
        raw: str | None = None,
        content_type: str = "application/json",
        token: str | None = None,
        auth: str = "OAuth",
    ):
        url = path if path.startswith("/") else f"{BASE}/{path}"
        headers = {}
        if auth:
            headers["HTTP_AUTHORIZATION"] = f"{auth} {token or self.token}"
        kwargs: dict = {}
        if json_body is not None:
            kwargs = {"data": json.dumps(json_body), "content_type": "application/json"}
        elif form is not None:
            kwargs = {
                "data": urlencode(form, doseq=True),
                "content_type": "application/x-www-form-urlencoded",
            }
        elif raw is not None:
            kwargs = {"data": raw, "content_type": content_type}
        return getattr(self.client, method.lower())(url, **kwargs, **headers)


class HookSink:
    """A loopback HTTP server that records webhook POSTs and answers `status`."""

    def __init__(self, status: int = 200) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        sink = self
        self.status = status
        self.received: list[dict] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                try:
                    parsed = json.loads(body)
                except ValueError:
                    parsed = {"raw": body.decode(errors="replace")}
                sink.received.append({"path": self.path, "json": parsed})
                self.send_response(sink.status)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
