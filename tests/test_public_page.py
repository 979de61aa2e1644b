"""The public page, history, incident page and feeds, and the HTTP behaviour of every public
document: validators, 304s, caching headers, no cookies."""

from __future__ import annotations

import gzip
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
import requests
from django.utils import timezone
from django.utils.http import http_date

from incidents.services import (
    incident_declare,
    incident_post_update,
    incident_resolve,
    maintenance_schedule,
    postmortem_publish,
)
from statuspage.public.snapshot import read_manifest, snapshot_publish
from statuspage.public.urls import DOCUMENTS


@pytest.fixture(autouse=True)
def snapshot_dir(settings, tmp_path):
    settings.SNAPSHOT_DIR = tmp_path / "snapshot"
    return settings.SNAPSHOT_DIR


def at(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=UTC)


@pytest.fixture
def june(catalogue, actor) -> dict:
    """The June 2026 incident, shaped like the seed report's timeline."""
    runs_us, runs_eu = catalogue["runs_us"], catalogue["runs_eu"]
    incident = incident_declare(
        name="Runs not starting in us-east-1 and eu-central-1",
        body="us-east-1 **lost etcd quorum**; new runs are not starting. <script>alert(1)</script>",
        actor=actor,
        impact="critical",
        component_statuses={runs_us: "major_outage"},
        display_at=at("2026-06-22 20:09"),
    )
    incident_post_update(
        incident=incident,
        status="identified",
        body="Control plane resized; us-east-1 dequeuing at full speed.",
        actor=actor,
        component_statuses={runs_us: "degraded_performance"},
        display_at=at("2026-06-23 06:53"),
    )
    incident_post_update(
        incident=incident,
        status="identified",
        body="eu-central-1 lost its control plane the same way.",
        actor=actor,
        component_statuses={runs_eu: "major_outage"},
        display_at=at("2026-06-23 08:38"),
    )
    incident_resolve(
        incident=incident,
        actor=actor,
        body="Both regions fully recovered.",
        display_at=at("2026-06-23 13:13"),
    )
    postmortem_publish(
        incident=incident,
        body="## What happened\n\nA capacity shortage, then etcd [lost quorum](javascript:alert(1)).",
        actor=actor,
    )
    return {"incident": incident, **catalogue}


@pytest.fixture
def live(catalogue, actor) -> dict:
    """An open incident and an upcoming maintenance, published."""
    now = timezone.now()
    incident = incident_declare(
        name="Slow dequeuing in eu-central-1",
        body="Runs start late; investigating.",
        actor=actor,
        impact="major",
        component_statuses={catalogue["runs_eu"]: "partial_outage"},
    )
    maintenance = maintenance_schedule(
        name="Registry upgrade",
        body="Image pulls may be slow.",
        actor=actor,
        scheduled_for=now + timedelta(days=2),
        scheduled_until=now + timedelta(days=2, hours=1),
        components=[catalogue["api_global"]],
    )
    snapshot_publish()
    return {"incident": incident, "maintenance": maintenance, **catalogue}


def test_page_shows_banner_matrix_incidents_maintenance_uptime_and_links(client, live):
    response = client.get("/")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    html = response.content.decode()
    assert "Partial System Outage" in html  # banner
    # The matrix: regions as columns, a Global column, services as rows, text + icon per cell.
    for text in ("us-east-1", "eu-central-1", "Global", "Run execution", "API"):
        assert text in html
    assert '<span class="label">Partial outage</span>' in html
    assert "icons/partial_outage.svg" in html
    assert html.count('<span class="label">Operational</span>') >= 3  # us, API + legend
    # Open incident with its latest update, maintenance coming up.
    assert "Slow dequeuing in eu-central-1" in html
    assert "Runs start late; investigating." in html
    assert f'href="/incidents/{live["incident"].public_id}"' in html
    assert "Upcoming maintenance" in html and "Registry upgrade" in html
    # Uptime bars per service and per region, with the formula stated.
    assert "Uptime over the last 90 days" in html
    assert "A major outage counts as fully down, a partial outage as 30% down" in html
    assert html.count('<ol class="bars"') == 2 + 2  # 2 services, 2 regions
    assert html.count('<li class="b-') == 4 * 90
    # Links: subscribe, history, feeds; times in UTC, named.
    for link in (
        'href="/subscribe/"',
        'href="/history"',
        'href="/history.atom"',
        'href="/history.rss"',
    ):
        assert link in html
    assert "UTC" in html
    assert '<meta name="viewport"' in html


def test_stylesheet_is_local_and_responsive(live):
    from django.conf import settings

    css = (settings.BASE_DIR / "statuspage/static/statuspage/public.css").read_text()
    assert "@media (max-width: 640px)" in css
    assert "http://" not in css and "https://" not in css  # nothing external


