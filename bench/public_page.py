"""Benchmark: the public page and summary.json against a minimal "hello" view.

    .venv/bin/python bench/public_page.py                 # SQLite in a temporary folder
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/hg_bench .venv/bin/python bench/public_page.py

What it does, so the figures can be reproduced:
1. prepares a throw-away app folder (HELIOGRAPH_VAR_DIR in a temporary directory): migrations,
   `manage.py load_demo` (three regions, seven services, 90 days of history, the June 2026
   incident), `collectstatic`, `snapshot_publish --full`;
2. starts gunicorn (production settings, DEBUG=0, 2 sync workers) on a loopback port;
3. loads `/hello`, `/` and `/api/v2/summary.json` in interleaved rounds (3 × 3 s each, ≤ 30 s
   in all) with `wrk` (keep-alive connections) when it is installed, else with a Python load
   generator (threads, keep-alive `http.client` connections);
4. prints requests/s and p99 latency per URL and the ratios page/hello and summary/hello.

The goal is a ratio ≥ 0.8: the public page costs no more than the smallest possible view,
because it is served from the published snapshot with no database query.

With DATABASE_URL set, that database is migrated and loaded with the demo (idempotent): use a
database of its own.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
PATHS = ["/hello", "/", "/api/v2/summary.json"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def environment(var_dir: Path, port: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "statuspage.conf.settings",
            "SECRET_KEY": "benchmark-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
            "DEBUG": "0",
            "SECURE_SSL_REDIRECT": "0",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "HELIOGRAPH_VAR_DIR": str(var_dir),
            "STATIC_ROOT": str(var_dir / "static"),
            "HELIOGRAPH_SITE_URL": f"http://127.0.0.1:{port}",
            "LOG_LEVEL": "WARNING",
        }
    )
    return env


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run(
        [PYTHON, "manage.py", *args],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def wait_ready(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/hello")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not start")


# --- load generators ---------------------------------------------------------------------------


def run_wrk(
    url: str, seconds: int, connections: int, threads: int, gzip: bool
) -> tuple[float, float]:
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    if gzip:
        command[1:1] = ["-H", "Accept-Encoding: gzip"]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    value, unit = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
    p99_ms = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    if "Non-2xx" in out:
        raise RuntimeError(f"non-2xx answers from {url}:\n{out}")
    return rps, p99_ms


def run_python(
    url_path: str, port: int, seconds: int, connections: int, gzip: bool
) -> tuple[float, float]:
    """Threads, each with one keep-alive connection, for `seconds`; returns (rps, p99 ms)."""
    stop = time.monotonic() + seconds
    latencies: list[list[float]] = [[] for _ in range(connections)]
    errors: list[str] = []
    headers = {"Accept-Encoding": "gzip"} if gzip else {}

    def worker(index: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        mine = latencies[index]
        while time.monotonic() < stop:
            start = time.perf_counter()
            conn.request("GET", url_path, headers=headers)
            response = conn.getresponse()
            response.read()
            mine.append(time.perf_counter() - start)
            if response.status != 200:
                errors.append(f"{url_path}: {response.status}")
                return

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began
    if errors:
        raise RuntimeError(errors[0])
    every = sorted(x for per in latencies for x in per)
    p99 = statistics.quantiles(every, n=100)[98] * 1000 if len(every) > 100 else every[-1] * 1000
    return len(every) / elapsed, p99


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=3, help="per URL and round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument("--python", action="store_true", help="use the Python load generator")
    parser.add_argument("--gzip", action="store_true", help="send Accept-Encoding: gzip")
    args = parser.parse_args()
    # Bounded: 3 URLs × rounds × seconds ≤ 30 s of load.
    seconds = max(1, min(args.seconds, 30 // (len(PATHS) * max(1, args.rounds))))

    var_dir = Path(tempfile.mkdtemp(prefix="heliograph-bench-"))
    port = free_port()
    env = environment(var_dir, port)
    server = None
    try:
        print(f"preparing {var_dir} …", flush=True)
        manage(env, "migrate", "--noinput")
        manage(env, "load_demo")
        manage(env, "collectstatic", "--noinput")
        manage(env, "snapshot_publish", "--full")
        server = subprocess.Popen(
            [
                str(Path(PYTHON).parent / "gunicorn"),
                "statuspage.conf.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(args.workers),
                "--worker-class",
                "sync",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
        )
        wait_ready(port)
        use_wrk = shutil.which("wrk") is not None and not args.python
        tool = (
            f"wrk -t2 -c{args.connections} -d{seconds}s ×{args.rounds} rounds"
            if use_wrk
            else f"python threads ×{args.connections}, keep-alive, {seconds}s ×{args.rounds} rounds"
        )
        print(
            f"gunicorn {args.workers} sync workers on 127.0.0.1:{port}; load: {tool}"
            f"{'; Accept-Encoding: gzip' if args.gzip else ''}",
            flush=True,
        )
        for path in PATHS:
            # A short warm-up so every worker has loaded the snapshot into memory.
            for _ in range(20):
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", path)
                conn.getresponse().read()
        # Interleaved rounds (hello, page, summary, hello, …) so that a change in the machine's
        # load during the run affects every URL alike; rps is the mean, p99 the median.
        runs: dict[str, list[tuple[float, float]]] = {path: [] for path in PATHS}
        for _ in range(args.rounds):
            for path in PATHS:
                if use_wrk:
                    runs[path].append(
                        run_wrk(
                            f"http://127.0.0.1:{port}{path}",
                            seconds,
                            args.connections,
                            2,
                            args.gzip,
                        )
                    )
                else:
                    runs[path].append(run_python(path, port, seconds, args.connections, args.gzip))
        results: dict[str, tuple[float, float]] = {}
        for path in PATHS:
            rps = statistics.fmean(r for r, _ in runs[path])
            p99 = statistics.median(p for _, p in runs[path])
            results[path] = (rps, p99)
            print(f"  {path:<24} {rps:10.0f} req/s   p99 {p99:7.2f} ms", flush=True)
        hello = results["/hello"][0]
        print(f"ratio page/hello    {results['/'][0] / hello:.2f}")
        print(f"ratio summary/hello {results['/api/v2/summary.json'][0] / hello:.2f}")
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
        shutil.rmtree(var_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
