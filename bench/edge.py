"""Benchmark: the page at the edge. nginx with the shipped config serving the exported tree,
the same nginx serving a plain static file of the same size, and the app's own path.

    .venv/bin/python bench/edge.py            # Accept-Encoding: gzip, as browsers send
    .venv/bin/python bench/edge.py --identity # no compression

What it does, so the figures can be reproduced:
1. prepares a throw-away app folder (HELIOGRAPH_VAR_DIR in a temporary directory): migrations,
   `manage.py load_demo`, `collectstatic`, and `snapshot_publish --full` with
   `HELIOGRAPH_PUBLISH_TARGETS=file://<folder>/site` (the static tree);
2. starts gunicorn (production settings, DEBUG=0, 2 sync workers) on a loopback port;
3. starts Debian's nginx (`worker_processes auto`) with `deploy/nginx/heliograph.conf` (only
   the tree's path, the app's address and the port changed) and, in the same nginx, a bare
   `server { root …; }` serving copies of `index.html` and `summary.json` (and their `.gz`) as
   plain files: the machine's limit for those bytes;
4. loads each URL with `wrk` (2 threads, 32 keep-alive connections) in interleaved rounds,
   5 × 2 s each (≤ 60 s of load in all): the tree's `/` and `/api/v2/summary.json` through
   nginx, the plain files, and the app's `/` and `/api/v2/summary.json` through gunicorn;
5. prints requests/s (the median round) and p99 latency per URL and the ratios tree/plain
   (goal ≥ 0.9) and tree/app (goal ≥ 5). On a shared 2-core machine a round can lose half
   its throughput to other work: the median of interleaved rounds is the figure to read.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from public_page import PYTHON, ROOT, environment, free_port, manage, run_wrk, wait_ready  # noqa: E402

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
SHIPPED = ROOT / "deploy" / "nginx" / "heliograph.conf"


def nginx_config(prefix: Path, *, site: Path, plain: Path, app: int, edge: int, bare: int) -> Path:
    shipped = SHIPPED.read_text()
    for old, new in (
        ("root /srv/heliograph/site;", f"root {site};"),
        ("server web:8000;", f"server 127.0.0.1:{app};"),
        ("listen 80;", f"listen 127.0.0.1:{edge};"),
    ):
        assert shipped.count(old) == 1, old
        shipped = shipped.replace(old, new)
    (prefix / "heliograph.conf").write_text(shipped)
    temp = prefix / "temp"
    temp.mkdir()
    config = prefix / "nginx.conf"
    config.write_text(
        f"""
user root;
worker_processes auto;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    include {prefix}/heliograph.conf;
    server {{
        listen 127.0.0.1:{bare};
        root {plain};
        gzip_static on;
    }}
}}
"""
    )
    return config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=2, help="per URL and round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument("--identity", action="store_true", help="no Accept-Encoding: gzip")
    args = parser.parse_args()
    gzip = not args.identity
    seconds = max(1, min(args.seconds, 60 // (6 * max(1, args.rounds))))

    var_dir = Path(tempfile.mkdtemp(prefix="heliograph-edge-bench-"))
    site, plain, prefix = var_dir / "site", var_dir / "plain", var_dir / "nginx"
    app_port, edge_port, bare_port = free_port(), free_port(), free_port()
    env = environment(var_dir, app_port)
    env["HELIOGRAPH_PUBLISH_TARGETS"] = f"file://{site}"
    server = nginx = None
    try:
        print(f"preparing {var_dir} …", flush=True)
        manage(env, "migrate", "--noinput")
        manage(env, "load_demo")
        manage(env, "collectstatic", "--noinput")
        manage(env, "snapshot_publish", "--full")
        plain.mkdir()
        for source, name in (("index.html", "page.html"), ("api/v2/summary.json", "summary.json")):
            for suffix in ("", ".gz"):
                if (site / f"{source}{suffix}").exists():
                    shutil.copyfile(site / f"{source}{suffix}", plain / f"{name}{suffix}")
        server = subprocess.Popen(
            [str(Path(PYTHON).parent / "gunicorn"), "statuspage.conf.wsgi:application"]
            + ["--bind", f"127.0.0.1:{app_port}", "--workers", str(args.workers)]
            + ["--worker-class", "sync", "--log-level", "warning"],
            cwd=ROOT,
            env=env,
        )
        wait_ready(app_port)
        prefix.mkdir()
        config = nginx_config(
            prefix, site=site, plain=plain, app=app_port, edge=edge_port, bare=bare_port
        )
        nginx = subprocess.Popen([NGINX, "-p", str(prefix), "-c", str(config)])
        wait_ready(edge_port)
        urls = {
            "tree /": f"http://127.0.0.1:{edge_port}/",
            "plain page": f"http://127.0.0.1:{bare_port}/page.html",
            "app /": f"http://127.0.0.1:{app_port}/",
            "tree summary.json": f"http://127.0.0.1:{edge_port}/api/v2/summary.json",
            "plain summary": f"http://127.0.0.1:{bare_port}/summary.json",
            "app summary.json": f"http://127.0.0.1:{app_port}/api/v2/summary.json",
        }
        sizes = {
            "page": (site / "index.html").stat().st_size,
            "summary": (site / "api/v2/summary.json").stat().st_size,
        }
        print(
            f"nginx {NGINX} (worker_processes auto) on :{edge_port} (shipped config) and "
            f":{bare_port} (plain files); gunicorn {args.workers} sync workers on :{app_port}; "
            f"wrk -t2 -c{args.connections} -d{seconds}s ×{args.rounds} rounds"
            f"{', Accept-Encoding: gzip' if gzip else ', identity'}; "
            f"page {sizes['page']} B, summary {sizes['summary']} B",
            flush=True,
        )
        for url in urls.values():  # warm-up: every worker has its snapshot in memory
            run_wrk(url, 1, 4, 1, gzip)
        runs: dict[str, list[tuple[float, float]]] = {name: [] for name in urls}
        for _ in range(args.rounds):
            for name, url in urls.items():
                runs[name].append(run_wrk(url, seconds, args.connections, 2, gzip))
        rps = {}
        for name in urls:
            rps[name] = statistics.median(r for r, _ in runs[name])
            p99 = statistics.median(p for _, p in runs[name])
            print(f"  {name:<20} {rps[name]:10.0f} req/s   p99 {p99:7.2f} ms", flush=True)
        print(f"ratio tree/plain, page     {rps['tree /'] / rps['plain page']:.2f}  (goal ≥ 0.9)")
        print(
            f"ratio tree/plain, summary  "
            f"{rps['tree summary.json'] / rps['plain summary']:.2f}  (goal ≥ 0.9)"
        )
        print(f"ratio tree/app, page       {rps['tree /'] / rps['app /']:.1f}  (goal ≥ 5)")
        print(
            f"ratio tree/app, summary    "
            f"{rps['tree summary.json'] / rps['app summary.json']:.1f}  (goal ≥ 5)"
        )
    finally:
        for process in (nginx, server):
            if process is not None:
                process.terminate()
                process.wait(timeout=10)
        shutil.rmtree(var_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
