"""Helpers of the SDK tests (imported by conftest.py and the tests): where the SDK lives,
the generator as a module, `npm ci` when needed, and a scripted loopback server."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
SDK = ROOT / "sdk"
PYTHON_SDK = SDK / "python"
TYPESCRIPT = SDK / "typescript"
# The SDK under test is the one of this checkout, whatever the venv has installed.
if str(PYTHON_SDK) not in sys.path:
    sys.path.insert(0, str(PYTHON_SDK))


def load_generator() -> ModuleType:
    """sdk/generate.py as a module (it is a script, not a package)."""
    spec = importlib.util.spec_from_file_location("heliograph_sdk_generate", SDK / "generate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def npm_ready() -> None:
    """`npm ci` when node_modules is missing or older than package-lock.json (as `make test`
    does); offline once the packages are in npm's cache."""
    marker = TYPESCRIPT / "node_modules" / ".package-lock.json"
    lock = TYPESCRIPT / "package-lock.json"
    if marker.exists() and marker.stat().st_mtime >= lock.stat().st_mtime:
        return
    subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund", "--prefer-offline"],
        cwd=TYPESCRIPT,
        check=True,
        capture_output=True,
        text=True,
    )


class ScriptedServer:
    """A loopback HTTP server that answers each request with the next scripted answer
    (status, headers, JSON body) and records what it received."""

    def __init__(self) -> None:
        server = self
        self.script: list[tuple[int, dict[str, str], object]] = []
        self.received: list[dict] = []

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                server.received.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": json.loads(body) if body else None,
                    }
                )
                status, headers, payload = (
                    server.script.pop(0) if server.script else (500, {}, {"message": "unscripted"})
                )
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                headers = dict(headers)  # the script's dict may be shared between answers
                self.send_response(status)
                self.send_header("Content-Type", headers.pop("Content-Type", "application/json"))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _answer  # noqa: N815

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
