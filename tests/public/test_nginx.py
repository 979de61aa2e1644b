"""nginx (Debian's nginx-light) with the shipped config, deploy/nginx/heliograph.conf: the
page from the exported tree, the console from the app (a gunicorn process on the test
database), and the page still up with the app stopped."""

from __future__ import annotations

import pytest
import requests
from edge_servers import Nginx, WebNode, database_url

from incidents.services import incident_declare
from statuspage.public.snapshot import snapshot_publish

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def stack(settings, tmp_path, catalogue, actor):
    settings.SNAPSHOT_DIR = tmp_path / "snapshot"
    site = tmp_path / "site"
    settings.PUBLISH_TARGETS = [f"file://{site}"]
    incident_declare(
        name="Runs not starting",
        body="Investigating.",
        actor=actor,
        impact="major",
        component_statuses={catalogue["runs_us"]: "partial_outage"},
    )
    snapshot_publish()
    app = WebNode("app", database=database_url(), snapshot_dir=tmp_path / "app-snapshot")
    nginx = Nginx(root=site, app=f"127.0.0.1:{app.port}")
    yield nginx, app, site
    nginx.stop()
    app.stop()


def get(nginx: Nginx, path: str, **headers) -> requests.Response:
    return requests.get(f"{nginx.url}{path}", headers=headers, timeout=5, allow_redirects=False)


def test_the_page_comes_from_the_tree_and_the_console_from_the_app(stack):
    nginx, app, site = stack
    page = get(nginx, "/")
    assert page.status_code == 200
    assert page.content == (site / "index.html").read_bytes()
    assert "Runs not starting" in page.text
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert "Cross-Origin-Opener-Policy" not in page.headers  # a header only the app sends
    assert "max-age=10" in page.headers["Cache-Control"]
    # nginx's own validators (from the file: mtime and size), not the app's content hash.
    etag = page.headers["ETag"]
    assert etag != app.get("/").headers["ETag"]
    assert get(nginx, "/", **{"If-None-Match": etag}).status_code == 304
    # The pre-compressed sibling, as is.
    compressed = get(nginx, "/", **{"Accept-Encoding": "gzip"})
    assert compressed.headers["Content-Encoding"] == "gzip"
    assert int(compressed.headers["Content-Length"]) == (site / "index.html.gz").stat().st_size
    assert compressed.content == page.content

    history = get(nginx, "/history")
    assert history.status_code == 200
    assert history.content == (site / "history" / "index.html").read_bytes()
    summary = get(nginx, "/api/v2/summary.json")
    assert summary.headers["Content-Type"].startswith("application/json")
    assert summary.headers["Access-Control-Allow-Origin"] == "*"
    assert summary.json()["status"]["indicator"] == "major"
    assert get(nginx, "/badge.svg").headers["Content-Type"].startswith("image/svg+xml")
    calendar = get(nginx, "/maintenance.ics")
    assert calendar.content == (site / "maintenance.ics").read_bytes()
    assert calendar.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert get(nginx, "/.site.tree-0/index.html").status_code == 404  # no dot files

    embed = get(nginx, "/embed.html")
    assert embed.status_code == 200
    assert "frame-ancestors *" in embed.headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in embed.headers

    # Not in the tree: the app answers (the console sends a visitor to its login).
    console = get(nginx, "/console/")
    assert console.status_code == 302
    assert console.headers["Location"].startswith("/console/login/")
    assert get(nginx, "/hello").text == "hello"


def test_with_the_app_stopped_the_page_is_still_served(stack):
    nginx, app, site = stack
    assert get(nginx, "/console/").status_code == 302
    app.stop()
    for path in ("/", "/history", "/api/v2/summary.json", "/history.atom", "/embed.html"):
        response = get(nginx, path)
        assert response.status_code == 200, path
    assert "Runs not starting" in get(nginx, "/").text
    assert get(nginx, "/console/").status_code == 502  # only the app's own pages are gone


def test_it_serves_each_language_and_sends_the_unprefixed_page_to_the_browsers_language(stack):
    nginx, app, site = stack
    app.stop()  # all of it from the tree
    german = {"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"}
    for path in ("/", "/history"):
        redirect = get(nginx, path, **german)
        assert redirect.status_code == 302, path
        assert redirect.headers["Location"].endswith("/de" + (path if path != "/" else "/"))
        assert "Accept-Language" in redirect.headers["Vary"]
        english = get(nginx, path, **{"Accept-Language": "en-GB,de;q=0.5"})
        assert english.status_code == 200 and "Accept-Language" in english.headers["Vary"]
    page = get(nginx, "/de/")
    assert page.status_code == 200
    assert page.content == (site / "de" / "index.html").read_bytes()
    assert '<html lang="de">' in page.text
    assert (
        get(nginx, "/ja/history").content == (site / "ja" / "history" / "index.html").read_bytes()
    )
    # English under its prefix stays English, whatever the browser prefers.
    assert get(nginx, "/en/", **german).status_code == 200
    embed = get(nginx, "/fr/embed.html")
    assert (
        embed.status_code == 200 and "frame-ancestors *" in embed.headers["Content-Security-Policy"]
    )
