"""`manage.py run_heliograph`: the whole app in the foreground — web, worker and beat.

This is what `make run` calls after setting up. It refuses at once a port that is already
taken, prepares the database (migrations, demo data, staff login), then starts gunicorn and one
Celery worker with embedded beat that consumes every queue, prints where to go once the web
server answers, and stops all of them when one stops or on Ctrl-C.
"""

from __future__ import annotations

import errno
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

# Hosts for which the printed URL says "localhost" (which a browser may resolve to ::1 or
# 127.0.0.1): a server already answering on either would be the one the reader reaches.
LOCAL_HOSTS = ("127.0.0.1", "0.0.0.0", "localhost")
# How long gunicorn may take to answer before the URL is printed anyway.
READY_TIMEOUT = 30.0


def _answers(host: str, port: int) -> bool:
    """Whether something accepts TCP connections on host:port (loopback only, never remote)."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def port_in_use(host: str, port: int) -> bool:
    """Whether host:port is taken: it cannot be bound (another process has it), or, when the
    printed URL will say localhost, a server already answers there on IPv4 or IPv6.

    Checked before anything starts, so a busy port fails at once instead of gunicorn dying
    seconds after the URL of someone else's server was printed."""
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror:
        return False  # a bad host name: gunicorn says so itself
    for family, kind, proto, _, address in addresses:
        with socket.socket(family, kind, proto) as probe:
            # As gunicorn binds: a port left in TIME_WAIT by a previous run is free.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
            except OSError as error:
                if error.errno == errno.EADDRINUSE:
                    return True
    if host in LOCAL_HOSTS:
        return _answers("127.0.0.1", port) or _answers("::1", port)
    return False


def login_line(password: str, admin_exists: bool) -> str:
    """How to log in, as printed under the URLs (the password only when load_demo knows it)."""
    if password and admin_exists:
        return f"(login: admin / {password})"
    if admin_exists:
        return "(login: admin)"
    return "(no admin login: set HELIOGRAPH_ADMIN_PASSWORD or run manage.py createsuperuser)"


class Command(BaseCommand):
    help = "Set up the database and run the web server, Celery worker and beat together."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default=settings.RUN_HOST)
        parser.add_argument("--port", type=int, default=settings.RUN_PORT)
        parser.add_argument("--no-demo", action="store_true", help="Do not load demo data.")
        parser.add_argument("--web-workers", type=int, default=settings.WEB_CONCURRENCY)

    def handle(self, *args, **options) -> None:
        if port_in_use(options["host"], options["port"]):
            raise CommandError(
                f"port {options['port']} is in use: set PORT=… to a free port "
                f"(e.g. PORT={options['port'] + 1} make run), or stop what is listening on it."
            )
        for folder in ("broker/queue", "broker/processed", "emails", "cache"):
            (Path(settings.VAR_DIR) / folder).mkdir(parents=True, exist_ok=True)
        call_command("migrate", interactive=False, verbosity=0)
        if not options["no_demo"]:
            call_command("load_demo")
        if not settings.DEBUG:
            call_command("collectstatic", interactive=False, verbosity=0)

        python = sys.executable
        bindir = Path(python).parent
        gunicorn = [
            str(bindir / "gunicorn"),
            "statuspage.conf.wsgi:application",
            "--bind",
            f"{options['host']}:{options['port']}",
            "--workers",
            str(options["web_workers"]),
            "--access-logfile",
            "-",
            # API tokens (`?api_key=hg_…`) redacted from the access and error logs.
            "--logger-class",
            "statuspage.conf.logs.GunicornLogger",
        ]
        worker = [
            str(bindir / "celery"),
            "-A",
            "statuspage.conf",
            "worker",
            "--beat",
            "--queues",
            ",".join(settings.HELIOGRAPH_QUEUES),
            "--concurrency",
            str(settings.CELERY_CONCURRENCY),
            "--schedule",
            settings.CELERY_BEAT_SCHEDULE_FILENAME,
            "--loglevel",
            "INFO",
        ]
        procs = [subprocess.Popen(gunicorn), subprocess.Popen(worker)]
        host = options["host"]
        url = f"http://{'localhost' if host in LOCAL_HOSTS else host}:{options['port']}"
        login = login_line(
            settings.HELIOGRAPH_ADMIN_PASSWORD,
            get_user_model().objects.filter(username="admin").exists(),
        )
        # The URL is printed only once our server answers on it; if gunicorn stops first
        # (the port was taken meanwhile), nothing is printed and its exit code is ours.
        probe_host = "127.0.0.1" if host == "0.0.0.0" else host
        deadline = time.monotonic() + READY_TIMEOUT
        while procs[0].poll() is None and time.monotonic() < deadline:
            if _answers(probe_host, options["port"]):
                break
            time.sleep(0.2)
        if procs[0].poll() is None:
            self.stdout.write(
                self.style.SUCCESS(
                    f"\nHeliograph is running.\n"
                    f"  Public page:   {url}/\n"
                    f"  Staff console: {url}/console/   {login}\n"
                    f"  Admin:         {url}/admin/\n"
                    f"  Status JSON:   {url}/api/v2/summary.json\n"
                    f"  Emails are written to {settings.EMAIL_FILE_PATH}\n"
                    if settings.EMAIL_BACKEND.endswith("filebased.EmailBackend")
                    else f"\nHeliograph is running at {url}/ {login}\n"
                )
            )

        def stop(*_: object) -> None:
            for proc in procs:
                if proc.poll() is None:
                    proc.terminate()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        try:
            while all(proc.poll() is None for proc in procs):
                time.sleep(0.5)
        finally:
            stop()
            deadline = time.monotonic() + 15
            for proc in procs:
                try:
                    proc.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    proc.kill()
        code = max((proc.returncode or 0) for proc in procs)
        if code:
            raise SystemExit(code)
