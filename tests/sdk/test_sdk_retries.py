"""Retries, Retry-After and idempotency keys of the Python SDK, against a loopback server
that answers what each test scripts (429 then 200, a 503 from a proxy, a failed channel
test), so every case is exact and none waits long."""

from __future__ import annotations

import asyncio
import time

import pytest
from heliograph_client import (
    AsyncClient,
    Client,
    DryRun,
    NetworkError,
    RateLimitError,
    RetryPolicy,
    ServerError,
)

PAGE = {"id": "heliograph", "name": "Heliograph"}
PROXY_503 = (503, {"Content-Type": "text/html"}, b"<html>503 Service Unavailable</html>")
FAST = RetryPolicy(backoff=0.01, max_backoff=0.05)


def test_it_honours_retry_after_and_keeps_the_idempotency_key_of_a_post(scripted):
    scripted.script = [
        (429, {"Retry-After": "1"}, {"message": "Rate limit exceeded"}),
        (201, {}, {"id": "inc1", "name": "Runs not starting"}),
        (201, {}, {"id": "inc2", "name": "Another"}),
    ]
    with Client(scripted.url, "hg_test") as client:
        started = time.monotonic()
        created = client.incidents.create(name="Runs not starting", status="investigating")
        waited = time.monotonic() - started
        client.incidents.create(name="Another")
    assert created["id"] == "inc1"
    assert 1.0 <= waited < 3.0
    first, retry, other = scripted.received
    assert first["path"] == "/v1/pages/heliograph/incidents"
    assert first["headers"]["Authorization"] == "OAuth hg_test"
    assert first["body"] == {"incident": {"name": "Runs not starting", "status": "investigating"}}
    key = first["headers"]["Idempotency-Key"]
    assert len(key) == 36 and retry["headers"]["Idempotency-Key"] == key
    assert other["headers"]["Idempotency-Key"] != key


def test_it_gives_up_when_retry_after_is_too_long_or_the_tries_are_spent(scripted):
    scripted.script = [(429, {"Retry-After": "3600"}, {"message": "later"})]
    with Client(scripted.url, "hg_test") as client, pytest.raises(RateLimitError) as late:
        client.page.get()
    assert late.value.retry_after == 3600 and len(scripted.received) == 1

    scripted.received.clear()
    scripted.script = [(429, {"Retry-After": "0"}, {"message": "no"})] * 3
    policy = RetryPolicy(max_retries=2, backoff=0.01)
    with Client(scripted.url, "hg_test", retry=policy) as client, pytest.raises(RateLimitError):
        client.page.get()
    assert len(scripted.received) == 3


def test_it_retries_a_proxys_503_but_not_a_patch_nor_the_apis_own_502(scripted):
    scripted.script = [PROXY_503, PROXY_503, (200, {}, PAGE)]
    with Client(scripted.url, "hg_test", retry=FAST) as client:
        assert client.page.get() == PAGE
        assert len(scripted.received) == 3

        scripted.received.clear()
        scripted.script = [PROXY_503]
        with pytest.raises(ServerError):  # a PATCH sent twice could add two updates
            client.incidents.update("inc1", status="resolved")
        assert len(scripted.received) == 1

        scripted.received.clear()
        scripted.script = [(502, {}, {"message": "Slack answered channel_not_found"})]
        with pytest.raises(ServerError) as failed:  # a channel test: retrying would send again
            client.channels.test("7")
        assert failed.value.status == 502
        assert failed.value.message == "Slack answered channel_not_found"
        assert len(scripted.received) == 1


def test_backoff_is_exponential_with_jitter_and_bounded():
    policy = RetryPolicy(backoff=1, max_backoff=3)
    for _ in range(50):
        assert 0.5 <= policy.wait(0) <= 1
        assert 1 <= policy.wait(1) <= 2
        assert 1.5 <= policy.wait(5) <= 3
        assert 4 <= policy.wait(0, retry_after=4) <= 4.25
    assert len({policy.wait(2) for _ in range(20)}) > 1


def test_an_unreachable_server_is_a_network_error(scripted):
    url = scripted.url
    scripted.close()
    with (
        Client(url, "hg_test", retry=RetryPolicy(max_retries=1, backoff=0.01)) as client,
        pytest.raises(NetworkError) as failed,
    ):
        client.page.get()
    assert failed.value.status is None


def test_a_dry_run_sends_reads_but_not_writes(scripted):
    scripted.script = [(200, {}, PAGE)]
    with Client(scripted.url, "hg_test", dry_run=True) as client:
        assert client.page.get() == PAGE
        with pytest.raises(DryRun) as dry:
            client.components.bulk_status(status="major_outage", region="us-east-1")
    assert len(scripted.received) == 1
    assert dry.value.method == "POST"
    assert dry.value.url.endswith("/v1/pages/heliograph/components/bulk-status")
    assert dry.value.body == {"bulk": {"status": "major_outage", "region": "us-east-1"}}


def test_the_async_client_retries_the_same_way(scripted):
    scripted.script = [
        (429, {"Retry-After": "0.2"}, {"message": "slow down"}),
        (200, {"X-Total-Count": "1"}, [{"id": "us-east-1", "slug": "us-east-1"}]),
    ]

    async def run() -> list:
        async with AsyncClient(scripted.url, "hg_test") as client:
            return [r async for r in client.regions.list()]

    started = time.monotonic()
    assert asyncio.run(run()) == [{"id": "us-east-1", "slug": "us-east-1"}]
    assert time.monotonic() - started >= 0.2
    assert len(scripted.received) == 2


def test_settings_come_from_the_environment(scripted, monkeypatch):
    monkeypatch.setenv("HELIOGRAPH_URL", f"{scripted.url}/v1/pages/status-page")
    monkeypatch.setenv("HELIOGRAPH_TOKEN", "hg_from_env")
    scripted.script = [(200, {}, PAGE)]
    with Client() as client:
        client.page.get()
    assert scripted.received[0]["path"] == "/v1/pages/status-page"
    assert scripted.received[0]["headers"]["Authorization"] == "OAuth hg_from_env"
    monkeypatch.delenv("HELIOGRAPH_URL")
    with pytest.raises(ValueError, match="HELIOGRAPH_URL"):
        Client()
