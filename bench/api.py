"""Benchmark of the automation API: 10,000 component status changes through the bulk endpoint
and through single PATCH calls, against gunicorn on loopback.

Prints requests/s, changes/s and how long after the last change the public snapshot
(/api/v2/components.json) shows it. Bounded: the single-call phase stops after
--single-seconds even if it has not made all its changes, and says how many it made.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/hg_api_bench \
    REDIS_URL=redis://127.0.0.1:6379/5 .venv/bin/python bench/api.py

The database named by DATABASE_URL is FLUSHED: give it one of its own. Without DATABASE_URL
a SQLite file in a temporary folder is used.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
STATUSES = ("major_outage", "operational")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def environment(var_dir: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "statuspage.conf.settings",
            "SECRET_KEY": env.get("SECRET_KEY", "bench-secret-key-" + "x" * 40),
            "DEBUG": "0",
            "SECURE_SSL_REDIRECT": "0",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "HELIOGRAPH_VAR_DIR": var_dir,
            "HELIOGRAPH_API_RATE_LIMIT": "100000000",
            "LOG_LEVEL": "WARNING",
        }
    )
    return env


def setup_catalogue(n_regions: int, n_services: int) -> tuple[str, list[str], str]:
    """Flush the database, create regions × services, and a token. Runs in this process."""
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from statuspage.api.services import api_token_create
    from statuspage.models import Component
    from statuspage.services import Actor, region_create, service_create

    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    actor = Actor.system("bench")
    regions = [
        region_create(slug=f"region-{r}", name=f"Region {r}", actor=actor, position=r)
        for r in range(n_regions)
    ]
    for s in range(n_services):
        service_create(name=f"Service {s}", regions=regions, actor=actor, position=s)
    _, token = api_token_create(name="bench", actor=actor)
    ids = list(Component.objects.order_by("pk").values_list("public_id", flat=True))
    return token, ids, settings.PAGE_ID


def wait_ready(base: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(f"{base}/v1/openapi.json", timeout=10)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise SystemExit("gunicorn did not start")


def snapshot_lag(base: str, expect: dict[str, str], started: float, timeout: float = 60) -> float:
    """Seconds from `started` until /api/v2/components.json shows every expected status."""
    session = requests.Session()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = session.get(f"{base}/api/v2/components.json", timeout=5)
        if response.status_code == 200:
            seen = {c["id"]: c["status"] for c in response.json()["components"]}
            if all(seen.get(k) == v for k, v in expect.items()):
                return time.monotonic() - started
        time.sleep(0.02)
    return float("nan")


def bench_bulk(base: str, page: str, token: str, ids: list[str], changes: int) -> dict:
    session = requests.Session()
    session.headers["Authorization"] = f"OAuth {token}"
    calls = max(1, changes // len(ids))
    made = 0
    started = time.monotonic()
    for i in range(calls):
        response = session.post(
            f"{base}/v1/pages/{page}/components/bulk-status.json",
            json={"component_ids": ids, "status": STATUSES[i % 2]},
            timeout=120,
        )
        response.raise_for_status()
        made += response.json()["changed"]
    elapsed = time.monotonic() - started
    last = STATUSES[(calls - 1) % 2]
    lag = snapshot_lag(base, dict.fromkeys(ids, last), time.monotonic())
    return {
        "requests": calls,
        "changes": made,
        "seconds": round(elapsed, 2),
        "requests_per_s": round(calls / elapsed, 1),
        "changes_per_s": round(made / elapsed, 1),
        "snapshot_lag_s": round(lag, 3),
    }


def bench_single(
    base: str, page: str, token: str, ids: list[str], changes: int, concurrency: int, limit: float
) -> dict:
    """PATCH one component per request; component k % n alternates between two statuses, so
    every request is a real change. Stops at `limit` seconds."""
    local = threading.local()
    deadline = time.monotonic() + limit
    done = []
    errors = []
    last_status: dict[str, str] = {}
    lock = threading.Lock()

    def one(k: int) -> None:
        if time.monotonic() > deadline:
            return
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
            session.headers["Authorization"] = f"OAuth {token}"
        component = ids[k % len(ids)]
        status = STATUSES[(k // len(ids)) % 2]
        response = session.patch(
            f"{base}/v1/pages/{page}/components/{component}",
            json={"component": {"status": status}},
            timeout=60,
        )
        with lock:
            if response.status_code == 200:
                done.append(k)
                last_status[component] = status
            else:
                errors.append(response.status_code)

    started = time.monotonic()
    with ThreadPoolExecutor(concurrency) as pool:
        # Submit in waves of one status per component, so two changes of the same component
        # are never in flight together.
        for wave in range(0, changes, len(ids)):
            list(pool.map(one, range(wave, min(changes, wave + len(ids)))))
            if time.monotonic() > deadline:
                break
    elapsed = time.monotonic() - started
    lag = snapshot_lag(base, dict(last_status), time.monotonic())
    return {
        "requests": len(done),
        "changes": len(done),
        "errors": len(errors),
        "seconds": round(elapsed, 2),
        "requests_per_s": round(len(done) / elapsed, 1),
        "snapshot_lag_s": round(lag, 3),
        "stopped_at_limit": len(done) < changes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--regions", type=int, default=4)
    parser.add_argument("--services", type=int, default=25)
    parser.add_argument("--changes", type=int, default=10000)
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers")
    parser.add_argument("--concurrency", type=int, default=4, help="client threads (single)")
    parser.add_argument("--single-seconds", type=float, default=300)
    args = parser.parse_args()

    var_dir = tempfile.mkdtemp(prefix="heliograph-bench-api-")
    env = environment(var_dir)
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    token, ids, page = setup_catalogue(args.regions, args.services)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "statuspage.conf.wsgi",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            str(args.workers),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        wait_ready(base)
        database = "PostgreSQL" if env.get("DATABASE_URL", "").startswith("postgres") else "SQLite"
        print(
            f"{len(ids)} components ({args.regions} regions × {args.services} services), "
            f"gunicorn {args.workers} workers, {database}, "
            f"cache {'Redis' if env.get('REDIS_URL') else 'file'}"
        )
        bulk = bench_bulk(base, page, token, ids, args.changes)
        print(
            f"bulk:   {bulk['changes']} changes in {bulk['requests']} requests, "
            f"{bulk['seconds']} s: {bulk['requests_per_s']} requests/s, "
            f"{bulk['changes_per_s']} changes/s; snapshot shows the last change "
            f"{bulk['snapshot_lag_s']} s after the response"
        )
        single = bench_single(
            base, page, token, ids, args.changes, args.concurrency, args.single_seconds
        )
        print(
            f"single: {single['changes']} changes in {single['seconds']} s "
            f"({args.concurrency} client threads): {single['requests_per_s']} requests/s, "
            f"{single['errors']} errors; snapshot shows the last change "
            f"{single['snapshot_lag_s']} s after the response"
            + (" (stopped at the time limit)" if single["stopped_at_limit"] else "")
        )
        print(json.dumps({"bulk": bulk, "single": single}))
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
