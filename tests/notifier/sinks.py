"""Real servers on loopback that answer like Slack, Discord, Microsoft Teams, Twilio, a webhook
receiver and an SMTP server, and remember what they received. Used by the notifier tests and
bench/fanout.py.

HTTP (`ChatSink`, a threaded HTTP server):
- `POST /services/…`            Slack incoming webhook: 200 `ok` (text/plain)
- `POST /api/chat.postMessage`  Slack Web API: 200 JSON `{"ok": true, "ts": …}`
- `POST /api/v10/webhooks/<id>/<token>` Discord execute webhook: 200 JSON message
  (`id`, `channel_id`, `type`, `content`, `embeds`), Content-Type exactly application/json
- `POST /workflows/…/paths/invoke` Teams Workflows webhook: 202 (empty body) when the body is
  a message with an Adaptive Card attachment that passes `teams_card_problems` (schema,
  version, required fields of every element and action), else 400 with the problems
- `POST /2010-04-01/Accounts/<sid>/Messages.json` Twilio's Messages API: 201 JSON message
  resource (`sid`, `status` "queued", `num_segments`, …) for a form with `To`, `Body` and
  `From` or `MessagingServiceSid`, sent with HTTP Basic auth as the account in the path (and
  with `twilio_token`, when set); else Twilio's error JSON (401 / 20003, 400 / 21604)
- anything else                 a webhook receiver: 200 `{}`
GET is answered and recorded the same way (what a client following a redirect would send).
A script per path prefix overrides the default answers, one answer per request (e.g. a 429
with Retry-After, then 200), and `delay` makes every answer slow.

SMTP (`SmtpSink`, aiosmtpd): accepts everything, except addresses in `reject` (550 on RCPT).
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import re
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

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

    def form(self) -> dict[str, str]:
        """A form-encoded body (Twilio's API), one value per name."""
        return {k: v[-1] for k, v in parse_qs(self.body.decode(), keep_blank_values=True).items()}


class ChatSink:
    """`tls`: a server-side SSL context; the sink then speaks HTTPS at https://localhost:…"""

    def __init__(self, delay: float = 0.0, tls: ssl.SSLContext | None = None) -> None:
        self.delay = delay
        self.received: list[Received] = []
        # Twilio: the auth token the account of the path must present (None: any).
        self.twilio_token: str | None = None
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
        return self._default(path, body, headers)

    def texts(self) -> list[dict[str, str]]:
        """The forms of the texts Twilio was asked to send, in order."""
        return [r.form() for r in self.requests_to("/2010-04-01/")]

    def _default(self, path: str, body: bytes, headers: dict) -> Answer:
        delay = self.delay
        if path.startswith(("/workflows/", "/powerautomate/")):
            problems = teams_card_problems(body)
            if problems:
                error = {"code": "InvalidRequestContent", "message": "; ".join(problems)}
                return Answer(400, {"error": error}, delay=delay)
            return Answer(202, b"", delay=delay)
        twilio = _TWILIO_MESSAGES.match(path.split("?", 1)[0])
        if twilio:
            return self._twilio_message(twilio["sid"], body, headers, delay)
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

    def _twilio_message(self, sid: str, body: bytes, headers: dict, delay: float) -> Answer:
        auth = headers.get("Authorization") or headers.get("authorization") or ""
        user, token = "", ""
        if auth.startswith("Basic "):
            user, _, token = base64.b64decode(auth[6:]).decode().partition(":")
        if user != sid or (self.twilio_token is not None and token != self.twilio_token):
            return Answer(401, _twilio_error(20003, "Authenticate", 401), delay=delay)
        form = {k: v[-1] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
        if not form.get("To") or not form.get("Body"):
            return Answer(400, _twilio_error(21604, "A 'To' phone number is required.", 400))
        if not form.get("From") and not form.get("MessagingServiceSid"):
            return Answer(400, _twilio_error(21603, "A 'From' phone number is required.", 400))
        n = next(self._ids)
        message_sid = f"SM{n:032x}"
        return Answer(
            201,
            {
                "sid": message_sid,
                "account_sid": sid,
                "to": form["To"],
                "from": form.get("From"),
                "messaging_service_sid": form.get("MessagingServiceSid"),
                "body": form["Body"],
                "status": "queued",
                "num_segments": "1",
                "num_media": "0",
                "direction": "outbound-api",
                "api_version": "2010-04-01",
                "price": None,
                "price_unit": "USD",
                "error_code": None,
                "error_message": None,
                "date_created": "Mon, 22 Jun 2026 20:09:00 +0000",
                "date_updated": "Mon, 22 Jun 2026 20:09:00 +0000",
                "date_sent": None,
                "uri": f"/2010-04-01/Accounts/{sid}/Messages/{message_sid}.json",
                "subresource_uris": {},
            },
            headers={"Content-Type": "application/json"},
            delay=delay,
        )


_TWILIO_MESSAGES = re.compile(r"^/2010-04-01/Accounts/(?P<sid>AC\w+)/Messages\.json$")


def _twilio_error(code: int, message: str, status: int) -> dict:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"
CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
TEAMS_MAX_VERSION = (1, 5)  # the newest Adaptive Card version Teams renders
TEAMS_MAX_BYTES = 28 * 1024
_ELEMENTS = {
    "TextBlock",
    "FactSet",
    "Container",
    "ColumnSet",
    "Image",
    "ActionSet",
    "RichTextBlock",
}


def teams_card_problems(body: bytes) -> list[str]:
    """What a Teams Workflows webhook would refuse or not render in a request body: the
    message envelope, the Adaptive Card attachment, its `$schema` and `version` (a
    "major.minor" Teams renders), and the required fields of every body element and action."""
    problems: list[str] = []
    if len(body) > TEAMS_MAX_BYTES:
        problems.append(f"message is {len(body)} bytes; Teams takes at most {TEAMS_MAX_BYTES}")
    try:
        message = json.loads(body)
    except ValueError:
        return ["body is not JSON"]
    if not isinstance(message, dict) or message.get("type") != "message":
        return ['top-level "type" must be "message"']
    attachments = message.get("attachments")
    if not isinstance(attachments, list) or not attachments:
        return ['"attachments" must be a non-empty list']
    for a, attachment in enumerate(attachments):
        where = f"attachments[{a}]"
        if not isinstance(attachment, dict) or attachment.get("contentType") != ADAPTIVE_CARD:
            problems.append(f'{where}.contentType must be "{ADAPTIVE_CARD}"')
            continue
        card = attachment.get("content")
        if not isinstance(card, dict):
            problems.append(f"{where}.content must be an object")
            continue
        if card.get("type") != "AdaptiveCard":
            problems.append(f'{where}.content.type must be "AdaptiveCard"')
        if card.get("$schema") != CARD_SCHEMA:
            problems.append(f'{where}.content.$schema must be "{CARD_SCHEMA}"')
        version = card.get("version")
        match = re.fullmatch(r"(\d+)\.(\d+)", version) if isinstance(version, str) else None
        if not match:
            problems.append(f'{where}.content.version must be a "major.minor" string')
        elif (int(match[1]), int(match[2])) > TEAMS_MAX_VERSION:
            problems.append(f"{where}.content.version {version} is newer than Teams renders")
        elements = card.get("body")
        if not isinstance(elements, list) or not elements:
            problems.append(f"{where}.content.body must be a non-empty list")
            elements = []
        for e, element in enumerate(elements):
            problems += _element_problems(element, f"{where}.content.body[{e}]")
        actions = card.get("actions", [])
        if not isinstance(actions, list):
            problems.append(f"{where}.content.actions must be a list")
            actions = []
        for n, action in enumerate(actions):
            spot = f"{where}.content.actions[{n}]"
            if not isinstance(action, dict) or action.get("type") != "Action.OpenUrl":
                problems.append(f'{spot}.type must be "Action.OpenUrl"')
                continue
            if not isinstance(action.get("title"), str) or not action["title"]:
                problems.append(f"{spot}.title is required")
            if not isinstance(action.get("url"), str) or not action["url"].startswith("http"):
                problems.append(f"{spot}.url must be an http(s) URL")
    return problems


def _element_problems(element: object, where: str) -> list[str]:
    if not isinstance(element, dict) or element.get("type") not in _ELEMENTS:
        return [f"{where}.type must be one of {', '.join(sorted(_ELEMENTS))}"]
    if element["type"] == "TextBlock" and (
        not isinstance(element.get("text"), str) or not element["text"]
    ):
        return [f"{where}.text is required"]
    if element["type"] == "FactSet":
        facts = element.get("facts")
        if not isinstance(facts, list) or not facts:
            return [f"{where}.facts must be a non-empty list"]
        return [
            f"{where}.facts[{i}] needs a string title and value"
            for i, fact in enumerate(facts)
            if not (
                isinstance(fact, dict)
                and isinstance(fact.get("title"), str)
                and isinstance(fact.get("value"), str)
            )
        ]
    return []


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
