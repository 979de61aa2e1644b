"""Take the README screenshots: the public page with the demo data, in Debian's Chromium.

    .venv/bin/python tests/browser/screenshot.py [--out docs/screenshot.png] [--console]
        [--phone] [--outage]

Runs on a throwaway SQLite database and var folder (nothing of yours is touched): migrates,
runs `load_demo`, serves the app on a free loopback port and photographs `/` (or, with
--console, the staff console's dashboard after logging in as the demo admin). --phone takes
the top of it on a 390 px wide phone (at 2x); --outage first declares the demo's regional API outage
("API errors in us-east-1", a major outage of the API in us-east-1) so the page shows one.

The README's two pictures:

    .venv/bin/python tests/browser/screenshot.py --outage
    .venv/bin/python tests/browser/screenshot.py --outage --phone --out docs/screenshot-phone.png
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, make_server

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args) -> None:  # noqa: A002
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshot.png"))
    parser.add_argument("--console", action="store_true", help="photograph the console")
    parser.add_argument("--phone", action="store_true", help="a 390 px wide phone, at 2x")
    parser.add_argument("--outage", action="store_true", help="with a regional API outage open")
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="heliograph-shot-")
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "statuspage.conf.settings",
            "DEBUG": "1",
            "HELIOGRAPH_VAR_DIR": tmp,
            "DATABASE_URL": f"sqlite:///{tmp}/shot.sqlite3",
            "REDIS_URL": "",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "HELIOGRAPH_ADMIN_PASSWORD": "heliograph",
        }
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.core.management import call_command
    from django.core.wsgi import get_wsgi_application

    from incidents.services import incident_declare, incident_post_update
    from statuspage.models import Component
    from statuspage.services import Actor

    call_command("migrate", interactive=False, verbosity=0)
    call_command("load_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
    if args.outage:
        actor = Actor.system("screenshot")
        outage = incident_declare(
            name="API errors in us-east-1",
            body="Some API requests to us-east-1 fail with 503 errors. Other regions answer.",
            component_statuses={
                Component.objects.get(service__slug="api", region__slug="us-east-1"): (
                    "major_outage"
                )
            },
            deliver_notifications=False,
            actor=actor,
        )
        incident_post_update(
            incident=outage,
            status="identified",
            body="A load balancer node is failing health checks; we are replacing it.",
            deliver_notifications=False,
            actor=actor,
        )

    server = make_server(
        "127.0.0.1", 0, StaticFilesHandler(get_wsgi_application()), handler_class=QuietHandler
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"

    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS
        )
        viewport = {"width": 390, "height": 1100} if args.phone else {"width": 1200, "height": 1250}
        page = browser.new_page(viewport=viewport, device_scale_factor=2 if args.phone else 1)
        if args.console:
            page.goto(f"{base}/console/login/")
            page.fill("#id_username", "admin")
            page.fill("#id_password", "heliograph")
            page.click("#login-form button[type=submit]")
            page.wait_for_url("**/console/")
        else:
            page.goto(f"{base}/")
        page.screenshot(path=args.out)
        browser.close()
    server.shutdown()
    size = Path(args.out).stat().st_size
    print(f"wrote {args.out} ({size // 1024} KB)")


if __name__ == "__main__":
    main()
