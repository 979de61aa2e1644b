"""Detection latency: how soon the page moves after monitoring says something is wrong.

    .venv/bin/python bench/detect.py [--rounds 7] [--checkin-rounds 5]

Starts, all on loopback: Heliograph's web server (gunicorn, 2 workers) and a Celery worker
with embedded beat, on a fresh SQLite database in a temporary folder (or the database of
DATABASE_URL / REDIS_URL when set: it is migrated and its catalogue rows for the bench are
added); Debian's prometheus-alertmanager (group_wait 0 s, its minimum) whose receiver is an
alert source made by `manage.py create_alert_source --kind alertmanager --automation
component --hold-down 0`.

Measures, median of several rounds:
1. **alert → page**: from posting an alert to Alertmanager's API (labels service=run-execution,
   region=us-east-1, severity=critical, one new alert per round) until
   `/api/v2/summary.json` shows "Run execution (us-east-1)" in major outage (polled every
   20 ms); and the same for its resolution back to operational. Goal ≤ 5 s.
2. **missed check-in → alert**: a check-in with a 5 s period and no grace is called once;
   the time from its deadline to the alert (`Alert.started_at - CheckIn.due_at`, both
   written by Heliograph), and to summary.json showing the component degraded. Beat looks
   every HELIOGRAPH_DETECTION_TICK seconds (default 10). Goal ≤ 60 s.

Everything it started is stopped at the end (by process id); the temporary folder removed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
sys.path.insert(0, str(BASE_DIR / "tests" / "detection"))

from servers import Alertmanager, free_port, wait_until  # noqa: E402

COMPONENT = "Run execution (us-east-1)"


def summary_status(session, base: str) -> str | None:
    try:
        response = session.get(f"{base}/api/v2/summary.json", timeout=5)
    except OSError:
        return None
    if response.status_code != 200:
        return None
    for component in response.json()["components"]:
        if component["name"] == COMPONENT:
            return component["status"]
    return None


def wait_for_status(session, base: str, status: str, timeout: float) -> float:
    """Seconds (monotonic) at which summary.json first showed `status`."""
    wait_until(
        lambda: summary_status(session, base) == status,
        timeout=timeout,
        interval=0.02,
        what=f"{COMPONENT} {status} on summary.json",
    )
    return time.monotonic()


def describe(values: list[float]) -> str:
    return (
        f"median {statistics.median(values):.3f} s, min {min(values):.3f} s, "
        f"max {max(values):.3f} s over {len(values)} rounds"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--checkin-rounds", type=int, default=5)
    args = parser.parse_args()

    var_dir = Path(tempfile.mkdtemp(prefix="heliograph-bench-detect-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "statuspage.conf.settings",
            "HELIOGRAPH_INSECURE_DEV_KEY": "1",
            "HELIOGRAPH_VAR_DIR": str(var_dir),
            "HELIOGRAPH_SITE_URL": base,
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "0",
            "LOG_LEVEL": "WARNING",
        }
    )
    import django

    django.setup()
    import requests
    from django.conf import settings
    from django.core.management import call_command

    from statuspage.metrics.models import Alert, AlertSource, CheckIn
    from statuspage.metrics.services import checkin_create
    from statuspage.models import Component, Region, Service
    from statuspage.services import Actor, region_create, service_create

    for folder in ("broker/queue", "broker/processed", "broker/control", "emails", "cache"):
        (var_dir / folder).mkdir(parents=True, exist_ok=True)
    call_command("migrate", verbosity=0)
    actor = Actor.system("bench")
    region = Region.objects.filter(slug="us-east-1").first() or region_create(
        slug="us-east-1", name="US East", actor=actor
    )
    service = Service.objects.filter(slug="run-execution").first() or service_create(
        name="Run execution", regions=[region], actor=actor
    )
    component = Component.objects.get(service=service, region=region)
    for stale in ("bench-am",):
        AlertSource.objects.filter(name=stale).delete()
    CheckIn.objects.filter(name="bench-job").delete()
    from io import StringIO

    out = StringIO()
    call_command(
        "create_alert_source",
        "bench-am",
        "--kind",
        "alertmanager",
        "--automation",
        "component",
        "--hold-down",
        "0",
        stdout=out,
    )
    intake_url = out.getvalue().splitlines()[0].removeprefix("url: ")
    checkin = checkin_create(name="bench-job", period=5, grace=0, component=component, actor=actor)

    bindir = Path(sys.executable).parent
    logs = (var_dir / "web.log").open("wb"), (var_dir / "worker.log").open("wb")
    web = subprocess.Popen(
        [
            str(bindir / "gunicorn"),
            "statuspage.conf.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
        ],
        stdout=logs[0],
        stderr=subprocess.STDOUT,
    )
    worker = subprocess.Popen(
        [
            str(bindir / "celery"),
            "-A",
            "statuspage.conf",
            "worker",
            "--beat",
            "--queues",
            ",".join(settings.HELIOGRAPH_QUEUES),
            "--concurrency",
            "2",
            "--schedule",
            str(var_dir / "celerybeat-schedule"),
            "--loglevel",
            "WARNING",
        ],
        stdout=logs[1],
        stderr=subprocess.STDOUT,
    )
    alertmanager = None
    session = requests.Session()
    try:
        call_command("snapshot_publish", verbosity=0)
        wait_for_status(session, base, "operational", timeout=30)
        alertmanager = Alertmanager(intake_url)

        fire, resolve = [], []
        for round_no in range(args.rounds):
            labels = {
                "alertname": "RunQueueStalled",
                "service": "run-execution",
                "region": "us-east-1",
                "severity": "critical",
                "round": str(round_no),
            }
            started = time.monotonic()
            alertmanager.post_alert(labels, {"summary": "Runs are not being dequeued"})
            fire.append(wait_for_status(session, base, "major_outage", timeout=30) - started)
            started = time.monotonic()
            alertmanager.post_alert(labels, resolved=True)
            resolve.append(wait_for_status(session, base, "operational", timeout=30) - started)
            print(
                f"round {round_no + 1}: alert → page {fire[-1]:.3f} s, resolved → page {resolve[-1]:.3f} s"
            )

        to_alert, to_page = [], []
        # Each call sets the next deadline (now + 5 s): the call that resolves a round's alert
        # starts the next round.
        response = session.get(f"{base}{checkin.intake_path}", timeout=5)
        assert response.status_code == 200, response.text
        for round_no in range(args.checkin_rounds):
            checkin.refresh_from_db()
            due = checkin.due_at
            alert = wait_until(
                lambda due=due: Alert.objects.filter(checkin=checkin, started_at__gte=due).first(),
                timeout=120,
                interval=0.05,
                what="the missed check-in's alert",
            )
            to_alert.append((alert.started_at - due).total_seconds())
            wait_for_status(session, base, "degraded_performance", timeout=30)
            to_page.append(time.time() - due.timestamp())
            print(
                f"check-in round {round_no + 1}: deadline → alert {to_alert[-1]:.3f} s, "
                f"deadline → page {to_page[-1]:.3f} s"
            )
            session.get(f"{base}{checkin.intake_path}", timeout=5)  # resolves it
            wait_for_status(session, base, "operational", timeout=30)

        database = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
        print()
        print(
            f"database: {database}; broker: {settings.CELERY_BROKER_URL.split(':')[0]}; "
            f"detection tick {settings.HELIOGRAPH_DETECTION_TICK:g} s"
        )
        print(f"alert posted to Alertmanager → summary.json major outage: {describe(fire)}")
        print(f"resolved in Alertmanager → summary.json operational:   {describe(resolve)}")
        print(f"missed check-in deadline → alert:                      {describe(to_alert)}")
        print(f"missed check-in deadline → summary.json degraded:      {describe(to_page)}")
    finally:
        if alertmanager is not None:
            alertmanager.close()
        for process in (web, worker):
            process.terminate()
        for process in (web, worker):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        for log in logs:
            log.close()
        if os.environ.get("BENCH_KEEP") != "1":
            shutil.rmtree(var_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
