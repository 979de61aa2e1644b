"""The staff incident console: who may use it, and that every action writes through the
services (DB state and audit trail), with clear, field-level errors that keep the input."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from incidents import services
from incidents.models import Incident, IncidentTemplate, IncidentUpdate
from statuspage.models import AuditEntry, ComponentStatusChange
from statuspage.services import Actor

pytestmark = pytest.mark.django_db


@pytest.fixture
def commander(django_user_model):
    """Staff with the console permission (not a superuser)."""
    user = django_user_model.objects.create_user("ic", "ic2@example.com", "pw-ic-12345")
    user.is_staff = True
    user.save()
    user.user_permissions.add(Permission.objects.get(codename="run_console"))
    return user


@pytest.fixture
def commander_client(client, commander):
    client.force_login(commander)
    return client


@pytest.fixture
def open_incident(catalogue, actor):
    return services.incident_declare(
        name="Existing incident",
        body="Investigating",
        actor=actor,
        component_statuses={catalogue["runs_eu"]: "degraded_performance"},
    )


@pytest.fixture
def maintenance(catalogue, actor):
    now = timezone.now()
    return services.maintenance_schedule(
        name="Disk move",
        body="Moving disks",
        actor=actor,
        scheduled_for=now + timedelta(days=1),
        scheduled_until=now + timedelta(days=1, hours=2),
        components=[catalogue["runs_us"]],
    )


def console_urls(incident: Incident, maintenance: Incident) -> list[tuple[str, str]]:
    i, m = incident.public_id, maintenance.public_id
    return [
        ("get", "/console/"),
        ("get", "/console/declare/"),
        ("post", "/console/declare/"),
        ("post", "/console/preview"),
        ("get", "/console/incidents/"),
        ("get", f"/console/incidents/{i}/"),
        ("post", f"/console/incidents/{i}/update/"),
        ("post", f"/console/incidents/{i}/resolve/"),
        ("post", f"/console/incidents/{i}/edit/"),
        ("post", f"/console/incidents/{i}/postmortem/"),
        ("get", "/console/maintenance/new/"),
        ("post", "/console/maintenance/new/"),
        ("post", f"/console/maintenance/{m}/start/"),
        ("post", f"/console/maintenance/{m}/complete/"),
        ("post", f"/console/maintenance/{m}/cancel/"),
        ("get", "/console/components/"),
        ("post", "/console/components/"),
        ("get", "/console/audit/"),
        ("get", f"/console/updates/{incident.updates.first().public_id}/edit/"),
        ("post", f"/console/updates/{incident.updates.first().public_id}/edit/"),
    ]


def _request(client, method: str, url: str):
    return client.get(url) if method == "get" else client.post(url, {})


def test_anonymous_is_sent_to_login_everywhere(client, open_incident, maintenance):
    audit_before = AuditEntry.objects.count()
    for method, url in console_urls(open_incident, maintenance):
        response = _request(client, method, url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/console/login/?next="), url
    assert AuditEntry.objects.count() == audit_before


def test_non_staff_user_gets_403_everywhere(client, django_user_model, open_incident, maintenance):
    user = django_user_model.objects.create_user("visitor", "v@example.com", "pw-visitor-1")
    user.user_permissions.add(Permission.objects.get(codename="run_console"))
    client.force_login(user)
    for method, url in console_urls(open_incident, maintenance):
        response = _request(client, method, url)
        assert response.status_code == 403, url
        assert b"not a staff account" in response.content
    maintenance.refresh_from_db()
    assert maintenance.status == "scheduled"


def test_staff_without_permission_gets_403_everywhere(
    client, staff_user, open_incident, maintenance
):
    client.force_login(staff_user)
    for method, url in console_urls(open_incident, maintenance):
        response = _request(client, method, url)
        assert response.status_code == 403, url
        assert b"Can use the incident console" in response.content
    maintenance.refresh_from_db()
    assert maintenance.status == "scheduled"


def test_staff_with_add_and_change_incident_permissions_may_use_it(client, staff_user):
    staff_user.user_permissions.add(
        *Permission.objects.filter(codename__in=["add_incident", "change_incident"])
    )
    client.force_login(staff_user)
    assert client.get("/console/").status_code == 200


def test_superuser_may_use_it(client, django_user_model):
    admin = django_user_model.objects.create_superuser("root", "r@example.com", "pw-root-123")
    client.force_login(admin)
    assert client.get("/console/").status_code == 200


def test_commander_reaches_every_console_url(commander_client, open_incident, maintenance):
    for method, url in console_urls(open_incident, maintenance):
        response = _request(commander_client, method, url)
        # Pages render; empty POSTs are refused as form errors (400) or act and redirect.
        assert response.status_code in (200, 302, 400), url
        assert response.status_code != 403


def test_login_page_logs_staff_in_and_logout_needs_post(client, commander):
    response = client.get("/console/login/")
    assert response.status_code == 200 and b'name="password"' in response.content
    response = client.post(
        "/console/login/", {"username": "ic", "password": "pw-ic-12345", "next": "/console/"}
    )
    assert response.status_code == 302 and response["Location"] == "/console/"
    assert client.get("/console/").status_code == 200
    response = client.post("/console/logout/")
    assert response.status_code == 302
    assert client.get("/console/").status_code == 302


def test_login_with_wrong_password_says_so(client, commander):
    response = client.post("/console/login/", {"username": "ic", "password": "nope"})
    assert response.status_code == 200
    assert b"Please enter a correct username and password" in response.content


def test_dashboard_shows_open_incidents_maintenance_and_matrix(
    commander_client, open_incident, maintenance, catalogue
):
    html = commander_client.get("/console/").content.decode()
    assert "Existing incident" in html
    assert "Disk move" in html
    assert "us-east-1" in html and "eu-central-1" in html
    assert "Degraded performance" in html  # runs_eu's status, as text
    assert "UTC" in html
    # It refreshes every minute, by script, with a pause button (a <meta> refresh could not be
    # paused: WCAG 2.2.1, axe's meta-refresh rule; issue 12).
    assert 'data-refresh="60"' in html and "data-refresh-pause" in html
    assert 'http-equiv="refresh"' not in html


def test_declare_writes_incident_components_history_and_audit(commander_client, catalogue):
    runs_us, api = catalogue["runs_us"], catalogue["api_global"]
    response = commander_client.post(
        "/console/declare/",
        {
            "name": "Runs not starting in us-east-1",
            "impact": "critical",
            "status": "investigating",
            f"c_{runs_us.public_id}": "major_outage",
            f"c_{api.public_id}": "degraded_performance",
            "body": "New runs are **not starting**.",
            "notify": "on",
        },
    )
    incident = Incident.objects.get(name="Runs not starting in us-east-1")
    assert response.status_code == 302
    assert response["Location"] == f"/console/incidents/{incident.public_id}/"
    assert incident.impact == "critical" and incident.status == "investigating"
    assert set(incident.components.all()) == {runs_us, api}
    runs_us.refresh_from_db()
    api.refresh_from_db()
    assert runs_us.status == "major_outage" and api.status == "degraded_performance"
    update = incident.updates.get()
    assert update.author_name == "ic" and update.deliver_notifications is True
    assert "<strong>not starting</strong>" in update.body_html
    change = ComponentStatusChange.objects.get(component=runs_us)
    assert change.incident == incident and change.actor_name == "ic"
    entry = AuditEntry.objects.get(action="incident.declare")
    assert entry.actor_name == "ic" and entry.user.username == "ic"
    assert entry.object_id == incident.public_id
    # The incident page shows the timeline with the change it made.
    page = commander_client.get(response["Location"]).content.decode()
    assert "Operational → <strong>Major outage</strong>" in page
    # The update form's grid marks the incident's components.
    grid = page.split('id="update-form"')[1]
    assert grid.count('title="affected by this incident"') == 2


def test_declare_whole_region_helper_sets_every_component_of_the_region(
    commander_client, catalogue
):
    runs_us, runs_eu = catalogue["runs_us"], catalogue["runs_eu"]
    commander_client.post(
        "/console/declare/",
        {
            "name": "us-east-1 down",
            "impact": "critical",
            "status": "identified",
            "r_us-east-1": "major_outage",
            "body": "Region down",
        },
    )
    runs_us.refresh_from_db()
    runs_eu.refresh_from_db()
    assert runs_us.status == "major_outage"
    assert runs_eu.status == "operational"
    incident = Incident.objects.get(name="us-east-1 down")
    assert incident.updates.get().deliver_notifications is False  # notify unchecked


def test_declare_form_errors_name_the_field_and_keep_input(commander_client, catalogue):
    runs_us = catalogue["runs_us"]
    response = commander_client.post(
        "/console/declare/",
        {
            "name": "",
            "impact": "critical",
            "status": "investigating",
            f"c_{runs_us.public_id}": "major_outage",
            "body": "Typed text that must survive",
        },
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="err-name"' in html and "Name: This field is required." in html
    assert "Typed text that must survive" in html
    assert '<option value="major_outage" selected>' in html  # the component choice is kept
    assert Incident.objects.count() == 0
    runs_us.refresh_from_db()
    assert runs_us.status == "operational"


def test_declare_unknown_status_value_is_refused_on_its_field(commander_client, catalogue):
    runs_us = catalogue["runs_us"]
    response = commander_client.post(
        "/console/declare/",
        {
            "name": "x",
            "impact": "catastrophic",
            "status": "investigating",
            f"c_{runs_us.public_id}": "on_fire",
            "body": "y",
        },
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert (
        "Impact: Select a valid choice. catastrophic is not one of the available choices." in html
    )
    assert "on_fire is not one of the available choices" in html
    assert Incident.objects.count() == 0


def test_service_error_is_put_on_the_form_field(commander_client, catalogue):
    """A message longer than the service allows: the service's message shows on `body`."""
    response = commander_client.post(
        "/console/declare/",
        {"name": "Long", "impact": "minor", "status": "investigating", "body": "x" * 25001},
    )
    assert response.status_code == 400
    assert b"The message is 25001 characters long; at most 25000." in response.content
    assert b'id="err-body"' in response.content
    assert Incident.objects.count() == 0


