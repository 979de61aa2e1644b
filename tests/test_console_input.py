"""Malformed input to the staff console is a form error, a 400 or a 404, never a 500:
impossible dates in forms, `%00`, digits that are not ASCII, huge numbers and broken
percent-encodings in the URLs and query strings of every console page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from incidents import services
from incidents.credits.models import CreditPolicy
from incidents.models import Incident

pytestmark = pytest.mark.django_db

NASTY = ["%00", "a%00b", "%C2%B2", "%D9%A3", "9" * 30, "-1", "%ED%A0%80", "%FF", "1e20", "x" * 3000]


@pytest.fixture
def root(client, django_user_model):
    user = django_user_model.objects.create_superuser("root", "root@example.com", "pw-root-123")
    client.force_login(user)
    return client


@pytest.fixture
def pages(catalogue, actor) -> list[str]:
    incident = services.incident_declare(name="Existing", body="Investigating", actor=actor)
    now = timezone.now()
    maintenance = services.maintenance_schedule(
        name="Disk move",
        body="Moving disks",
        actor=actor,
        scheduled_for=now + timedelta(days=1),
        scheduled_until=now + timedelta(days=1, hours=2),
        components=[catalogue["runs_us"]],
    )
    update = incident.updates.first()
    i, m = incident.public_id, maintenance.public_id
    return [
        "/console/",
        "/console/declare/",
        "/console/incidents/",
        f"/console/incidents/{i}/",
        f"/console/incidents/{i}/edit/",
        f"/console/incidents/{i}/postmortem/",
        f"/console/updates/{update.public_id}/edit/",
        "/console/maintenance/new/",
        f"/console/incidents/{m}/",
        "/console/components/",
        "/console/audit/",
        "/console/metrics/",
        "/console/notifications/",
        "/console/credits/",
        "/console/credits/policies/new/",
        "/console/credits/import/",
    ]


PARAMETERS = ["page", "template", "component", "incident", "hours", "q", "state", "kind"]


def test_no_console_page_answers_500_to_a_malformed_query_string(root, pages):
    for url in pages:
        for value in NASTY:
            query = "&".join(f"{name}={value}" for name in PARAMETERS)
            response = root.get(f"{url}?{query}")
            assert response.status_code in (200, 400, 404, 405), (url, value, response.status_code)
            if "%00" in value:
                assert response.status_code == 400


def test_no_console_url_answers_500_to_a_malformed_id(root, pages):
    for template in (
        "/console/incidents/{}/",
        "/console/incidents/{}/update/",
        "/console/updates/{}/edit/",
        "/console/maintenance/{}/start/",
        "/console/credits/policies/{}/",
        "/console/credits/reports/{}/",
        "/console/credits/reports/1/accounts/{}/",
        "/console/notifications/channels/{}/",
    ):
        for value in NASTY:
            response = root.get(template.format(value))
            assert response.status_code in (400, 404, 405), (template, value, response.status_code)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2027-02-30T10:00", "2027-03-01T10:00"),
        ("2027-03-01T10:00", "2026-13-45T10:00"),
        ("2027-03-01T25:61", "2027-03-02T10:00"),
        ("2027-03-01T10:00", "10000-01-01T10:00"),
        ("%00", "2027-03-02T10:00"),
    ],
)
def test_impossible_maintenance_windows_are_form_errors(root, catalogue, start, end):
    response = root.post(
        "/console/maintenance/new/",
        {
            "name": "Disk move",
            "scheduled_for": start.replace("%00", "\x00"),
            "scheduled_until": end,
            "body": "Moving disks",
        },
    )
    assert response.status_code == 400, response.status_code
    assert "errorlist" in response.content.decode()
    assert not Incident.objects.filter(name="Disk move").exists()


@pytest.mark.parametrize(
    ("start", "end", "rules"),
    [
        ("2027-02-30T00:00Z", "2027-03-01T00:00Z", "USD 10.00"),
        ("2026-06-01T00:00Z", "2026-13-45", "USD 10.00"),
        ("0001-01-01T00:00+05:00", "2026-06-02T00:00Z", "USD 10.00"),
        ("2026-06-01T00:00Z", "2026-06-02T00:00Z", "USD 1e999999"),
        ("2026-06-01T00:00Z", "2026-06-02T00:00Z", "USD NaN"),
        ("2026-06-01T00:00Z", "2026-06-02T00:00Z", "USD 1.00 Infinity"),
    ],
)
def test_impossible_credit_policies_are_form_errors(root, start, end, rules):
    response = root.post(
        "/console/credits/policies/new/",
        {"window_start": start, "window_end": end, "rules": rules, "invoice_month": "2026-06"},
    )
    assert response.status_code == 200  # the form again, with its errors
    assert "errorlist" in response.content.decode()
    assert CreditPolicy.objects.count() == 0


def test_a_nul_in_a_console_form_is_a_form_error(root, catalogue):
    response = root.post(
        "/console/declare/",
        {"name": "Runs\x00down", "body": "x", "impact": "major", "status": "investigating"},
    )
    assert response.status_code in (200, 400)
    assert "Null characters are not allowed" in response.content.decode()
    assert Incident.objects.count() == 0
