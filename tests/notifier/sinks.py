"""Real servers on loopback that answer like Slack, Discord, a webhook receiver and an SMTP
server, and remember what they received. Used by the notifier tests and bench/fanout.py.

HTTP (`ChatSink`, a threaded HTTP server):
- `POST /services/…`            Slack incoming webhook: 200 `ok` (text/plain)
- `POST /api/chat.postMessage`  Slack Web API: 200 JSON `{"ok": true, "ts": …}`
- `POST /api/v10/webhooks/<id>/<token>` Discord execute webhook: 200 JSON message
  (`id`, `channel_id`, `type`, `content`, `embeds`), Content-Type exactly application/json
- anything else                 a webhook receiver: 200 `{}`
GET is answered and recorded the same way (what a client following a redirect would send).
A script per path prefix overrides the default answers, one answer per request (e.g. a 429
with Retry-After, then 200), and `delay` makes every answer slow.

SMTP (`SmtpSink`, aiosmtpd): accepts everything, except addresses in `reject` (550 on RCPT).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller


@dataclass
class Answer:
    status: int = 200
    body: str | bytes | dict = "ok"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    def json(self) -> dict:
        return json.loads(self.body)


class ChatSink:
    """`tls`: a server-side SSL context; the sink then speaks HTTPS at https://localhost:…"""

    def __init__(self, delay: float = 0.0, tls: ssl.SSLContext | None = None) -> None:
        self.delay = delay
        self.received: list[Received] = []
        self._scripts: dict[str, list[Answer]] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # no 40 ms delayed-ACK stalls on keep-alive
            wbufsize = 65536  # headers and body leave in one write (flushed per request)

            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                answer = sink._answer(self.command, self.path, dict(self.headers), body)
                if answer.delay:
                    time.sleep(answer.delay)
                payload = answer.body
                content_type = answer.headers.get("Content-Type")
                if isinstance(payload, dict):
                    payload = json.dumps(payload).encode()
                    content_type = content_type or "application/json"
                elif isinstance(payload, str):
                    payload = payload.encode()
                self.send_response(answer.status)
                self.send_header("Content-Type", content_type or "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in answer.headers.items():
                    if name != "Content-Type":
                        self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            # A client that follows a redirect may come back with GET (302, 303); the sink
            # records it like any request, so a test can assert it never came.
            do_GET = do_POST

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.request_queue_size = 256
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
            self.url = f"https://localhost:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def script(self, prefix: str, *answers: Answer) -> None:
        """Answer the next requests to paths starting with `prefix` with `answers`, in order."""
        with self._lock:
            self._scripts.setdefault(prefix, []).extend(answers)

    def requests_to(self, prefix: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.path.startswith(prefix)]

    def _answer(self, method: str, path: str, headers: dict, body: bytes) -> Answer:
        with self._lock:
            self.received.append(Received(method, path, headers, body, time.time()))
            for prefix, answers in self._scripts.items():
                if path.startswith(prefix) and answers:
                    return answers.pop(0)
        return self._default(path, body)

    def _default(self, path: str, body: bytes) -> Answer:
        delay = self.delay
        if path.startswith("/services/"):
            return Answer(200, "ok", delay=delay)
        if path.startswith("/api/chat.postMessage"):
            data = _parse(body)
            n = next(self._ids)
            return Answer(
                200,
                {
                    "ok": True,
                    "channel": data.get("channel", "C0"),
                    "ts": f"1700000000.{n:06d}",
                    "message": {"text": data.get("text", ""), "thread_ts": data.get("thread_ts")},
                },
                delay=delay,
            )
        if path.startswith("/api/v10/webhooks/"):
            data = _parse(body)
            return Answer(
                200,
                {
                    "id": str(100000000000000000 + next(self._ids)),
                    "channel_id": "200000000000000000",
                    "type": 0,
                    "content": data.get("content") or "",
                    "embeds": data.get("embeds") or [],
                    "attachments": [],
                    "mentions": [],
                    "mention_roles": [],
                    "pinned": False,
                    "mention_everyone": False,
                    "tts": False,
                    "timestamp": "2026-06-22T20:09:00.000000+00:00",
                    "edited_timestamp": None,
                    "flags": 0,
                    "webhook_id": path.split("/")[4],
                },
                headers={"Content-Type": "application/json"},
                delay=delay,
            )
        return Answer(200, {}, delay=delay)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _parse(body: bytes) -> dict:
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


@dataclass
class Mail:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self):
        import email
        from email import policy

        return email.message_from_bytes(self.data, policy=policy.default)


class SmtpSink:
    """aiosmtpd on loopback; `reject` addresses get 550 at RCPT TO, `delay` slows DATA."""

    def __init__(self, delay: float = 0.0) -> None:
        self.received: list[Mail] = []
        self.reject: set[str] = set()
        self.connections = 0  # SMTP sessions (EHLO) seen
        self.delay = delay
        self._lock = threading.Lock()
        sink = self

        class Handler:
            async def handle_EHLO(self, server, session, envelope, hostname, responses):
                with sink._lock:
                    sink.connections += 1
                session.host_name = hostname
                return responses

            async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
                if address.lower() in sink.reject:
                    return "550 5.1.1 No such user here"
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, server, session, envelope):
                if sink.delay:
                    await asyncio.sleep(sink.delay)
                with sink._lock:
                    sink.received.append(
                        Mail(envelope.mail_from, list(envelope.rcpt_tos), envelope.content)
                    )
                return "250 Message accepted for delivery"

        self.host = "127.0.0.1"
        self.port = free_port()
        self.controller = Controller(Handler(), hostname=self.host, port=self.port)
        self.controller.start()

    def to(self, address: str) -> list[Mail]:
        with self._lock:
            return [m for m in self.received if address in m.rcpt_tos]

    def close(self) -> None:
        self.controller.stop()