def test_post_update_with_component_change_and_impact(commander_client, open_incident, catalogue):
    runs_eu = catalogue["runs_eu"]
    response = commander_client.post(
        f"/console/incidents/{open_incident.public_id}/update/",
        {
            "status": "identified",
            "impact": "major",
            "body": "Found it",
            f"c_{runs_eu.public_id}": "partial_outage",
        },
    )
    assert response.status_code == 302
    open_incident.refresh_from_db()
    runs_eu.refresh_from_db()
    assert open_incident.status == "identified" and open_incident.impact == "major"
    assert runs_eu.status == "partial_outage"
    update = open_incident.updates.order_by("-display_at", "-id").first()
    assert update.body == "Found it" and update.author_name == "ic"
    assert AuditEntry.objects.filter(
        action="incident.update", actor_name="ic", object_id=open_incident.public_id
    ).exists()


def test_resolve_makes_components_operational_and_audits(
    commander_client, open_incident, catalogue
):
    response = commander_client.post(
        f"/console/incidents/{open_incident.public_id}/resolve/",
        {"body": "All good now", "notify": "on"},
    )
    assert response.status_code == 302
    open_incident.refresh_from_db()
    catalogue["runs_eu"].refresh_from_db()
    assert open_incident.status == "resolved" and open_incident.resolved_at is not None
    assert catalogue["runs_eu"].status == "operational"
    assert AuditEntry.objects.filter(
        action="incident.update", summary__endswith="resolved"
    ).exists()


