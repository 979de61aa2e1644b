"""Web nodes without a shared disk: two gunicorn processes, each with its own snapshot
directory, sharing only the test database (and a Redis). A change committed elsewhere (here:
this process, like a worker on a third host) is served by both within 1 s; with the database
and Redis both down, both keep serving their copy."""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

import pytest
from django.db import connection
from edge_servers import RedisServer, Relay, WebNode, database_url, wait_until

from incidents.services import incident_declare
from statuspage.public.snapshot import snapshot_publish

pytestmark = pytest.mark.django_db(transaction=True)


class NodeDatabase:
    """The test database as the nodes reach it, with a switch that takes it away from them
    (not from this process): a relay for PostgreSQL; for SQLite, a symbolic link to the file
    that becomes a directory (nothing can be opened there)."""

    def __init__(self, tmp_path: Path) -> None:
        self.relay: Relay | None = None
        if connection.vendor == "sqlite":
            self.link = tmp_path / "shared.sqlite3"
            os.symlink(connection.settings_dict["NAME"], self.link)
            self.url = f"sqlite:///{self.link}"
        else:
            db = connection.settings_dict
            self.relay = Relay((db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432)))
            self.url = database_url(host="127.0.0.1", port=self.relay.port)

    def cut(self) -> None:
        if self.relay is not None:
            self.relay.cut()
        else:
            self.link.unlink()
            self.link.mkdir()

    def close(self) -> None:
        if self.relay is not None:
            self.relay.close()


@pytest.fixture
def nodes(tmp_path, settings, catalogue):
    settings.SNAPSHOT_DIR = tmp_path / "publisher" / "snapshot"
    settings.PUBLISH_TARGETS = []
    snapshot_publish()
    redis = RedisServer()
    redis_relay = Relay(("127.0.0.1", redis.port))
    database = NodeDatabase(tmp_path)
    started: list[WebNode] = []
    try:
        for name in ("a", "b"):
            started.append(
                WebNode(
                    name,
                    database=database.url,
                    snapshot_dir=tmp_path / name / "snapshot",
                    REDIS_URL=f"redis://127.0.0.1:{redis_relay.port}/0",
                )
            )
        yield started, database, redis, redis_relay
    finally:
        for node in started:
            node.stop()
        redis_relay.close()
        redis.stop()
        database.close()


def test_two_nodes_serve_a_commit_within_a_second_and_keep_serving_without_the_database_and_redis(
    nodes, catalogue, actor, tmp_path
):
    web, database, redis, redis_relay = nodes
    for node in web:  # each copies the published snapshot into its own directory
        wait_until(
            lambda node=node: node.get("/api/v2/summary.json").status_code == 200,
            timeout=10,
            what=f"{node.url} serving",
        )
    assert (tmp_path / "a" / "snapshot" / "manifest.json").exists()
    assert (tmp_path / "b" / "snapshot" / "manifest.json").exists()

    started = time.monotonic()
    incident = incident_declare(
        name="Runs stuck in the queue",
        body="Investigating.",
        actor=actor,
        impact="major",
        component_statuses={catalogue["runs_us"]: "major_outage"},
    )
    seen: dict[str, float] = {}
    while len(seen) < len(web) and time.monotonic() - started < 5:
        for node in web:
            if node.url in seen:
                continue
            unresolved = node.get("/api/v2/incidents/unresolved.json").json()["incidents"]
            if [i["id"] for i in unresolved] == [incident.public_id]:
                seen[node.url] = time.monotonic() - started
        time.sleep(0.01)
    assert len(seen) == len(web), f"only {seen} served the incident within 5 s"
    assert max(seen.values()) <= 1.0, seen
    for node in web:
        assert "Runs stuck in the queue" in node.get("/").text

    # PostgreSQL (or the SQLite file) and Redis go away, for the nodes.
    database.cut()
    redis_relay.cut()
    redis.stop()
    time.sleep(1.0)  # each copier has looked for a newer release, and failed, several times
    for node in web:
        page = node.get("/")
        assert page.status_code == 200
        assert "Runs stuck in the queue" in page.text and "Major System Outage" in page.text
        summary = node.get("/api/v2/summary.json")
        assert summary.status_code == 200
        assert [i["id"] for i in summary.json()["incidents"]] == [incident.public_id]
        assert node.get(f"/incidents/{incident.public_id}").status_code == 200
        assert node.process.poll() is None
    with contextlib.suppress(FileNotFoundError):
        log = web[0].log.read_text()
        assert "could not copy the newest snapshot" in log, log[-2000:]
