"""The Python SDK against the live test server: the issue's incident declared, updated and
resolved, bulk status, a metric point, lists page by page (sync and async), the API's errors
as exceptions and its own rate limit waited out."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from heliograph_client import (
    AsyncClient,
    AuthenticationError,
    Client,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RetryPolicy,
    ValidationError,
)

from incidents.models import Incident
from statuspage.metrics.models import MetricPoint
from statuspage.models import AuditEntry, Component


def test_sdk_declares_updates_and_resolves_and_the_page_shows_it(client, site):
    runs_us = site["runs_us"].public_id
    declared = client.incidents.create(
        name="Runs not starting in us-east-1",
        status="investigating",
        body="Investigating",
        components={runs_us: "major_outage"},
    )
    assert declared["status"] == "investigating" and declared["impact"] == "critical"
    assert [c["id"] for c in declared["components"]] == [runs_us]
    assert [i["id"] for i in client.incidents.list_unresolved()] == [declared["id"]]
    public = httpx.get(f"{site['url']}/api/v2/incidents/unresolved.json").json()
    assert [i["name"] for i in public["incidents"]] == ["Runs not starting in us-east-1"]
    assert Component.objects.get(public_id=runs_us).status == "major_outage"

    updated = client.incidents.update(
        declared["id"], status="identified", body="A bad deploy; rolling back."
    )
    assert [u["status"] for u in updated["incident_updates"]] == ["identified", "investigating"]
    resolved = client.incidents.update(declared["id"], status="resolved", body="Runs start.")
    assert resolved["status"] == "resolved" and resolved["resolved_at"]
    assert list(client.incidents.list_unresolved()) == []
    assert Component.objects.get(public_id=runs_us).status == "operational"
    assert Incident.objects.get(public_id=declared["id"]).status == "resolved"
    assert AuditEntry.objects.filter(actor_name="api:sdk-test").exists()


def test_sdk_bulk_status_by_region_and_a_metric_point(client, site):
    result = client.components.bulk_status(
        status="major_outage", region="us-east-1", reason="AZ power loss"
    )
    assert result["matched"] == 1 and result["changed"] == 1
    assert Component.objects.get(pk=site["runs_us"].pk).status == "major_outage"
    assert Component.objects.get(pk=site["runs_eu"].pk).status == "operational"

    point = client.metrics.push("queue-depth-us-east-1", timestamp=1782158400, value=125000)
    assert point["recorded"] == 1
    stored = MetricPoint.objects.get(metric=site["metric"])
    assert stored.value == 125000 and stored.at.timestamp() == 1782158400
    # The document names no fields for several metrics at once: they go as extra_fields.
    many = client.metrics.push_many(
        extra_fields={"data": {"queue-depth-us-east-1": [{"timestamp": 1782158460, "value": 7}]}}
    )
    assert many == [{"metric_id": site["metric"].public_id, "recorded": 1, "level": None}]
    assert MetricPoint.objects.filter(metric=site["metric"]).count() == 2


def test_sdk_lists_follow_the_link_header_page_by_page(client, site):
    everything = list(client.components.list())
    assert len(everything) == 4  # the group run-execution, its two regions, the global api
    pages = list(client.components.list(per_page=1).pages())
    assert len(pages) == 4
    assert [p.page for p in pages] == [1, 2, 3, 4]
    assert {p.total for p in pages} == {4}
    assert pages[-1].next_url is None
    assert [item["id"] for p in pages for item in p.items] == [c["id"] for c in everything]
    assert [c["id"] for c in client.components.list(per_page=3)] == [c["id"] for c in everything]


def test_async_client_does_the_same(site, token):
    async def run() -> tuple[list, dict]:
        async with AsyncClient(site["url"], token) as client:
            ids = [c["id"] async for c in client.components.list(per_page=2)]
            declared = await client.incidents.create(
                name="Async", components={site["api_global"].public_id: "partial_outage"}
            )
            return ids, declared

    ids, declared = asyncio.run(run())
    assert len(ids) == 4
    assert declared["impact"] == "major"
    assert Incident.objects.filter(public_id=declared["id"]).exists()


def test_it_raises_the_apis_errors_as_exceptions(client, site, make_token):
    with pytest.raises(NotFoundError) as missing:
        client.incidents.get("nope")
    assert missing.value.status == 404 and "nope" in missing.value.message

    with pytest.raises(ValidationError) as refused:
        client.incidents.create(name="", components={site["runs_us"].public_id: "down"})
    assert refused.value.status == 422
    assert set(refused.value.errors) == {"name"}
    assert refused.value.message.startswith("name:")
    assert not Incident.objects.exists()

    with Client(site["url"], "hg_not_a_token") as stranger, pytest.raises(AuthenticationError):
        stranger.page.get()
    with (
        Client(site["url"], make_token("reader", ["read"])) as reader,
        pytest.raises(PermissionDeniedError) as denied,
    ):
        reader.incidents.create(name="Nope")
    assert denied.value.status == 403 and "incidents" in denied.value.message


def test_it_waits_out_the_apis_own_rate_limit(site, token, settings):
    """One request per second per token: the SDK is told 429 + Retry-After and comes back."""
    settings.HELIOGRAPH_API_RATE_LIMIT = 1
    settings.HELIOGRAPH_API_RATE_WINDOW = 1
    statuses: list[int] = []
    http = httpx.Client(event_hooks={"response": [lambda r: statuses.append(r.status_code)]})
    with Client(site["url"], token, http_client=http) as client:
        for _ in range(3):
            assert client.page.get()["id"] == "heliograph"
    http.close()
    assert statuses.count(200) == 3
    assert 429 in statuses  # three calls in under two seconds: at least one was refused first

    with (
        Client(site["url"], token, retry=RetryPolicy(max_retries=0)) as impatient,
        pytest.raises(RateLimitError) as limited,
    ):
        for _ in range(5):
            impatient.page.get()
    assert limited.value.status == 429 and limited.value.retry_after >= 1
