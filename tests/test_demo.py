"""`manage.py load_demo`: the seed report's catalogue, history and incident, loaded once."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from incidents.models import Incident, IncidentTemplate, IncidentUpdate, Postmortem
from statuspage.models import (
    AuditEntry,
    Component,
    ComponentStatusChange,
    Region,
    Service,
    ServiceGroup,
)

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent

JUNE = "Runs not starting in us-east-1 and eu-central-1"
MODELS = [
    Region,
    ServiceGroup,
    Service,
    Component,
    ComponentStatusChange,
    Incident,
    IncidentUpdate,
    Postmortem,
    IncidentTemplate,
    AuditEntry,
    get_user_model(),
]


def _load() -> str:
    out = io.StringIO()
    call_command("load_demo", stdout=out)
    return out.getvalue()


def _counts() -> dict[str, int]:
    counts = {model.__name__: model.objects.count() for model in MODELS}
    # The credits importers audit every import run, even one that adds nothing (that is a
    # record of an action, not duplicated data); every other audited action must not repeat.
    counts["AuditEntry"] = AuditEntry.objects.exclude(action__startswith="credits.").count()
    return counts


@pytest.mark.django_db(transaction=True)
def test_load_demo_twice_creates_nothing_twice(settings):
    """Two runs, each committed as two `manage.py load_demo` invocations would be."""
    settings.HELIOGRAPH_ADMIN_PASSWORD = "heliograph"  # what DEBUG=1 (make run) gives
    first_output = _load()
    first = _counts()
    second_output = _load()
    assert _counts() == first
    assert "Staff login: admin / heliograph" in first_output
    assert "created" not in second_output


def test_catalogue_regions_and_services():
    _load()
    assert list(Region.objects.values_list("slug", "name")) == [
        ("us-east-1", "US East (N. Virginia)"),
        ("eu-central-1", "EU Central (Frankfurt)"),
        ("us-west-2", "US West (Oregon)"),
    ]
    runs = Service.objects.get(slug="run-execution")
    assert sorted(runs.components.values_list("region__slug", flat=True)) == [
        "eu-central-1",
        "us-east-1",
        "us-west-2",
    ]
    for global_slug in ("dashboard",):
        components = Service.objects.get(slug=global_slug).components.all()
        assert [c.region_id for c in components] == [None]
    # The API is served per region (issue 12: the demo shows a regional API outage).
    api = Service.objects.get(slug="api")
    assert sorted(api.components.values_list("region__slug", flat=True)) == [
        "eu-central-1",
        "us-east-1",
        "us-west-2",
    ]
    assert (
        Service.objects.filter(
            name__in=["Scheduled runs", "Container image registry", "Realtime", "Bulk actions"]
        ).count()
        == 4
    )
    assert Component.objects.exclude(status="operational").count() == 0
    assert set(IncidentTemplate.objects.values_list("name", flat=True)) >= {
        "Region down: runs not starting",
        "Degraded dequeuing",
        "Resolved",
    }


def test_june_incident_timeline_in_both_regions_with_postmortem():
    _load()
    incident = Incident.objects.get(name=JUNE)
    assert incident.status == "postmortem" and incident.impact == "critical"
    assert incident.started_at == datetime(2026, 6, 22, 19, 0, tzinfo=UTC)
    assert incident.resolved_at == datetime(2026, 6, 23, 13, 13, tzinfo=UTC)
    regions = set(incident.components.values_list("region__slug", flat=True))
    assert {"us-east-1", "eu-central-1"} <= regions
    times = [u.display_at for u in incident.updates.order_by("display_at")]
    assert times[0] == datetime(2026, 6, 22, 19, 0, tzinfo=UTC)
    assert datetime(2026, 6, 22, 20, 9, tzinfo=UTC) in times
    assert datetime(2026, 6, 23, 8, 38, tzinfo=UTC) in times
    assert times[-1] == datetime(2026, 6, 23, 13, 13, tzinfo=UTC)
    assert incident.updates.order_by("-display_at").first().status == "resolved"

    def change(region: str, at: datetime) -> ComponentStatusChange:
        return ComponentStatusChange.objects.get(
            component__service__slug="run-execution",
            component__region__slug=region,
            created_at=at,
        )

    assert change("us-east-1", datetime(2026, 6, 22, 20, 9, tzinfo=UTC)).new_status == (
        "major_outage"
    )
    assert change("eu-central-1", datetime(2026, 6, 23, 8, 38, tzinfo=UTC)).new_status == (
        "major_outage"
    )
    resolved = ComponentStatusChange.objects.filter(
        incident=incident, created_at=datetime(2026, 6, 23, 13, 13, tzinfo=UTC)
    )
    assert set(resolved.values_list("new_status", flat=True)) == {"operational"}
    body = incident.postmortem.body
    assert "| 22 Jun 20:09 |" in body and "etcd" in body
    assert "<table>" in incident.postmortem.body_html


def test_history_is_consistent_in_time_order_for_every_component():
    _load()
    rows = defaultdict(list)
    for change in ComponentStatusChange.objects.order_by("created_at", "id"):
        rows[change.component_id].append(change)
    assert sum(len(r) for r in rows.values()) > 20
    for changes in rows.values():
        status = "operational"
        for change in changes:
            assert change.old_status == status, change
            status = change.new_status
        assert status == "operational"
    # Blips spread over the last 90 days, besides the June incident.
    recent = ComponentStatusChange.objects.filter(
        incident__isnull=True, created_at__gt=datetime(2026, 6, 24, tzinfo=UTC)
    )
    assert recent.count() >= 6


def test_staff_superuser_and_password_from_settings(settings):
    settings.HELIOGRAPH_ADMIN_PASSWORD = "s3cret-demo-pw"
    output = _load()
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_staff and admin.is_superuser
    assert admin.check_password("s3cret-demo-pw")
    assert "admin / s3cret-demo-pw" in output


def test_it_creates_no_admin_login_with_debug_off_and_no_password_set(settings):
    """DEBUG=0 without HELIOGRAPH_ADMIN_PASSWORD (the tests run with DEBUG=0): demo data
    loaded into a real deployment must not open it as admin/heliograph."""
    assert settings.HELIOGRAPH_ADMIN_PASSWORD == ""
    output = _load()
    assert not get_user_model().objects.filter(username="admin").exists()
    assert "No staff login created" in output and "admin / " not in output
    assert Service.objects.exists()  # the rest of the demo is loaded all the same


def _admin_password_setting(tmp_path, **env: str) -> str:
    """settings.HELIOGRAPH_ADMIN_PASSWORD as a fresh process computes it from `env`."""
    base = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    for key in ("DEBUG", "HELIOGRAPH_ADMIN_PASSWORD", "DATABASE_URL", "REDIS_URL"):
        base.pop(key, None)
    base.update(
        HELIOGRAPH_VAR_DIR=str(tmp_path),
        SECRET_KEY="s" * 20 + "-demo-test-key-0123456789abcdefghijklmnop",
        **env,
    )
    code = "from django.conf import settings; print(repr(settings.HELIOGRAPH_ADMIN_PASSWORD))"
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-v", "0", "-c", code],
        cwd=ROOT,
        env=base,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_the_admin_password_is_heliograph_only_in_development(tmp_path):
    assert _admin_password_setting(tmp_path, DEBUG="1") == "'heliograph'"
    assert _admin_password_setting(tmp_path, DEBUG="0") == "''"
    assert _admin_password_setting(tmp_path, DEBUG="0", HELIOGRAPH_ADMIN_PASSWORD="pw-9") == (
        "'pw-9'"
    )


@pytest.mark.parametrize(
    ("env", "admin"),
    [({"DEBUG": "1"}, "heliograph"), ({"DEBUG": "0"}, None)],
    ids=["development", "production"],
)
def test_manage_load_demo_creates_admin_only_in_development(tmp_path, env, admin):
    """End to end, as `make run` (DEBUG=1) and as a production shell (DEBUG=0) run it."""
    base = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    for key in ("DEBUG", "HELIOGRAPH_ADMIN_PASSWORD", "DATABASE_URL", "REDIS_URL"):
        base.pop(key, None)
    base.update(
        HELIOGRAPH_VAR_DIR=str(tmp_path),
        SECRET_KEY="s" * 20 + "-demo-test-key-0123456789abcdefghijklmnop",
        **env,
    )
    code = (
        "from django.core.management import call_command as c; "
        "c('migrate', verbosity=0); c('load_demo'); "
        "from django.contrib.auth import get_user_model as m; "
        "u = m().objects.filter(username='admin').first(); "
        "print('ADMIN', u and u.check_password('heliograph'))"
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-v", "0", "-c", code],
        cwd=ROOT,
        env=base,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    if admin:
        assert "Staff login: admin / heliograph" in result.stdout
        assert "ADMIN True" in result.stdout
    else:
        assert "No staff login created" in result.stdout
        assert "ADMIN None" in result.stdout


def test_upcoming_maintenance_and_public_page_show_demo(client):
    _load()
    maintenance = Incident.objects.get(kind="maintenance")
    assert maintenance.status == "scheduled"
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Run execution" in html and "us-east-1" in html


def test_load_demo_writes_the_catalogue_and_templates_through_the_services():
    """Every row the demo creates has the audit entry its service writes: nothing is saved
    around the services (service groups and templates were once created directly)."""
    _load()
    audited = set(AuditEntry.objects.filter(actor_name="demo").values_list("action", "summary"))
    for group in ServiceGroup.objects.all():
        assert ("service_group.create", group.name) in audited
    for template in IncidentTemplate.objects.all():
        assert ("template.create", template.name) in audited
    for region in Region.objects.all():
        assert ("region.create", f"{region.slug}: {region.name}") in audited
    for service in Service.objects.all():
        assert ("service.create", service.name) in audited
    assert ServiceGroup.objects.count() == 2 and IncidentTemplate.objects.count() == 3


def test_demo_shows_a_regional_api_outage():
    """The API fails in one region while the others answer (issue 12): the demo's history has
    it, on the API's eu-central-1 component only."""
    _load()
    incident = Incident.objects.get(name="API errors in eu-central-1")
    assert incident.impact == "major" and incident.status == "resolved"
    assert list(incident.components.values_list("service__slug", "region__slug")) == [
        ("api", "eu-central-1")
    ]
    assert ComponentStatusChange.objects.filter(
        incident=incident, component__region__slug="eu-central-1", new_status="partial_outage"
    ).exists()
