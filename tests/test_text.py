"""Text is cleaned once, in the services (statuspage.text.clean_text): control characters,
NUL and lone surrogates are refused with the field named, single-line fields refuse line
breaks, and ANSI escape sequences pasted from a terminal are stripped from bodies. Every
entry point gets it: tested through the services, the v1 API and the console."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.utils import timezone

from incidents import services as incidents
from incidents.credits import services as credits
from incidents.models import Incident, IncidentTemplate, IncidentUpdate
from notifier import services as notifier
from notifier.models import Channel
from statuspage import services as catalogue_services
from statuspage.api.services import api_token_create
from statuspage.metrics import services as metrics
from statuspage.models import AuditEntry, ComponentStatusChange, Region, Service, ServiceGroup
from statuspage.text import clean_text, one_line, xml_safe

pytestmark = pytest.mark.django_db

ESC_NAME = "Runs failing \x1b[31mERROR\x1b[0m"
PASTED = "Output:\r\n\x1b[31mERROR\x1b[0m connection refused\r\n\tat worker-3"
STRIPPED = "Output:\nERROR connection refused\n\tat worker-3"


# --- The rule ---------------------------------------------------------------------------------


def test_it_strips_ansi_sequences_and_normalises_line_ends_in_bodies():
    assert clean_text(PASTED, field="body") == "Output:\nERROR connection refused\n\tat worker-3"
    # OSC hyperlinks and window titles, and charset switches, go too.
    assert clean_text("\x1b]8;;https://x.test\x07link\x1b]8;;\x07 \x1b(Bok", field="body") == (
        "link ok"
    )
    assert clean_text("a\rb", field="body") == "a\nb"


@pytest.mark.parametrize(
    ("value", "named", "position"),
    [
        ("stray escape \x1b", "U+001B, escape", 14),
        ("\x1b[31mred\x1b[0m then a stray \x1b", "U+001B, escape", 27),
        ("bell \x07", "U+0007, bell", 6),
        ("backspace\x08d", "U+0008, backspace", 10),
        ("nul \x00 byte", "NUL character (U+0000)", 5),
        ("lone \ud800 surrogate", "unpaired surrogate (U+D800", 6),
        ("c1 \x9b control", "U+009B", 4),
        ("not a char \uffff", "noncharacter (U+FFFF)", 12),
    ],
)
def test_it_refuses_control_characters_nul_and_surrogates_naming_field_and_position(
    value, named, position
):
    with pytest.raises(ValidationError) as error:
        clean_text(value, field="update_body")
    [message] = error.value.message_dict["update_body"]
    assert message.startswith("The update body contains")
    assert named in message
    assert f"at character {position};" in message


def test_it_refuses_line_breaks_and_escapes_in_single_line_fields_and_keeps_tabs():
    for value in ("two\nlines", "two\r\nlines", "two\rlines", "para\u2029graph"):
        with pytest.raises(ValidationError) as error:
            clean_text(value, field="name", single_line=True)
        assert "must be a single line" in error.value.message_dict["name"][0]
    with pytest.raises(ValidationError) as error:
        clean_text(ESC_NAME, field="name", single_line=True)
    assert "U+001B, escape" in error.value.message_dict["name"][0]
    assert clean_text("  tab\tok  ", field="name", single_line=True) == "tab\tok"
    assert clean_text(" runs", field="unit", single_line=True, strip=False) == " runs"


def test_read_side_helpers_make_old_rows_safe_for_xml_and_headers():
    assert xml_safe("a\x1b[1mb c\x00d\ufffe\x0c\te\n\x1b") == "ab cd\te\n"
    assert one_line(" Runs\r\nfailing \x1b[31mnow\x1b[0m\t\x00 ") == "Runs failing now"


# --- Through the services -----------------------------------------------------------------


def test_an_escape_in_an_incident_name_is_refused_and_nothing_is_written(catalogue, actor):
    with pytest.raises(ValidationError) as error:
        incidents.incident_declare(name=ESC_NAME, body="b", actor=actor)
    assert "U+001B" in error.value.message_dict["name"][0]
    assert not Incident.objects.exists()
    assert not AuditEntry.objects.filter(action="incident.declare").exists()


def test_pasted_terminal_output_in_a_body_is_stored_without_its_escape_sequences(catalogue, actor):
    incident = incidents.incident_declare(name="Runs failing", body=PASTED, actor=actor)
    update = incident.updates.get()
    assert update.body == STRIPPED
    assert "\x1b" not in update.body_html and "ERROR connection refused" in update.body_html
    later = incidents.incident_post_update(
        incident=incident, status="identified", body="\x1b[1mFound\x1b[0m it", actor=actor
    )
    assert later.body == "Found it"
    edited = incidents.incident_update_edit(update=later, actor=actor, body="\x1b[32mFixed\x1b[0m")
    assert edited.body == "Fixed"
    with pytest.raises(ValidationError) as error:
        incidents.incident_update_edit(update=later, actor=actor, body="stray \x1b")
    assert "body" in error.value.message_dict
    assert IncidentUpdate.objects.get(pk=later.pk).body == "Fixed"


def _single_line_writes(catalogue, actor):
    """Every service that stores a single-line field, as (field, call with that value)."""
    now = timezone.now()
    incident = incidents.incident_declare(name="Existing", body="b", actor=actor)
    template = incidents.template_create(name="Tpl", body="b", actor=actor)
    rule = [credits.CurrencyRule("USD", Decimal("1"))]
    window = {"window_start": now - timedelta(hours=2), "window_end": now - timedelta(hours=1)}
    metric = metrics.metric_create(name="Queue", slug="queue", actor=actor)
    return [
        ("name", lambda v: incidents.incident_declare(name=v, body="b", actor=actor)),
        ("name", lambda v: incidents.incident_edit(incident=incident, name=v, actor=actor)),
        (
            "name",
            lambda v: incidents.maintenance_schedule(
                name=v,
                body="b",
                actor=actor,
                scheduled_for=now + timedelta(days=1),
                scheduled_until=now + timedelta(days=1, hours=1),
            ),
        ),
        ("name", lambda v: incidents.template_create(name=v, body="b", actor=actor)),
        ("title", lambda v: incidents.template_update(template=template, title=v, actor=actor)),
        ("name", lambda v: catalogue_services.region_create(slug="ap-1", name=v, actor=actor)),
        (
            "name",
            lambda v: catalogue_services.region_update(region=catalogue["us"], name=v, actor=actor),
        ),
        ("name", lambda v: catalogue_services.service_create(name=v, actor=actor)),
        (
            "name",
            lambda v: catalogue_services.service_update(
                service=catalogue["runs"], name=v, actor=actor
            ),
        ),
        ("name", lambda v: catalogue_services.service_group_create(name=v, actor=actor)),
        (
            "name",
            lambda v: catalogue_services.component_add(name=v, actor=actor),
        ),
        (
            "name",
            lambda v: notifier.channel_create(
                kind="slack", name=v, url="https://hooks.slack.com/services/T/B/x", actor=actor
            ),
        ),
        ("name", lambda v: metrics.metric_create(name=v, slug="m2", actor=actor)),
        ("unit", lambda v: metrics.metric_update(metric=metric, unit=v, actor=actor)),
        ("name", lambda v: credits.credit_policy_create(actor=actor, name=v, rules=rule, **window)),
        ("name", lambda v: api_token_create(name=v, actor=actor)),
    ]


@pytest.mark.parametrize("value", ["two\nlines", "esc \x1b[1m", "nul \x00", "lone \udfff"])
def test_every_single_line_field_refuses_line_breaks_controls_nul_and_surrogates(
    catalogue, actor, value
):
    writes = _single_line_writes(catalogue, actor)
    counts = (
        Incident.objects.count(),
        IncidentTemplate.objects.count(),
        Region.objects.count(),
        Service.objects.count(),
        ServiceGroup.objects.count(),
        Channel.objects.count(),
    )
    for field, write in writes:
        with pytest.raises(ValidationError) as error:
            write(value)
        assert field in error.value.message_dict, (field, write)
    assert counts == (
        Incident.objects.count(),
        IncidentTemplate.objects.count(),
        Region.objects.count(),
        Service.objects.count(),
        ServiceGroup.objects.count(),
        Channel.objects.count(),
    )
    assert Region.objects.get(pk=catalogue["us"].pk).name == "US East (N. Virginia)"


def test_bodies_and_descriptions_refuse_nul_and_surrogates_everywhere(catalogue, actor):
    incident = incidents.incident_declare(name="Existing", body="b", actor=actor)
    incidents.incident_resolve(incident=incident, actor=actor)
    still_open = incidents.incident_declare(name="Open", body="b", actor=actor)
    writes = [
        ("body", lambda v: incidents.incident_declare(name="n", body=v, actor=actor)),
        (
            "body",
            lambda v: incidents.incident_post_update(
                incident=still_open,
                status="identified",
                body=v,
                actor=actor,
            ),
        ),
        ("body", lambda v: incidents.postmortem_publish(incident=incident, body=v, actor=actor)),
        ("body", lambda v: incidents.template_create(name="t", body=v, actor=actor)),
        (
            "description",
            lambda v: catalogue_services.service_create(name="S", description=v, actor=actor),
        ),
        (
            "description",
            lambda v: catalogue_services.component_update(
                component=catalogue["runs_us"], description=v, actor=actor
            ),
        ),
        (
            "reason",
            lambda v: catalogue_services.component_set_status(
                component=catalogue["runs_us"], status="major_outage", reason=v, actor=actor
            ),
        ),
        (
            "description",
            lambda v: metrics.metric_create(name="M", slug="m", description=v, actor=actor),
        ),
    ]
    for value in ("nul \x00", "lone \ud83d", "bell \x07"):
        for field, write in writes:
            with pytest.raises(ValidationError) as error:
                write(value)
            assert field in error.value.message_dict, (field, value)
    assert Incident.objects.count() == 2
    assert still_open.updates.count() == 1
    assert not ComponentStatusChange.objects.filter(component=catalogue["runs_us"]).exists()


def test_a_subscriber_address_with_a_control_character_is_refused(catalogue):
    for email in ("ada@example.com\x00", "ada\ud800@example.com", "ada@example.com\nBcc: x@y.z"):
        with pytest.raises(ValidationError) as error:
            notifier.subscriber_subscribe(email=email)
        assert "email" in error.value.message_dict


# --- Through the v1 API and the console -------------------------------------------------------


@pytest.fixture
def commander_client(client, django_user_model):
    user = django_user_model.objects.create_user("ic", "ic@example.com", "pw-ic-12345")
    user.is_staff = True
    user.save()
    user.user_permissions.add(Permission.objects.get(codename="run_console"))
    client.force_login(user)
    return client


def test_the_console_refuses_an_escape_or_newline_in_a_name_and_strips_one_in_a_body(
    commander_client, catalogue
):
    form = {"impact": "minor", "status": "investigating", "body": PASTED}
    for name, named in ((ESC_NAME, "U+001B"), ("Runs\r\nfailing", "single line")):
        response = commander_client.post("/console/declare/", {**form, "name": name})
        assert response.status_code == 400
        html = response.content.decode()
        assert 'id="err-name"' in html and named in html
        assert "connection refused" in html  # the typed body survives
    assert not Incident.objects.exists()

    response = commander_client.post("/console/declare/", {**form, "name": "Runs failing"})
    assert response.status_code == 302
    incident = Incident.objects.get()
    assert incident.updates.get().body == STRIPPED
    response = commander_client.post(
        f"/console/incidents/{incident.public_id}/update/",
        {"status": "identified", "body": "\x1b[1mFound\x1b[0m it"},
    )
    assert response.status_code == 302
    assert incident.updates.order_by("-id").first().body == "Found it"
    response = commander_client.post(
        f"/console/incidents/{incident.public_id}/update/",
        {"status": "identified", "body": "stray \x1b\nhere"},
    )
    assert response.status_code == 400
    assert "U+001B" in response.content.decode()
    assert incident.updates.count() == 2
