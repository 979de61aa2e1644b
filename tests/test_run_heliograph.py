"""`make run` (manage.py run_heliograph) on a port that is already taken fails at once, before
printing any URL: the URL would otherwise show someone else's server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from statuspage.demo.management.commands.run_heliograph import login_line, port_in_use

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def bound_socket():
    """A socket bound on loopback (not listening): the port is taken all the same."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    yield sock
    sock.close()


@pytest.fixture
def listening_socket():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    yield sock
    sock.close()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_it_sees_a_port_bound_or_listening_on_loopback(bound_socket, listening_socket):
    assert port_in_use("127.0.0.1", bound_socket.getsockname()[1])
    assert port_in_use("127.0.0.1", listening_socket.getsockname()[1])
    # Binding all interfaces collides with a loopback bind too.
    assert port_in_use("0.0.0.0", listening_socket.getsockname()[1])


def test_it_takes_a_free_port_as_free():
    assert not port_in_use("127.0.0.1", _free_port())


def test_it_refuses_a_busy_port_before_printing_anything(listening_socket):
    port = listening_socket.getsockname()[1]
    out = StringIO()
    with pytest.raises(CommandError) as refused:
        call_command("run_heliograph", host="127.0.0.1", port=port, stdout=out)
    assert f"port {port} is in use: set PORT=" in str(refused.value)
    assert out.getvalue() == ""


def test_make_run_on_a_busy_port_exits_at_once_with_the_reason(bound_socket, tmp_path):
    """As `make run` runs it (DEBUG=1, PORT set): exit code 1 within seconds, the reason on
    stderr, no URL on stdout, nothing migrated or started."""
    port = bound_socket.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    for key in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY"):
        env.pop(key, None)
    env.update(DEBUG="1", PORT=str(port), HELIOGRAPH_VAR_DIR=str(tmp_path))
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "manage.py", "run_heliograph"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"port {port} is in use: set PORT=" in result.stderr
    assert "http://" not in result.stdout and "running" not in result.stdout
    assert not (tmp_path / "heliograph.sqlite3").exists()  # refused before migrate
    assert time.monotonic() - started < 20


def test_the_printed_login_names_a_password_only_when_there_is_one():
    assert login_line("heliograph", True) == "(login: admin / heliograph)"
    assert login_line("", True) == "(login: admin)"
    assert "set HELIOGRAPH_ADMIN_PASSWORD" in login_line("", False)
