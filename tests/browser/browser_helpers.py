"""Helpers of the browser tests of issue 12 (the fixtures are in conftest.py, Chromium in
tests/conftest.py): the pages a visitor or a commander sees, logging in.

Screenshots go to `HELIOGRAPH_SCREENSHOT_DIR` (default `var/screenshots/`, never committed):
CI keeps them as artefacts.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "pw-pages-browser-1"
PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 900}
OUTAGE = "API errors in us-east-1"


def screenshot_dir() -> Path:
    directory = Path(os.environ.get("HELIOGRAPH_SCREENSHOT_DIR") or ROOT / "var" / "screenshots")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def public_pages(site: dict) -> list[str]:
    """Every page a visitor can reach."""
    return [
        "/",
        "/history",
        f"/incidents/{site['june'].public_id}",
        f"/incidents/{site['outage'].public_id}",
        "/incidents/no-such-incident",
        "/subscribe/",
        f"/subscriptions/{site['manage_token']}/",
        "/v1/docs",
        "/console/login/",
    ]


def console_pages(site: dict) -> list[str]:
    """Every page of the staff console (and its notifications, metrics and credits)."""
    line = site["line"]
    return [
        "/console/",
        "/console/declare/",
        "/console/incidents/",
        f"/console/incidents/{site['outage'].public_id}/",
        f"/console/incidents/{site['june'].public_id}/",
        f"/console/updates/{site['update'].public_id}/edit/",
        "/console/maintenance/new/",
        "/console/components/",
        "/console/audit/",
        "/console/metrics/",
        "/console/metrics/alerts/",
        "/console/notifications/",
        "/console/notifications/subscribers/",
        "/console/notifications/channels/new/?kind=slack",
        f"/console/notifications/updates/{site['update'].public_id}/",
        "/console/credits/",
        f"/console/credits/policies/{line.report.policy_id}/",
        f"/console/credits/policies/{line.report.policy_id}/refunds/",
        f"/console/credits/reports/{line.report_id}/",
        f"/console/credits/reports/{line.report_id}/accounts/{line.account_external_id}/",
        "/console/credits/import/",
        "/console/credits/policies/new/",
    ]


def log_in(page) -> None:
    page.goto("/console/login/")
    page.fill("#id_username", "root")
    page.fill("#id_password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url("**/console/")
