"""Fixtures of the detection tests: the snapshot in a temporary folder, a source and a
check-in, payload builders, and the notifier's loopback chat sink for staff alerts."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from notifier.messages import notice_cache_clear
from statuspage.metrics.services import alert_source_create, checkin_create

# The notifier's loopback Slack/Discord sink (tests/notifier/sinks.py) and this folder's
# servers (Alertmanager, Prometheus, an exporter).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "notifier"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "api"))
sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture(autouse=True)
def _fresh_notices():
    """Notices are cached per process by event key; ids repeat between tests."""
    notice_cache_clear()
    yield
    notice_cache_clear()


@pytest.fixture(autouse=True)
def snapshot_dir(settings, tmp_path):
    settings.SNAPSHOT_DIR = tmp_path / "snapshot"
    return settings.SNAPSHOT_DIR


@pytest.fixture
def source(catalogue, actor):
    """An Alertmanager source that drives components, with no hold-down."""
    return alert_source_create(
        name="prod-alertmanager", kind="alertmanager", actor=actor, hold_down=0
    )


@pytest.fixture
def post(client):
    """POST a body (a dict is sent as JSON) to an intake URL; the response."""

    def send(target, body, *, content_type="application/json"):
        data = json.dumps(body) if isinstance(body, dict | list) else body
        return client.post(target.intake_path, data=data, content_type=content_type)

    return send


@pytest.fixture
def checkin(catalogue, actor):
    return checkin_create(
        name="nightly-export",
        period=3600,
        grace=60,
        component=catalogue["runs_us"],
        actor=actor,
    )