def test_incident_page_has_timeline_with_component_changes_and_postmortem(client, june):
    incident = june["incident"]
    snapshot_publish()
    response = client.get(f"/incidents/{incident.public_id}")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Runs not starting in us-east-1 and eu-central-1" in html
    assert '<th scope="col">Time (UTC)</th>' in html
    # Newest first, like the console (issue 12); the "oldest first" order, chronological like
    # the report's table, is the page's second table body, shown by its link.
    newest = html[html.index('<tbody class="tl-newest">') : html.index('<tbody class="tl-oldest">')]
    oldest = html[html.index('<tbody class="tl-oldest">') :]
    times = ("22 Jun, 20:09", "23 Jun, 06:53", "23 Jun, 08:38", "23 Jun, 13:13")
    positions = [newest.index(t) for t in times]
    assert positions == sorted(positions, reverse=True)
    positions = [oldest.index(t) for t in times]
    assert positions == sorted(positions)
    assert 'href="#timeline-oldest"' in html
    assert "<strong>lost etcd quorum</strong>" in html
    assert "Run execution (us-east-1)</span>: Operational → <strong>Major outage</strong>" in html
    assert (
        "Run execution (us-east-1)</span>: Major outage → <strong>Degraded performance</strong>"
        in html
    )
    assert (
        "Run execution (eu-central-1)</span>: Major outage → <strong>Operational</strong>" in html
    )
    # Postmortem, sanitized (the Markdown came through render_markdown).
    assert "Postmortem" in html and "<h2>What happened</h2>" in html
    assert "<script>" not in html and "alert(1)" not in html.replace("&lt;", "")
    assert "javascript:" not in html


def test_history_groups_by_month_and_feeds_list_incidents(client, june, live):
    front = client.get("/").content.decode()
    recent = front[front.index("Recent history") :]
    assert f'href="/incidents/{june["incident"].public_id}"' in recent  # closed: listed
    assert f'href="/incidents/{live["incident"].public_id}"' not in recent  # open: above

    html = client.get("/history").content.decode()
    assert "June 2026" in html
    assert html.index(timezone.now().strftime("%B %Y")) < html.index("June 2026")  # newest first
    assert f'href="/incidents/{june["incident"].public_id}"' in html
    assert "Registry upgrade" in html

    atom = client.get("/history.atom")
    assert atom["Content-Type"] == "application/atom+xml; charset=utf-8"
    ns = {"a": "http://www.w3.org/2005/Atom"}
    entries = ET.fromstring(atom.content).findall("a:entry", ns)
    titles = [e.find("a:title", ns).text for e in entries]
    assert "Runs not starting in us-east-1 and eu-central-1 [Postmortem]" in titles
    assert "Slow dequeuing in eu-central-1 [Investigating]" in titles
    links = [e.find("a:link", ns).get("href") for e in entries]
    assert f"http://testserver/incidents/{june['incident'].public_id}" in links

    rss = client.get("/history.rss")
    assert rss["Content-Type"] == "application/rss+xml; charset=utf-8"
    items = ET.fromstring(rss.content).findall("channel/item")
    assert {i.find("title").text for i in items} >= {"Registry upgrade [Scheduled]"}
    assert len(items) == 3


def test_every_document_has_validators_cache_control_and_no_cookies(client, june, live):
    incident_path = f"/incidents/{june['incident'].public_id}"
    for path in [*DOCUMENTS, incident_path]:
        response = client.get(path)
        assert response.status_code == 200, path
        assert response["ETag"].startswith('"') and response["ETag"].endswith('"')
        assert response["Last-Modified"].endswith(" GMT")
        assert "public" in response["Cache-Control"]
        assert "max-age=10" in response["Cache-Control"]
        assert "stale-if-error" in response["Cache-Control"]
        assert not response.cookies, path
        assert "Set-Cookie" not in response
        assert "Cookie" not in response.get("Vary", "")
        assert "X-Snapshot-Stale" not in response
        if path.startswith("/api/v2/"):
            assert response["Access-Control-Allow-Origin"] == "*"
        else:
            assert "Access-Control-Allow-Origin" not in response


def test_conditional_requests_answer_304(client, live):
    first = client.get("/api/v2/summary.json")
    etag, last_modified = first["ETag"], first["Last-Modified"]

    same = client.get("/api/v2/summary.json", HTTP_IF_NONE_MATCH=etag)
    assert same.status_code == 304
    assert same.content == b""
    assert same["ETag"] == etag
    assert "max-age=10" in same["Cache-Control"]
    assert client.get("/", HTTP_IF_NONE_MATCH=f'"nope", W/{etag}').status_code == 200
    assert (
        client.get("/api/v2/summary.json", HTTP_IF_NONE_MATCH=f'"nope", W/{etag}').status_code
        == 304
    )
    assert client.get("/api/v2/summary.json", HTTP_IF_NONE_MATCH='"other"').status_code == 200
    assert client.get("/api/v2/summary.json", HTTP_IF_NONE_MATCH="*").status_code == 304

    assert (
        client.get("/api/v2/summary.json", HTTP_IF_MODIFIED_SINCE=last_modified).status_code == 304
    )
    earlier = http_date(datetime.now(UTC).timestamp() - 3600)
    assert client.get("/api/v2/summary.json", HTTP_IF_MODIFIED_SINCE=earlier).status_code == 200
    # If-None-Match wins over If-Modified-Since.
    assert (
        client.get(
            "/api/v2/summary.json",
            HTTP_IF_NONE_MATCH='"other"',
            HTTP_IF_MODIFIED_SINCE=last_modified,
        ).status_code
        == 200
    )


