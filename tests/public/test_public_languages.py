"""The public templates in another language (issue 13): the page is rendered inside
`translation.override(code)` with `language_code`, `lp` and `page_path`; links keep the language
prefix, the switcher and `hreflang` alternates list every language, dates and update texts are
the reader's."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.template.loader import render_to_string
from django.utils import translation

from incidents import services

pytestmark = pytest.mark.django_db


def german(template: str, **context) -> str:
    with translation.override("de"):
        return render_to_string(
            template,
            {
                "language_code": "de",
                "lp": "/de",
                "site_name": "Heliograph",
                "site_url": "https://status.example.com",
                **context,
            },
        )


def test_it_shows_the_staff_translation_of_an_update_and_the_original_without_one(catalogue, actor):
    incident = services.incident_declare(
        name="Runs not starting",
        body="We are **investigating**.",
        actor=actor,
        translations={"de": "Wir **untersuchen** das."},
    )
    update = incident.updates.get()
    html = german("public/_update.html", update=update)
    assert "<p>Wir <strong>untersuchen</strong> das.</p>" in html
    assert "investigating" not in html
    with translation.override("fr"):
        html = render_to_string("public/_update.html", {"update": update, "language_code": "fr"})
    assert "<p>We are <strong>investigating</strong>.</p>" in html


def test_it_keeps_the_language_prefix_in_links_and_lists_every_language(catalogue, actor):
    incident = services.incident_declare(name="Runs not starting", body="x", actor=actor)
    html = german(
        "public/not_found.html",
        page_path=f"/incidents/{incident.public_id}",
        generated_at=datetime(2026, 6, 22, 14, 5, tzinfo=UTC),
    )
    assert '<html lang="de">' in html
    assert 'href="/de/history"' in html and 'href="/de/subscribe/"' in html
    assert 'href="/history"' not in html
    assert 'href="/history.atom"' in html  # feeds have no language
    assert "22. Juni 2026, 14:05 UTC" in html
    page = f"/incidents/{incident.public_id}"
    assert (
        f'<link rel="alternate" hreflang="ja" href="https://status.example.com/ja{page}">' in html
    )
    assert f'<a href="/de{page}" lang="de" hreflang="de" aria-current="true">Deutsch</a>' in html
    assert f'<a href="/fr{page}" lang="fr" hreflang="fr">Français</a>' in html
