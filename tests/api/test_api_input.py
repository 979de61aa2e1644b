"""Malformed input to the v1 API is a 400 or a 422 that names the field, never a 500, and
writes nothing: deep JSON, NUL and unpaired surrogates, impossible dates, numbers out of
range, metric timestamps that are not times, and an Idempotency-Key reused for another
request."""

from __future__ import annotations

import json

import pytest
from api_helpers import BASE

from incidents.models import Incident
from statuspage.metrics.models import MetricPoint
from statuspage.models import Component


def send(api, method: str, path: str, text: str | bytes, content_type="application/json"):
    return api.client.generic(
        method,
        f"{BASE}/{path}",
        text,
        content_type,
        HTTP_AUTHORIZATION=f"OAuth {api.token}",
    )


def assert_names(response, status: int, field: str) -> dict:
    assert response.status_code == status, response.content
    data = response.json()
    assert set(data) == {"message", "errors"}
    assert field in data["errors"], data
    assert data["message"].startswith(field) or status == 400
    return data


def test_it_refuses_json_nested_deeper_than_32_levels(api, catalogue):
    for depth in (33, 2000, 200_000):
        text = '{"incident": {"name": "x", "components": ' + "[" * depth + "]" * depth + "}}"
        data = assert_names(send(api, "POST", "incidents", text), 400, "body")
        assert "deeper than 32" in data["message"]
    ok = '{"incident": {"name": "Fine", "body": "x", "component_ids": [[]]}}'
    assert send(api, "POST", "incidents", ok).status_code == 422  # a list of lists: not ids
    assert Incident.objects.count() == 0


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('{"incident": {"name": "Runs\\u0000down", "body": "x"}}', "name"),
        ('{"incident": {"name": "Runs", "body": "lone \\ud800 surrogate"}}', "body"),
        ('{"incident": {"name": "Runs", "body": "\\udfff"}}', "body"),
        (
            '{"incident": {"name": "Runs", "components": {"a\\u0000": "major_outage"}}}',
            "components.a\\x00",
        ),
        ('{"incident": {"name": "Runs", "component_ids": ["ok", "n\\u0000"]}}', "component_ids[1]"),
        ('{"name": "Runs", "body": "x\\u0000"}', "body"),  # no envelope
    ],
)
def test_it_refuses_nul_and_unpaired_surrogates_naming_the_field(api, catalogue, text, field):
    data = assert_names(send(api, "POST", "incidents", text), 422, field)
    assert "NUL" in data["message"] or "surrogate" in data["message"]
    assert Incident.objects.count() == 0


def test_it_refuses_nul_in_form_bodies_and_bytes_that_are_not_utf8(api, catalogue):
    form = "application/x-www-form-urlencoded"
    assert_names(send(api, "POST", "incidents", "incident[name]=a%00b", form), 422, "name")
    bad = send(api, "POST", "incidents", "incident[name]=a%ED%A0%80", form)
    assert_names(bad, 400, "body")
    raw = send(api, "POST", "incidents", b'{"incident": {"name": "\xff\xfe"}}')
    assert "not UTF-8" in assert_names(raw, 400, "body")["message"]
    deep = "incident" + "[a]" * 40 + "=x"
    assert_names(send(api, "POST", "incidents", deep, form), 400, "body")
    assert Incident.objects.count() == 0


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("components", {"component": {"name": "x", "start_date": "2027-02-30"}}, "start_date"),
        ("components", {"component": {"name": "x", "start_date": "2026-13-45"}}, "start_date"),
        (
            "incidents",
            {
                "incident": {
                    "name": "Disk move",
                    "scheduled_for": "2027-02-30T10:00:00Z",
                    "scheduled_until": "2027-03-01T10:00:00Z",
                }
            },
            "scheduled_for",
        ),
        (
            "incidents",
            {
                "incident": {
                    "name": "Disk move",
                    "scheduled_for": "2027-03-01T10:00:00Z",
                    "scheduled_until": "2026-13-45T25:61:00Z",
                }
            },
            "scheduled_until",
        ),
        (
            "credit-policies",
            {
                "credit_policy": {
                    "window_start": "2027-02-29T00:00Z",
                    "window_end": "2027-03-01T00:00Z",
                    "rules": [{"currency": "USD", "minimum": "10"}],
                }
            },
            "window_start",
        ),
        (
            "credit-policies",
            {
                "credit_policy": {
                    "window_start": "0001-01-01T00:00+05:00",
                    "window_end": "2027-03-01T00:00Z",
                    "rules": [{"currency": "USD", "minimum": "10"}],
                }
            },
            "window_start",
        ),
    ],
)
def test_it_refuses_impossible_dates_naming_the_field(api, catalogue, path, body, field):
    assert_names(api("POST", path, json_body=body), 422, field)
    assert Incident.objects.count() == 0