def test_content_changes_change_the_etag(client, live, actor):
    before = client.get("/api/v2/summary.json")["ETag"]
    incident_post_update(
        incident=live["incident"], status="identified", body="Found it.", actor=actor
    )
    snapshot_publish()
    response = client.get("/api/v2/summary.json", HTTP_IF_NONE_MATCH=before)
    assert response.status_code == 200
    assert response["ETag"] != before
    assert response.json()["incidents"][0]["status"] == "identified"


def test_gzip_when_accepted(client, live):
    plain = client.get("/")
    packed = client.get("/", HTTP_ACCEPT_ENCODING="gzip, br")
    assert packed["Content-Encoding"] == "gzip"
    # The page's address without prefix follows Accept-Language (statuspage/languages.py).
    assert packed["Vary"] == "Accept-Encoding, Accept-Language"
    assert gzip.decompress(packed.content) == plain.content
    assert packed["ETag"] != plain["ETag"]
    assert (
        client.get("/", HTTP_ACCEPT_ENCODING="gzip", HTTP_IF_NONE_MATCH=packed["ETag"]).status_code
        == 304
    )


def test_head_allowed_other_methods_refused(client, live):
    get = client.get("/api/v2/status.json")
    head = client.head("/api/v2/status.json")
    assert head.status_code == 200 and head["ETag"] == get["ETag"]
    assert head.content == b""
    assert head["Content-Length"] == str(len(get.content))
    assert client.post("/api/v2/status.json").status_code == 405


def test_unknown_incident_is_404_and_hello_is_plain(client, live, django_assert_num_queries):
    with django_assert_num_queries(0):
        missing = client.get("/incidents/doesnotexist")
        hello = client.get("/hello")
    assert missing.status_code == 404
    assert hello.status_code == 200
    assert hello.content == b"hello"
    assert hello["Content-Type"] == "text/plain"
    assert not hello.cookies


def test_manifest_records_etag_last_modified_and_generated_at(live, snapshot_dir):
    manifest = read_manifest()
    entry = manifest["documents"]["/"]
    assert set(entry) >= {"sha256", "etag", "last_modified", "generated_at", "content_type"}
    assert entry["etag"] == f'"{entry["sha256"][:32]}"'
    assert (snapshot_dir / "blobs" / entry["sha256"]).exists()


@pytest.mark.django_db(transaction=True)
def test_real_http_through_the_live_server(live_server, catalogue, actor):
    """Over a real socket: the after-commit publish, gzip, a 304, and no cookies."""
    incident_declare(
        name="API errors",
        body="Elevated error rates.",
        actor=actor,
        impact="minor",
        component_statuses={catalogue["api_global"]: "partial_outage"},
    )
    session = requests.Session()
    response = session.get(f"{live_server.url}/api/v2/incidents/unresolved.json", timeout=10)
    assert response.status_code == 200
    assert [i["name"] for i in response.json()["incidents"]] == ["API errors"]
    page = session.get(f"{live_server.url}/", timeout=10)
    assert page.headers["Content-Encoding"] == "gzip"  # requests asks for gzip
    assert "API errors" in page.text
    assert not page.cookies and "Set-Cookie" not in page.headers
    again = session.get(
        f"{live_server.url}/", headers={"If-None-Match": page.headers["ETag"]}, timeout=10
    )
    assert again.status_code == 304


def test_demo_data_shows_three_regions_and_the_june_incident(client, db):
    """What `make run` shows: the demo's regions in the matrix and the June 2026 incident in
    the history, with its timeline from the report and its postmortem."""
    from django.core.management import call_command

    from incidents.models import Incident

    call_command("load_demo", stdout=StringIO())
    snapshot_publish()
    page = client.get("/").content.decode()
    header = page[page.index('<table class="matrix">') : page.index("</thead>")]
    for region in ("us-east-1", "eu-central-1", "us-west-2"):
        assert region in header
    june = Incident.objects.get(created_at__year=2026, created_at__month=6, impact="critical")
    history = client.get("/history").content.decode()
    assert "June 2026" in history and f'href="/incidents/{june.public_id}"' in history
    incident_page = client.get(f"/incidents/{june.public_id}").content.decode()
    for time_utc in ("22 Jun, 20:09", "23 Jun, 08:38", "23 Jun, 13:13"):
        assert time_utc in incident_page
    assert "Postmortem" in incident_page
    assert "→ <strong>Major outage</strong>" in incident_page
