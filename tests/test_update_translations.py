"""Staff translations of an update's text (issue 13): stored cleaned, per language, read by
`incidents.selectors.update_text`; refused whole when a language or text is wrong."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from incidents import services
from incidents.models import Incident, UpdateTranslation
from incidents.selectors import update_text

pytestmark = pytest.mark.django_db


def test_it_stores_translations_and_reads_them_per_language(catalogue, actor):
    incident = services.incident_declare(
        name="Runs not starting",
        body="We are **investigating**.",
        actor=actor,
        translations={"de": "Wir **untersuchen** das.", "pt-BR": "Estamos investigando."},
    )
    update = incident.updates.get()
    assert update_text(update, "de") == (
        "Wir **untersuchen** das.",
        "<p>Wir <strong>untersuchen</strong> das.</p>",
    )
    assert update_text(update, "pt-br")[0] == "Estamos investigando."
    # No translation into French: the text as written.
    assert update_text(update, "fr")[0] == "We are **investigating**."
    assert update_text(update, None)[0] == "We are **investigating**."


def test_it_refuses_an_unknown_language_and_writes_nothing(catalogue, actor):
    with pytest.raises(ValidationError, match="'xx' is not one of the page's languages"):
        services.incident_declare(
            name="x", body="y", actor=actor, translations={"de": "ja", "xx": "no"}
        )
    assert Incident.objects.count() == 0
    assert UpdateTranslation.objects.count() == 0


def test_it_cleans_translated_text_like_the_update_itself(catalogue, actor):
    with pytest.raises(ValidationError, match="translations.de"):
        services.incident_declare(name="x", body="y", actor=actor, translations={"de": "a\x00b"})


def test_it_sanitizes_translated_markdown(catalogue, actor):
    incident = services.incident_declare(
        name="x", body="y", actor=actor, translations={"fr": "<script>alert(1)</script>ok"}
    )
    html = update_text(incident.updates.get(), "fr")[1]
    assert "<script" not in html and "ok" in html


def test_it_edits_adds_and_removes_translations_on_edit(catalogue, actor):
    incident = services.incident_declare(
        name="x", body="y", actor=actor, translations={"de": "alt"}
    )
    update = incident.updates.get()
    before = update.updated_at
    services.incident_update_edit(
        update=update, actor=actor, translations={"de": "", "ja": "調査中です。"}
    )
    update.refresh_from_db()
    assert sorted(update.translations.values_list("language", "body")) == [("ja", "調査中です。")]
    assert update.updated_at > before  # the incident's page is re-rendered


def test_it_keeps_translations_on_post_update(catalogue, actor):
    incident = services.incident_declare(name="x", body="y", actor=actor)
    update = services.incident_post_update(
        incident=incident,
        status="identified",
        body="Found it.",
        actor=actor,
        translations={"es": "Lo encontramos."},
    )
    assert update_text(update, "es")[0] == "Lo encontramos."