@pytest.mark.parametrize(
    "value",
    ["1e20", "1e400", "NaN", "Infinity", "-Infinity", "9" * 5000, "2.5", "true", "3000000000"],
)
def test_it_refuses_numbers_out_of_range_naming_the_field(api, catalogue, value):
    before = Component.objects.count()
    text = '{"component": {"name": "Out of range", "position": ' + value + "}}"
    assert_names(send(api, "POST", "components", text), 422, "position")
    assert Component.objects.count() == before


@pytest.mark.parametrize(
    "query",
    ["page=1e20", "page=99999999999999999999999", "page=0", "page=-1", "limit=NaN", "limit=101"],
)
def test_it_refuses_paging_out_of_range_naming_the_parameter(api, catalogue, query):
    name = query.partition("=")[0]
    assert_names(api("GET", f"incidents?{query}"), 422, name)


def test_the_last_page_allowed_is_an_empty_list(api, catalogue):
    response = api("GET", "components?page=1000000")
    assert response.status_code == 200 and response.json() == []


@pytest.fixture
def metric(api):
    response = api("POST", "metrics", json_body={"metric": {"name": "Depth", "slug": "depth"}})
    assert response.status_code == 201
    return response.json()


@pytest.mark.parametrize("timestamp", ["1e20", '"99999999999999"', "-1e15", "NaN", '"NaN"'])
def test_it_refuses_metric_timestamps_that_are_not_times(api, metric, timestamp):
    text = '{"data": {"timestamp": ' + timestamp + ', "value": 1}}'
    response = send(api, "POST", "metrics/depth/data", text)
    assert response.status_code == 422, response.content
    assert "timestamp" in response.json()["message"]
    assert MetricPoint.objects.count() == 0


def test_a_metric_threshold_must_be_finite(api):
    text = '{"metric": {"name": "M", "slug": "m", "warning_threshold": "NaN"}}'
    assert_names(send(api, "POST", "metrics", text), 422, "warning_threshold")


def test_a_credit_rule_amount_too_large_is_named(api):
    body = {
        "credit_policy": {
            "window_start": "2027-02-01T00:00Z",
            "window_end": "2027-03-01T00:00Z",
            "rules": [{"currency": "USD", "minimum": "1e999999"}],
        }
    }
    assert_names(api("POST", "credit-policies", json_body=body), 422, "minimum")


def post_with_key(api, body: dict, key: str, path: str = "incidents"):
    return api.client.post(
        f"{BASE}/{path}",
        json.dumps(body),
        "application/json",
        HTTP_IDEMPOTENCY_KEY=key,
        HTTP_AUTHORIZATION=f"OAuth {api.token}",
    )


def test_an_idempotency_key_reused_with_another_body_is_a_422_naming_the_key(api, catalogue):
    first = post_with_key(api, {"incident": {"name": "First", "body": "One."}}, "deploy-7")
    assert first.status_code == 201
    other = post_with_key(api, {"incident": {"name": "Second", "body": "Two."}}, "deploy-7")
    data = assert_names(other, 422, "Idempotency-Key")
    assert "deploy-7" in data["message"]
    assert Incident.objects.count() == 1
    # The same request (other spacing, same JSON) is still replayed, after the refusal too.
    again = api.client.post(
        f"{BASE}/incidents",
        '{"incident":{"body":"One.","name":"First"}}',
        "application/json",
        HTTP_IDEMPOTENCY_KEY="deploy-7",
        HTTP_AUTHORIZATION=f"OAuth {api.token}",
    )
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    # Another path with the same key is another request too.
    region = post_with_key(api, {"region": {"slug": "ap-1", "name": "AP"}}, "deploy-7", "regions")
    assert_names(region, 422, "Idempotency-Key")
    assert Incident.objects.count() == 1


@pytest.mark.parametrize(
    "path", ["credit-policies/²", "credit-reports/²", "channels/²", "credit-policies/" + "9" * 40]
)
def test_a_number_id_that_int_refuses_is_a_404(api, path):
    response = api("GET", path)
    assert response.status_code == 404, response.content
