"""Fixtures of the browser tests of issue 12: the demo data with a regional API outage open
(Chromium is tests/conftest.py's `browser`; helpers: browser_helpers.py)."""

from __future__ import annotations

from io import StringIO

import pytest
from browser_helpers import OUTAGE, PASSWORD
from django.core.management import call_command

from incidents.credits.models import CreditReportLine
from incidents.models import Incident, IncidentKind
from incidents.services import incident_declare, incident_post_update
from notifier.services import subscriber_add_confirmed
from notifier.tokens import make_token
from statuspage.models import Component
from statuspage.services import Actor


@pytest.fixture
def site(transactional_db, settings, tmp_path, django_user_model) -> dict:
    """The demo (90 days of history, the June incident and its postmortem, metrics, credits),
    a regional API outage open right now, a subscriber, and a staff superuser."""
    settings.SNAPSHOT_DIR = tmp_path / "snapshot"
    settings.HELIOGRAPH_ADMIN_PASSWORD = ""
    call_command("load_demo", stdout=StringIO())
    django_user_model.objects.create_superuser("root", "root@example.com", PASSWORD)
    actor = Actor.system("test")
    api_us = Component.objects.get(service__slug="api", region__slug="us-east-1")
    outage = incident_declare(
        name=OUTAGE,
        body="Some API requests to us-east-1 fail with 503 errors. Other regions answer.",
        impact="critical",
        component_statuses={api_us: "major_outage"},
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
    subscriber = subscriber_add_confirmed(email="reader@example.com", actor=actor)
    june = Incident.objects.filter(kind=IncidentKind.INCIDENT).order_by("started_at").first()
    line = CreditReportLine.objects.select_related("report").first()
    return {
        "outage": outage,
        "june": june,
        "line": line,
        "update": outage.updates.order_by("-id").first(),
        "manage_token": make_token("manage", subscriber.public_id),
        "unsubscribe_token": make_token("unsubscribe", subscriber.public_id),
    }
