"""`manage.py run_heliograph`: the whole app in the foreground — web, worker and beat.

This is what `make run` calls after setting up. It prepares the database (migrations, demo
data, staff login), then starts gunicorn and one Celery worker with embedded beat that
consumes every queue, prints where to go, and stops all of them when one stops or on Ctrl-C.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Set up the database and run the web server, Celery worker and beat together."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default=settings.RUN_HOST)
        parser.add_argument("--port", type=int, default=settings.RUN_PORT)
        parser.add_argument("--no-demo", action="store_true", help="Do not load demo data.")
        parser.add_argument("--web-workers", type=int, default=settings.WEB_CONCURRENCY)

    def handle(self, *args, **options) -> None:
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
        url = f"http://{'localhost' if options['host'] in ('127.0.0.1', '0.0.0.0') else options['host']}:{options['port']}"
        password = settings.HELIOGRAPH_ADMIN_PASSWORD
        self.stdout.write(
            self.style.SUCCESS(
                f"\nHeliograph is running.\n"
                f"  Public page:   {url}/\n"
                f"  Staff console: {url}/console/   (login: admin / {password})\n"
                f"  Admin:         {url}/admin/\n"
                f"  Status JSON:   {url}/api/v2/summary.json\n"
                f"  Emails are written to {settings.EMAIL_FILE_PATH}\n"
                if settings.EMAIL_BACKEND.endswith("filebased.EmailBackend")
                else f"\nHeliograph is running at {url}/ (login: admin / {password})\n"
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
