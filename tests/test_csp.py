"""The Content-Security-Policy: no page runs or styles anything inline unless the tag carries
the response's nonce; the public page, rendered once into the snapshot and served to everyone,
needs no nonce at all. (tests/browser/test_csp_browser.py checks in Chromium that no page
logs a violation.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from incidents.services import incident_declare
from statuspage.public.snapshot import snapshot_publish

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
NONCE_ATTRIBUTE = 'nonce="{{ request.csp_nonce }}"'


def _pages() -> list[Path]:
    """Templates of pages a browser shows (emails are not served with a policy)."""
    return sorted(p for p in TEMPLATES.rglob("*.html") if "emails" not in p.parts)


def _policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {
        name: values
        for name, *values in (part.split() for part in header.split(";") if part.strip())
    }


def test_no_template_has_a_style_attribute_or_an_event_handler():
    """Blocked by the policy (a nonce cannot cover them): classes and addEventListener."""
    offenders = []
    for path in _pages():
        text = path.read_text()
        for pattern in (r"\sstyle=", r"\son[a-z]+=", r"javascript:"):
            if re.search(pattern, text):
                offenders.append(f"{path.relative_to(ROOT)}: {pattern}")
    assert not offenders


def test_every_inline_script_and_style_carries_the_nonce():
    offenders = []
    for path in _pages():
        for tag in re.findall(r"<(?:script|style)\b[^>]*>", path.read_text()):
            if "src=" not in tag and NONCE_ATTRIBUTE not in tag:
                offenders.append(f"{path.relative_to(ROOT)}: {tag}")
    assert not offenders


def test_the_public_templates_have_no_inline_script_or_style_at_all():
    """Rendered once into the snapshot and served to everyone: no per-request nonce there.
    Scripts are external files of our own origin (live.js), never inline code."""
    public = [TEMPLATES / "base_public.html", *sorted((TEMPLATES / "public").glob("*.html"))]
    for path in public:
        text = path.read_text()
        for tag in re.findall(r"<script\b[^>]*>(?:</script>)?", text):
            assert " src=" in tag and tag.endswith("</script>"), (path, tag)
        assert "<style" not in text, path
        assert "csp_nonce" not in text, path


def test_the_policy_allows_nothing_from_elsewhere_and_nothing_inline(client, db):
    policy = _policy(client.get("/subscribe/"))
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["form-action"] == ["'self'"]
    header = client.get("/subscribe/")["Content-Security-Policy"]
    assert "unsafe-inline" not in header and "unsafe-eval" not in header


@pytest.fixture
def published(db, settings, tmp_path, catalogue, actor):
    settings.SNAPSHOT_DIR = tmp_path / "snapshot"
    incident = incident_declare(
        name="Runs not starting",
        body="Investigating.",
        actor=actor,
        impact="major",
        component_statuses={catalogue["runs_us"]: "major_outage"},
    )
    snapshot_publish()
    return incident


def test_the_public_page_is_served_under_a_policy_without_a_nonce(client, published):
    for url in ("/", "/history", f"/incidents/{published.public_id}"):
        first, second = client.get(url), client.get(url)
        assert first.status_code == 200, url
        assert "nonce-" not in first["Content-Security-Policy"], url
        assert _policy(first)["style-src"] == ["'self'"]
        # The same bytes for everyone: nothing per request in the page.
        assert first.content == second.content, url
        html = first.content.decode()
        # One external script (live.js: refresh and stale notice), nothing inline.
        scripts = re.findall(r"<script\b[^>]*>", html)
        assert scripts and all(' src="/static/' in tag for tag in scripts), scripts
        assert not re.search(r"<script\b[^>]*>[^<]", html)
        assert "<style" not in html and " style=" not in html


def test_the_subscriber_pages_need_no_nonce_either(client, db):
    """Their stylesheet is external, so the answer to a subscription is the same bytes for a
    known and an unknown address (tests/notifier), not different by a nonce."""
    response = client.get("/subscribe/")
    assert "nonce-" not in response["Content-Security-Policy"]
    assert 'rel="stylesheet"' in response.content.decode()


@pytest.mark.parametrize("url", ["/console/", "/console/login/", "/v1/docs"])
def test_inline_code_carries_the_nonce_of_its_response(client, django_user_model, url):
    if url == "/console/":
        client.force_login(django_user_model.objects.create_superuser("root", "r@x.org", "pw-r-1"))
    nonces = []
    for _ in range(2):
        response = client.get(url)
        assert response.status_code == 200
        (nonce,) = set(re.findall(r"'nonce-([^']+)'", response["Content-Security-Policy"]))
        assert f"'nonce-{nonce}'" in _policy(response)["style-src"]
        html = response.content.decode()
        tags = re.findall(r"<(?:script|style)\b[^>]*>", html)
        assert tags and all(f'nonce="{nonce}"' in tag for tag in tags), tags
        nonces.append(nonce)
    assert nonces[0] != nonces[1]  # a fresh nonce per response
