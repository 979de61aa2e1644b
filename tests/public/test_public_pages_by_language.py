"""The published pages in every language, through the app (issue 13): stable addresses under a
prefix, the addresses without one following Accept-Language, the words, dates and staff
translations of the reader's language, and the same pages in the static export."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from incidents.services import incident_declare
from statuspage import languages
from statuspage.public.snapshot import snapshot_publish

pytestmark = pytest.mark.django_db


@pytest.fixture
def published(settings, tmp_path, catalogue, actor):
    settings.SNAPSHOT_DIR = tmp_path / "snapshot"
    settings.PUBLISH_TARGETS = [f"file://{tmp_path / 'site'}"]
    incident = incident_declare(
        name="Runs not starting",
        body="We are investigating.",
        actor=actor,
        impact="critical",
        component_statuses={catalogue["runs_us"]: "major_outage"},
        display_at=datetime(2026, 6, 22, 20, 9, tzinfo=UTC),
        translations={"ja": "調査中です。", "de": "Wir untersuchen das."},
    )
    snapshot_publish()
    return incident, tmp_path / "site"


def test_it_sends_a_browser_that_prefers_another_language_to_its_address(client, published):
    incident, _site = published
    for path in ("/", "/history", f"/incidents/{incident.public_id}"):
        response = client.get(path, HTTP_ACCEPT_LANGUAGE="de-AT,de;q=0.9,en;q=0.5")
        assert response.status_code == 302
        assert response["Location"] == languages.language_path("de", path)
        assert "Accept-Language" in response["Vary"]
    # Quality decides, not order; English (or nothing we speak) is served in place.
    assert client.get("/", HTTP_ACCEPT_LANGUAGE="en;q=0.3, ja")["Location"] == "/ja/"
    for header in ("en-US,en;q=0.9,de;q=0.8", "ko-KR", ""):
        response = client.get("/", HTTP_ACCEPT_LANGUAGE=header)
        assert response.status_code == 200 and '<html lang="en">' in response.content.decode()
        assert "Accept-Language" in response["Vary"]


def test_it_serves_each_language_at_its_own_address(client, published):
    incident, _site = published
    german = client.get("/de/", HTTP_ACCEPT_LANGUAGE="ja").content.decode()  # no redirect
    assert '<html lang="de">' in german
    assert "Schwerer Ausfall" in german  # the major outage, in German words
    # The banner's headline: English in /api/v2's status.description, German on the page.
    assert '<h1 id="status-headline">Schwerer Systemausfall</h1>' in german
    assert 'href="/de/history"' in german
    japanese = client.get(f"/ja/incidents/{incident.public_id}").content.decode()
    assert '<html lang="ja">' in japanese
    assert "2026年6月22日 20:09" in japanese  # a Japanese date, with its zone after it
    assert "調査中です。" in japanese and "We are investigating." not in japanese
    # No Japanese translation asked for French: the text as staff wrote it.
    french = client.get(f"/fr/incidents/{incident.public_id}").content.decode()
    assert "We are investigating." in french and "22 juin 2026" in french
    # English at its prefix stays English whatever the browser prefers.
    english = client.get("/en/history", HTTP_ACCEPT_LANGUAGE="de")
    assert english.status_code == 200 and '<html lang="en">' in english.content.decode()
    assert 'href="/en/' in english.content.decode()
    assert client.get("/xx/").status_code == 404


def test_the_static_export_has_every_language(client, published):
    incident, site = published
    for code in languages.CODES:
        for path in ("/", "/history", f"/incidents/{incident.public_id}", "/embed.html"):
            address = languages.language_path(code, path)
            file = site / (
                address.strip("/") + ("" if address.endswith(".html") else "/index.html")
            )
            assert file.read_bytes() == client.get(address).content, address