def test_update_on_resolved_incident_is_refused_with_a_message(
    commander_client, open_incident, actor
):
    services.incident_resolve(incident=open_incident, actor=actor)
    count = IncidentUpdate.objects.count()
    response = commander_client.post(
        f"/console/incidents/{open_incident.public_id}/update/",
        {"status": "monitoring", "body": "Late news"},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "it takes no more updates" in html
    assert IncidentUpdate.objects.count() == count
    # The page of a resolved incident offers no update form at all.
    page = commander_client.get(f"/console/incidents/{open_incident.public_id}/").content
    assert b'id="update-form"' not in page and b"takes no more updates" in page


def test_edit_name_and_impact(commander_client, open_incident):
    response = commander_client.post(
        f"/console/incidents/{open_incident.public_id}/edit/",
        {"name": "Renamed incident", "impact": "critical"},
    )
    assert response.status_code == 302
    open_incident.refresh_from_db()
    assert (open_incident.name, open_incident.impact) == ("Renamed incident", "critical")
    assert AuditEntry.objects.filter(action="incident.edit", actor_name="ic").exists()


def test_postmortem_only_after_resolution(commander_client, open_incident, actor):
    url = f"/console/incidents/{open_incident.public_id}/postmortem/"
    response = commander_client.post(url, {"body": "## What happened"})
    assert response.status_code == 400
    assert b"A postmortem is published once the incident is resolved." in response.content
    services.incident_resolve(incident=open_incident, actor=actor)
    response = commander_client.post(url, {"body": "## What happened\n\netcd lost quorum."})
    assert response.status_code == 302
    open_incident.refresh_from_db()
    assert open_incident.status == "postmortem"
    assert "<h2>What happened</h2>" in open_incident.postmortem.body_html
    assert AuditEntry.objects.filter(action="postmortem.publish", actor_name="ic").exists()


def test_template_prefill_without_javascript(commander_client, catalogue):
    template = IncidentTemplate.objects.create(
        name="Region down: runs not starting",
        title="Runs not starting in us-east-1",
        status="identified",
        impact="critical",
        component_status="major_outage",
        body="New runs are not starting.",
    )
    runs_us = catalogue["runs_us"]
    response = commander_client.get(
        f"/console/declare/?template={template.pk}&component={runs_us.public_id}"
    )
    html = response.content.decode()
    assert 'value="Runs not starting in us-east-1"' in html
    assert '<option value="critical" selected>' in html
    assert '<option value="identified" selected>' in html
    assert "New runs are not starting." in html
    # The template's component status is pre-selected for the component asked for.
    cell = html.split(f'name="c_{runs_us.public_id}"')[1].split("</select>")[0]
    assert '<option value="major_outage" selected>' in cell
    # Picking another template keeps the component asked for.
    picker = html.split('id="template-picker"')[1].split("</form>")[0]
    assert f'<input type="hidden" name="component" value="{runs_us.public_id}">' in picker
    # The template data is in the page for the instant (JavaScript) prefill.
    assert 'id="templates-data"' in html and "Region down: runs not starting" in html


def test_unknown_template_is_ignored(commander_client, catalogue):
    IncidentTemplate.objects.create(name="Degraded dequeuing", body="Slow.")
    for bad in ("9999", "abc"):
        response = commander_client.get(f"/console/declare/?template={bad}")
        assert response.status_code == 200
        html = response.content.decode()
        assert "Degraded dequeuing" in html  # offered in the picker
        assert (
            '<span class="hint">Template' not in html
            and "Slow." not in html.split("templates-data")[0]
        )


def test_template_prefills_update_form(commander_client, open_incident):
    template = IncidentTemplate.objects.create(
        name="Resolved", status="resolved", impact="none", body="All fixed."
    )
    html = commander_client.get(
        f"/console/incidents/{open_incident.public_id}/?template={template.pk}"
    ).content.decode()
    form = html.split('id="update-form"')[1].split("</form>")[0]
    assert "All fixed." in form
    assert '<option value="resolved" selected>' in form


def test_preview_renders_markdown_and_strips_script(commander_client):
    response = commander_client.post(
        "/console/preview",
        {
            "body": "**bold** <script>alert(1)</script> [x](javascript:alert(2)) "
            '<img src=x onerror="alert(3)">'
        },
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "<strong>bold</strong>" in html
    assert "<script" not in html and "javascript:" not in html and "onerror" not in html


def test_preview_refuses_get(commander_client):
    assert commander_client.get("/console/preview").status_code == 405


def test_console_requires_csrf(client, commander, catalogue):
    csrf_client = client.__class__(enforce_csrf_checks=True)
    csrf_client.force_login(commander)
    response = csrf_client.post(
        "/console/declare/",
        {"name": "x", "impact": "minor", "status": "investigating", "body": "y"},
    )
    assert response.status_code == 403
    assert Incident.objects.count() == 0


def test_schedule_start_and_complete_maintenance(commander_client, catalogue):
    runs_us = catalogue["runs_us"]
    response = commander_client.post(
        "/console/maintenance/new/",
        {
            "name": "etcd disks",
            "scheduled_for": "2030-01-01T02:00",
            "scheduled_until": "2030-01-01T04:00",
            "components": [runs_us.pk],
            "body": "Moving etcd",
            "auto_in_progress": "on",
        },
    )
    assert response.status_code == 302
    maintenance = Incident.objects.get(name="etcd disks")
    assert maintenance.kind == "maintenance" and maintenance.status == "scheduled"
    assert maintenance.scheduled_for.isoformat() == "2030-01-01T02:00:00+00:00"
    assert maintenance.scheduled_auto_in_progress and not maintenance.scheduled_auto_completed
    page = commander_client.get(f"/console/incidents/{maintenance.public_id}/").content.decode()
    assert "2030-01-01 02:00 → 2030-01-01 04:00 UTC" in page
    commander_client.post(f"/console/maintenance/{maintenance.public_id}/start/")
    runs_us.refresh_from_db()
    assert runs_us.status == "under_maintenance"
    commander_client.post(f"/console/maintenance/{maintenance.public_id}/complete/")
    runs_us.refresh_from_db()
    maintenance.refresh_from_db()
    assert runs_us.status == "operational" and maintenance.status == "completed"
    actions = set(AuditEntry.objects.filter(actor_name="ic").values_list("action", flat=True))
    assert {"maintenance.schedule", "incident.update"} <= actions


def test_maintenance_window_end_before_start_is_refused_on_the_field(commander_client, catalogue):
    response = commander_client.post(
        "/console/maintenance/new/",
        {
            "name": "Backwards",
            "scheduled_for": "2030-01-01T04:00",
            "scheduled_until": "2030-01-01T02:00",
            "body": "x",
        },
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="err-scheduled_until"' in html
    assert "The end of the window must be after its start." in html
    assert 'value="Backwards"' in html and 'value="2030-01-01T04:00"' in html
    assert not Incident.objects.filter(name="Backwards").exists()


def test_completing_a_completed_maintenance_says_why(commander_client, maintenance, actor):
    services.maintenance_complete(incident=maintenance, actor=actor)
    response = commander_client.post(
        f"/console/maintenance/{maintenance.public_id}/complete/", follow=True
    )
    assert b"it takes no more updates" in response.content


def test_set_component_status_with_reason(commander_client, catalogue):
    api = catalogue["api_global"]
    response = commander_client.post(
        "/console/components/",
        {"component": api.pk, "status": "partial_outage", "reason": "Upstream 5xx"},
    )
    assert response.status_code == 302
    api.refresh_from_db()
    assert api.status == "partial_outage"
    change = ComponentStatusChange.objects.get(component=api)
    assert change.reason == "Upstream 5xx" and change.actor_name == "ic"
    entry = AuditEntry.objects.get(action="component.set_status")
    assert entry.actor_name == "ic" and entry.data == {"reason": "Upstream 5xx"}


def test_set_component_status_requires_a_reason(commander_client, catalogue):
    api = catalogue["api_global"]
    response = commander_client.post(
        "/console/components/", {"component": api.pk, "status": "major_outage", "reason": ""}
    )
    assert response.status_code == 400
    assert b'id="err-reason"' in response.content
    api.refresh_from_db()
    assert api.status == "operational"


def test_audit_trail_is_paginated_newest_first(commander_client, catalogue):
    actor = Actor.system("bulk")
    for i in range(60):
        services.incident_declare(name=f"Declared #{i:02d}", body="b", actor=actor)
    # Names that no public id or audit action can contain by chance (ids are [a-z0-9]).
    first = commander_client.get("/console/audit/").content.decode()
    assert "Declared #59" in first and "Declared #00" not in first
    assert "Page 1 of" in first
    second = commander_client.get("/console/audit/?page=2").content.decode()
    assert "Declared #00" in second


def test_times_are_shown_in_utc_with_the_zone(commander_client, catalogue, actor):
    from datetime import UTC, datetime

    incident = services.incident_declare(
        name="Timed",
        body="b",
        actor=actor,
        display_at=datetime(2026, 6, 22, 20, 9, tzinfo=UTC),
    )
    html = commander_client.get(f"/console/incidents/{incident.public_id}/").content.decode()
    assert "2026-06-22 20:09 UTC" in html


def test_console_pages_cost_a_fixed_number_of_queries(
    commander_client, catalogue, actor, django_assert_max_num_queries
):
    """Built for speed under stress: the number of queries does not grow with the incidents,
    updates or components on the page."""
    for i in range(8):
        incident = services.incident_declare(
            name=f"Open {i}",
            body="b",
            actor=actor,
            component_statuses={catalogue["runs_us"]: "partial_outage"},
        )
        services.incident_post_update(incident=incident, status="identified", body="c", actor=actor)
    for url in ("/console/", "/console/declare/", f"/console/incidents/{incident.public_id}/"):
        with django_assert_max_num_queries(16):
            response = commander_client.get(url)
        assert response.status_code == 200


def test_correct_the_text_of_an_update(commander_client, open_incident):
    update = open_incident.updates.get()
    url = f"/console/updates/{update.public_id}/edit/"
    assert "Investigating" in commander_client.get(url).content.decode()
    response = commander_client.post(url, {"body": ""})
    assert response.status_code == 400 and b'id="err-body"' in response.content
    response = commander_client.post(url, {"body": "Investigating *slow* dequeuing"})
    assert response.status_code == 302
    update.refresh_from_db()
    assert update.body_html == "<p>Investigating <em>slow</em> dequeuing</p>"
    assert IncidentUpdate.objects.filter(incident=open_incident).count() == 1
    assert AuditEntry.objects.filter(action="incident_update.edit", actor_name="ic").exists()


def test_console_loads_no_external_assets(commander_client, open_incident):
    """Own CSS and JavaScript: nothing from a CDN (the console must work when the internet,
    or a CDN, is part of the outage). The script is inlined with this response's CSP nonce;
    the CSS is the one stylesheet of every page (issue 12), from our own /static/, like the
    favicon."""
    for url in ("/console/", "/console/declare/", f"/console/incidents/{open_incident.public_id}/"):
        html = commander_client.get(url).content.decode()
        assert "<script nonce=" in html
        assert 'src="http' not in html
        links = re.findall(r"<link\b[^>]*>", html)
        assert links and all('href="/static/' in link for link in links), links
        assert any("statuspage/public" in link and 'rel="stylesheet"' in link for link in links)


def test_console_works_on_an_empty_catalogue(commander_client):
    assert b"No services yet" in commander_client.get("/console/").content
    assert commander_client.get("/console/declare/").status_code == 200
    response = commander_client.post(
        "/console/declare/",
        {"name": "Something is off", "impact": "minor", "status": "investigating", "body": "?"},
    )
    assert response.status_code == 302
    assert Incident.objects.get().components.count() == 0


def test_declare_page_lists_open_incidents_to_avoid_duplicates(commander_client, open_incident):
    html = commander_client.get("/console/declare/").content.decode()
    hint = html.split('id="open-incidents-hint"')[1].split("</p>")[0]
    assert "Existing incident" in hint
    assert f"/console/incidents/{open_incident.public_id}/" in hint
    assert 'class="on" aria-current="page"><strong>Declare incident' in html


def test_it_posts_and_corrects_the_translations_of_an_update(commander_client, open_incident):
    page = commander_client.get(f"/console/incidents/{open_incident.public_id}/")
    assert 'name="translation_de"' in page.content.decode()
    response = commander_client.post(
        f"/console/incidents/{open_incident.public_id}/update/",
        {"status": "identified", "body": "Found it", "translation_de": "Ursache gefunden"},
    )
    assert response.status_code == 302
    update = open_incident.updates.order_by("-display_at", "-id").first()
    assert list(update.translations.values_list("language", "body")) == [("de", "Ursache gefunden")]
    edit_url = f"/console/updates/{update.public_id}/edit/"
    assert "Ursache gefunden" in commander_client.get(edit_url).content.decode()
    response = commander_client.post(
        edit_url, {"body": "Found it", "translation_de": "", "translation_ja": "原因を特定"}
    )
    assert response.status_code == 302
    assert list(update.translations.values_list("language", "body")) == [("ja", "原因を特定")]
