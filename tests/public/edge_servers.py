"""Real servers for the edge tests, all on loopback: nginx (Debian's nginx-light) with the
shipped config, gunicorn web nodes as separate processes sharing the test database, an S3
protocol server (moto's), a TCP relay that can cut a node off its database or Redis, and a
throw-away redis-server."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from django.conf import settings
from django.db import connection

ROOT = Path(settings.BASE_DIR)
SHIPPED_NGINX = ROOT / "deploy" / "nginx" / "heliograph.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(check, *, timeout: float, every: float = 0.05, what: str = "the condition"):
    """Call `check` until it returns something truthy; that value, or fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = check()
        except (OSError, requests.RequestException):
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        time.sleep(every)


# --- nginx -------------------------------------------------------------------------------------


def nginx_config(*, root: Path, app: str, port: int) -> str:
    """The shipped config with only the three deployment-specific lines changed: the tree's
    path, the app's address and the port to listen on."""
    text = SHIPPED_NGINX.read_text()
    for old, new in (
        ("root /srv/heliograph/site;", f"root {root};"),
        ("server web:8000;", f"server {app};"),
        ("listen 80;", f"listen 127.0.0.1:{port};"),
    ):
        assert text.count(old) == 1, f"the shipped nginx config no longer has {old!r}"
        text = text.replace(old, new)
    return text


class Nginx:
    """nginx in the foreground of its own process, with a throw-away prefix."""

    def __init__(self, *, root: Path, app: str) -> None:
        if not os.path.exists(NGINX):
            pytest.fail(f"{NGINX} is missing: apt-get install nginx-light (make test does this).")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.prefix = Path(tempfile.mkdtemp(prefix="heliograph-nginx-"))
        (self.prefix / "heliograph.conf").write_text(
            nginx_config(root=root, app=app, port=self.port)
        )
        temp = self.prefix / "temp"
        (self.prefix / "nginx.conf").write_text(
            # As root, nginx's workers would run as nobody, who cannot enter pytest's
            # private temporary folders: keep them as the user running the tests.
            ("user root;\n" if os.geteuid() == 0 else "")
            + f"""
daemon off;
worker_processes 1;
pid {self.prefix}/nginx.pid;
error_log {self.prefix}/error.log warn;
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log off;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    include {self.prefix}/heliograph.conf;
}}
"""
        )
        temp.mkdir()
        self.process = subprocess.Popen(
            [NGINX, "-p", str(self.prefix), "-c", str(self.prefix / "nginx.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until(self._up, timeout=10, what="nginx listening")
        except AssertionError:
            self.stop()
            raise AssertionError((self.prefix / "error.log").read_text()) from None

    def _up(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError("nginx exited")
        with socket.create_connection(("127.0.0.1", self.port), timeout=1):
            return True

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        shutil.rmtree(self.prefix, ignore_errors=True)


# --- web nodes ---------------------------------------------------------------------------------


def database_url(*, host: str | None = None, port: int | None = None) -> str:
    """The test database as a URL another process can open (optionally through a relay)."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    password = f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else ""
    return (
        f"postgres://{quote(db['USER'] or '', safe='')}{password}"
        f"@{host or db['HOST'] or '127.0.0.1'}:{port or db['PORT'] or 5432}/{db['NAME']}"
    )


class WebNode:
    """`gunicorn statuspage.conf.wsgi:application` in its own process group, like a web host:
    its own snapshot directory and var folder, the shared database."""

    def __init__(self, name: str, *, database: str, snapshot_dir: Path, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = Path(tempfile.mkstemp(prefix=f"gunicorn-{name}-", suffix=".log")[1])
        environment = {
            key: value
            for key, value in os.environ.items()
            if key not in ("REDIS_URL", "DATABASE_URL", "HELIOGRAPH_PUBLISH_TARGETS")
        }
        environment.update(
            DJANGO_SETTINGS_MODULE="statuspage.conf.settings_test",
            DATABASE_URL=database,
            SECRET_KEY=settings.SECRET_KEY,
            HELIOGRAPH_VAR_DIR=tempfile.mkdtemp(prefix=f"heliograph-{name}-"),
            HELIOGRAPH_SNAPSHOT_DIR=str(snapshot_dir),
            **env,
        )
        self.process = subprocess.Popen(
            [GUNICORN, "statuspage.conf.wsgi:application", "--bind", f"127.0.0.1:{self.port}"]
            + ["--workers", "1", "--access-logfile", "-", "--error-logfile", "-"],
            cwd=ROOT,
            env=environment,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_until(self._up, timeout=30, what=f"gunicorn {name} answering")
        except AssertionError:
            self.stop()
            raise AssertionError(self.log.read_text()) from None

    def _up(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"gunicorn exited:\n{self.log.read_text()}")
        return requests.get(f"{self.url}/hello", timeout=2).status_code == 200

    def get(self, path: str, **kwargs) -> requests.Response:
        return requests.get(f"{self.url}{path}", timeout=5, **kwargs)

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)


# --- cutting a node off a server ---------------------------------------------------------------


class Relay:
    """A TCP relay on loopback to `target`; `cut()` closes every connection and refuses new
    ones (the server is down, as far as the clients can tell), `mend()` undoes it."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.open = True
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.open:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.open = False
        with self.lock:
            for sock in self.sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self.sockets.clear()

    def close(self) -> None:
        self.cut()
        self.listener.close()


class RedisServer:
    """A throw-away redis-server on its own loopback port, without persistence."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is missing: apt-get install redis-server (.ci/run has it)")
        self.port = free_port()
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
            + ["--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(
            lambda: socket.create_connection(("127.0.0.1", self.port), timeout=1),
            timeout=10,
            what="redis-server listening",
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
