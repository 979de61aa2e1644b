"""The console's alerts page: who may see it, adding a source and a check-in, what it shows."""

from __future__ import annotations

import pytest
from detection_helpers import alertmanager_payload

from statuspage.metrics.models import AlertSource, CheckIn

pytestmark = pytest.mark.django_db


@pytest.fixture
def commander(client, django_user_model):
    user = django_user_model.objects.create_superuser("ic", "ic@example.com", "pw-ic-123456")
    client.force_login(user)
    return user


def test_anonymous_and_staff_without_the_console_permission_are_kept_out(client, staff_user):
    assert client.get("/console/metrics/alerts/")["Location"].startswith("/console/login/")
    client.force_login(staff_user)
    assert client.get("/console/metrics/alerts/").status_code == 403
    assert client.post("/console/metrics/drafts/1/publish").status_code == 403


def test_staff_add_a_source_and_a_check_in_and_see_their_urls_and_intakes(
    client, commander, catalogue, post
):
    response = client.post(
        "/console/metrics/alerts/",
        {"source-name": "prod-am", "source-kind": "alertmanager", "source-automation": "component"},
    )
    assert response.status_code == 302
    source = AlertSource.objects.get()
    assert source.hold_down == 60  # HELIOGRAPH_ALERT_HOLD_DOWN's default
    response = client.post(
        "/console/metrics/alerts/",
        {
            "checkin-name": "nightly",
            "checkin-period": "86400",
            "checkin-grace": "600",
            "checkin-component": str(catalogue["runs_eu"].pk),
            "checkin-component_status": "partial_outage",
            "checkin-automation": "component",
        },
    )
    assert response.status_code == 302
    checkin = CheckIn.objects.get()
    assert (
        checkin.component == catalogue["runs_eu"] and checkin.component_status == "partial_outage"
    )

    post(source, alertmanager_payload(service="nope"))
    page = client.get("/console/metrics/alerts/").content.decode()
    assert f"http://testserver/intake/alerts/{source.secret}" in page
    assert f"http://testserver/checkin/{checkin.secret}" in page
    assert "no component matches service=nope" in page
    assert "RunQueueStalled: firing, alert opened" in page  # the intake's record
    dashboard = client.get("/console/").content.decode()
    assert "Alerts from monitoring (1)" in dashboard

    again = client.post(
        "/console/metrics/alerts/",
        {"source-name": "prod-am", "source-kind": "grafana", "source-automation": "off"},
    )
    assert again.status_code == 200 and "already called" in again.content.decode()
    assert AlertSource.objects.count() == 1
