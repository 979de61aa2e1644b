"""Real monitoring parts on loopback for the detection tests and bench/detect.py: Debian's
Prometheus Alertmanager and Prometheus, each started with a temporary config on a free
loopback port, and a tiny exporter (http.server) whose gauge the test sets.

Nothing here talks to anything but 127.0.0.1: Alertmanager's clustering is off (it would
listen on 0.0.0.0:9094 and gossip), and its only receiver is the intake URL given.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ALERTMANAGER = shutil.which("prometheus-alertmanager") or "/usr/bin/prometheus-alertmanager"
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(check, *, timeout: float, interval: float = 0.05, what: str = "condition"):
    """Poll `check()` until it returns something truthy; that value, or TimeoutError."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached within {timeout} s")
        time.sleep(interval)


def _http(url: str, *, data: bytes | None = None, timeout: float = 5) -> tuple[int, bytes]:
    request = urllib.request.Request(
        url, data=data, headers={"Content-Type": "application/json"} if data else {}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - loopback
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError:
        return 0, b""


class _Process:
    """A server process with its temporary directory; `close()` ends it (by its pid)."""

    name = "server"

    def __init__(self, args: list[str], workdir: Path, ready_url: str) -> None:
        self.workdir = workdir
        self.log_path = workdir / "server.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT)
        try:
            wait_until(
                lambda: self.process.poll() is None and _http(ready_url)[0] == 200,
                timeout=30,
                interval=0.1,
                what=f"{self.name} ready",
            )
        except TimeoutError:
            self.close()
            raise RuntimeError(f"{self.name} did not start:\n{self.log()}") from None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._log.close()
        shutil.rmtree(self.workdir, ignore_errors=True)


class Alertmanager(_Process):
    """Debian's prometheus-alertmanager whose one receiver is `webhook_url` (a Heliograph
    intake URL), grouping each alert alone and sending at once (group_wait 0 s, its minimum),
    resolved notifications included."""

    name = "Alertmanager"

    def __init__(self, webhook_url: str, *, group_interval: str = "1s") -> None:
        workdir = Path(tempfile.mkdtemp(prefix="hg-alertmanager-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = workdir / "alertmanager.yml"
        # JSON is YAML: no YAML library needed.
        config.write_text(
            json.dumps(
                {
                    "route": {
                        "receiver": "heliograph",
                        "group_by": ["..."],
                        "group_wait": "0s",
                        "group_interval": group_interval,
                        "repeat_interval": "1h",
                    },
                    "receivers": [
                        {
                            "name": "heliograph",
                            "webhook_configs": [{"url": webhook_url, "send_resolved": True}],
                        }
                    ],
                }
            )
        )
        super().__init__(
            [
                ALERTMANAGER,
                f"--config.file={config}",
                f"--storage.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--cluster.listen-address=",
                "--log.level=warn",
            ],
            workdir,
            f"{self.url}/-/ready",
        )

    def post_alert(
        self,
        labels: dict[str, str],
        annotations: dict[str, str] | None = None,
        *,
        resolved: bool = False,
    ) -> None:
        """Post an alert to Alertmanager's API (as Prometheus would); `resolved` ends it."""
        now = datetime.now(UTC)
        alert = {
            "labels": labels,
            "annotations": annotations or {},
            "startsAt": (now - timedelta(minutes=1)).isoformat(),
        }
        if resolved:
            alert["endsAt"] = (now - timedelta(seconds=1)).isoformat()
        status, body = _http(f"{self.url}/api/v2/alerts", data=json.dumps([alert]).encode())
        if status != 200:
            raise RuntimeError(f"Alertmanager refused the alert: {status} {body[:300]!r}")


class Exporter:
    """A tiny exporter: `GET /metrics` answers the gauges of `values` in the text format."""

    def __init__(self, **values: float) -> None:
        self.values = dict(values)
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                body = "".join(
                    f"# TYPE {name} gauge\n{name} {value}\n"
                    for name, value in exporter.values.items()
                ).encode()
                self.send_response(200 if self.path == "/metrics" else 404)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Prometheus(_Process):
    """Debian's prometheus scraping `targets` every `scrape_interval`."""

    name = "Prometheus"

    def __init__(self, targets: list[str], *, scrape_interval: str = "1s") -> None:
        workdir = Path(tempfile.mkdtemp(prefix="hg-prometheus-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = workdir / "prometheus.yml"
        config.write_text(
            json.dumps(
                {
                    "global": {"scrape_interval": scrape_interval, "evaluation_interval": "1s"},
                    "scrape_configs": [
                        {"job_name": "exporter", "static_configs": [{"targets": targets}]}
                    ],
                }
            )
        )
        super().__init__(
            [
                PROMETHEUS,
                f"--config.file={config}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn",
            ],
            workdir,
            f"{self.url}/-/ready",
        )

    def query(self, promql: str) -> list:
        status, body = _http(f"{self.url}/api/v1/query?{urllib.parse.urlencode({'query': promql})}")
        return json.loads(body)["data"]["result"] if status == 200 else []
