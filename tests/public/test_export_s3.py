"""The static export to an S3-compatible bucket (`s3://bucket/prefix`), with the real boto3
against a real S3 protocol server on loopback (moto's ThreadedMotoServer): the objects, their
Content-Type and Cache-Control, only changed objects uploaded, removed incidents deleted, and
a bucket that is down neither blocks the directory target nor the app, shows on the
dashboard and is written again by beat's retry."""

from __future__ import annotations

import time

import boto3
import pytest
import requests
from django.contrib.auth.models import Permission
from edge_servers import free_port
from moto.server import ThreadedMotoServer

from incidents.services import incident_declare, incident_delete
from statuspage.conf.celery import app as celery_app
from statuspage.public.models import PublishTarget
from statuspage.public.snapshot import CACHE_CONTROL, read_manifest, snapshot_publish
from statuspage.public.tasks import publish_targets_retry
from statuspage.public.tree import HASHED_CACHE_CONTROL, STATIC_CACHE_CONTROL, file_path

BUCKET = "status-site"
PREFIX = "status"


@pytest.fixture
def s3(monkeypatch):
    """A fresh S3 server on loopback; boto3 finds it through the standard AWS variables."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    # moto keeps its buckets per Python process, not per server: start from none.
    requests.post(f"http://127.0.0.1:{port}/moto-api/reset", timeout=5).raise_for_status()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "heliograph-test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "heliograph-test-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    client = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET)
    yield client
    server.stop()


@pytest.fixture
def targets(settings, tmp_path):
    settings.SNAPSHOT_DIR = tmp_path / "snapshot"
    settings.PUBLISH_TARGETS = [f"file://{tmp_path / 'site'}", f"s3://{BUCKET}/{PREFIX}"]
    return tmp_path / "site"


def objects(client) -> dict[str, dict]:
    listed = client.list_objects_v2(Bucket=BUCKET, Prefix=f"{PREFIX}/").get("Contents", [])
    return {item["Key"].removeprefix(f"{PREFIX}/"): item for item in listed}


@pytest.mark.django_db
def test_the_bucket_gets_every_document_with_its_type_and_cache_headers(
    client, s3, targets, catalogue, actor
):
    incident = incident_declare(
        name="Runs not starting",
        body="Investigating.",
        actor=actor,
        impact="major",
        component_statuses={catalogue["runs_us"]: "partial_outage"},
    )
    snapshot_publish()
    stored = objects(s3)
    manifest = read_manifest()
    for path, entry in manifest["documents"].items():
        key = f"{PREFIX}/{file_path(path)}"
        head = s3.head_object(Bucket=BUCKET, Key=key)
        assert head["ContentType"] == entry["content_type"], path
        assert head["CacheControl"] == CACHE_CONTROL, path
        body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        assert body == client.get(path).content, path
    # The pretty keys answer the app's URLs on hosts without index documents.
    pretty = s3.get_object(Bucket=BUCKET, Key=f"{PREFIX}/incidents/{incident.public_id}")
    assert pretty["ContentType"].startswith("text/html")
    assert b"Runs not starting" in pretty["Body"].read()
    assert "history" in stored and "history/index.html" in stored
    # Static files: plain names (no collectstatic in the tests) are cached briefly.
    css = s3.head_object(Bucket=BUCKET, Key=f"{PREFIX}/static/statuspage/public.css")
    assert css["ContentType"].startswith("text/css")
    assert css["CacheControl"] in (STATIC_CACHE_CONTROL, HASHED_CACHE_CONTROL)
    assert "static/statuspage/live.js" in stored
    # No pre-compressed siblings in a bucket (the CDN compresses); the directory has them.
    assert not any(key.endswith(".gz") for key in stored)
    assert (targets / "index.html.gz").exists()


@pytest.mark.django_db
def test_only_changed_objects_are_uploaded_and_removed_incidents_are_deleted(
    s3, targets, catalogue, actor
):
    kept = incident_declare(name="Kept incident", body="x", actor=actor)
    removed = incident_declare(name="Removed incident", body="x", actor=actor)
    snapshot_publish()
    before = objects(s3)
    assert f"incidents/{removed.public_id}/index.html" in before
    time.sleep(1.1)  # LastModified has whole seconds

    incident_delete(incident=removed, actor=actor)
    snapshot_publish()
    after = objects(s3)
    assert f"incidents/{removed.public_id}/index.html" not in after
    assert f"incidents/{removed.public_id}" not in after
    # Unchanged objects were not uploaded again; the changed ones were.
    for key in (f"incidents/{kept.public_id}/index.html", "static/statuspage/public.css"):
        assert after[key]["LastModified"] == before[key]["LastModified"], key
    assert after["index.html"]["LastModified"] > before["index.html"]["LastModified"]
    assert (
        b"Removed incident"
        not in s3.get_object(Bucket=BUCKET, Key=f"{PREFIX}/api/v2/incidents.json")["Body"].read()
    )


@pytest.mark.django_db(transaction=True)
def test_a_commit_reaches_the_bucket_through_the_worker(s3, targets, catalogue, actor):
    """After a web request's commit the buckets are written by a Celery task (run eagerly
    here, as a worker would), never in the request."""
    snapshot_publish()
    conf = celery_app.conf
    old = conf.task_always_eager, conf.task_eager_propagates
    conf.task_always_eager, conf.task_eager_propagates = True, True
    try:
        incident_declare(name="Through the worker", body="x", actor=actor)
    finally:
        conf.task_always_eager, conf.task_eager_propagates = old
    summary = s3.get_object(Bucket=BUCKET, Key=f"{PREFIX}/api/v2/summary.json")["Body"].read()
    assert b"Through the worker" in summary


@pytest.mark.django_db
def test_a_bucket_that_is_down_blocks_nothing_and_beat_writes_it_when_it_is_back(
    client, s3, targets, settings, catalogue, actor, staff_user, monkeypatch
):
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there: the bucket is down
    working = s3.meta.endpoint_url
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    incident_declare(name="While the bucket is down", body="x", actor=actor)
    started = time.monotonic()
    snapshot_publish()
    assert time.monotonic() - started < 20  # bounded by the client's timeouts and retries
    # The directory and the app have the change.
    assert "While the bucket is down" in (targets / "index.html").read_text()
    assert "While the bucket is down" in client.get("/").content.decode()
    assert objects(s3) == {}
    row = PublishTarget.objects.get(target=f"s3://{BUCKET}/{PREFIX}")
    assert row.failing_since is not None and row.error
    assert row.host == ""  # a bucket is every host's
    staff_user.user_permissions.add(Permission.objects.get(codename="run_console"))
    client.force_login(staff_user)
    dashboard = client.get("/console/").content.decode()
    assert "publish-target-failures" in dashboard and f"s3://{BUCKET}/{PREFIX}" in dashboard

    # Beat's retry, while it is still down: still failing, one more attempt.
    publish_targets_retry()
    row.refresh_from_db()
    assert row.failing_since is not None and row.attempts == 2

    # Back: the retry writes it and clears the banner.
    monkeypatch.setenv("AWS_ENDPOINT_URL", working)
    publish_targets_retry()
    row.refresh_from_db()
    assert row.failing_since is None
    summary = s3.get_object(Bucket=BUCKET, Key=f"{PREFIX}/api/v2/summary.json")["Body"].read()
    assert b"While the bucket is down" in summary
    assert "publish-target-failures" not in client.get("/console/").content.decode()
