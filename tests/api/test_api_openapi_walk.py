"""Walk the OpenAPI document (`/v1/openapi.json`) and send every operation malformed input:
each body field of the wrong type, nested too deep, with NUL or an unpaired surrogate, a
number out of range, an impossible date; whole bodies that are not JSON, not UTF-8, not an
object; malformed query parameters. No answer may be a 5xx, and every refusal is the API's
`{"message"}`.

The ids in the paths are real rows (made below), so the handlers read the fields and not
only the lookups answer. A new path parameter must be added to `ids`, or the walk fails.
"""

from __future__ import annotations

import io
import json
import socket
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import quote

import pytest

from incidents import services as incident_services
from incidents.credits import services as credit_services
from incidents.credits.models import Account
from notifier import services as notifier_services
from statuspage.metrics import services as metric_services
from statuspage.metrics.models import IncidentDraft
from statuspage.metrics.services import metric_create

DEEP = "[" * 40 + "]" * 40
# Malformed values by the type the document declares (JSON text, sent as is).
BAD = {
    "string": ['"a\\u0000b"', '"\\ud800"', "1e400", "[1, {}]", '{"a": "b"}', "true"],
    "date-time": [
        '"2027-02-30T10:00:00Z"',
        '"2026-13-45T25:61:00Z"',
        '"0001-01-01T00:00+05:00"',
        '"99999999999999"',
        "1e20",
        "NaN",
    ],
    "date": ['"2027-02-30"', '"2026-13-45"', '"0000-00-00"', "20270230"],
    "integer": ["1e20", "NaN", "-Infinity", "9" * 30, '"x"', "2.5", "-1", '"1e20"', "3000000000"],
    "number": ["1e400", "NaN", "Infinity", '"NaN"', '"1e999999"', "[]", "9" * 30],
    "boolean": ['"maybe"', "2", "[]", "{}", "null"],
    "array": ['""', "[[]]", "[1, null, {}]", '{"0": {"1": []}}', '["\\u0000"]'],
    "object": ['"x"', "[]", '{"a": {"b": []}}', '{"\\u0000": "x"}', '{"a": NaN}', DEEP],
}
# Whole bodies, as (content type, bytes).
BODIES = [
    ("application/json", b"[]"),
    ("application/json", b'"just a string"'),
    ("application/json", b'{"a": '),
    ("application/json", DEEP.encode()),
    ("application/json", ('{"x": ' + "[" * 5000 + "]" * 5000 + "}").encode()),
    ("application/json", b'{"name": "\xff\xfe"}'),
    ("application/json", b'{"n": ' + b"9" * 5000 + b"}"),
    ("application/x-www-form-urlencoded", b"a" + b"[b]" * 50 + b"=1"),
    ("application/x-www-form-urlencoded", b"name=%00&body=%ED%A0%80"),
    ("multipart/form-data; boundary=zz", b"--zz\r\nnot a part"),
    ("text/csv", "account_id,name\n\x00,\udcff".encode("utf-8", "surrogateescape")),
    ("text/csv", "account_id,name\n".encode("utf-16")),
    ("text/plain", b"\x00\x01\x02"),
]
QUERIES = [
    "page=1e20",
    "page=99999999999999999999",
    "per_page=NaN",
    "limit=-1",
    "page=%C2%B2",
    "q=" + "x" * 5000,
    "status=%ED%A0%80",
    "type=%FF",
    "state=",
    "page=1&page=2",
]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def ids(catalogue, actor, settings) -> dict[str, str]:
    """One real row for every path parameter of the document."""
    settings.HELIOGRAPH_ALLOW_PRIVATE_TARGETS = True  # the channel below is on loopback
    incident = incident_services.incident_declare(
        name="Runs not starting", body="Investigating.", actor=actor, deliver_notifications=False
    )
    now = datetime.now(UTC)
    maintenance = incident_services.maintenance_schedule(
        name="Disk move",
        body="Moving disks",
        actor=actor,
        scheduled_for=now + timedelta(days=1),
        scheduled_until=now + timedelta(days=1, hours=2),
        components=[catalogue["runs_us"]],
    )
    subscriber = notifier_services.subscriber_add_confirmed(email="ada@example.com", actor=actor)
    channel = notifier_services.channel_create(
        kind="webhook",
        name="Ops hook",
        url=f"http://127.0.0.1:{closed_port()}/hook",
        actor=actor,
    )
    metric = metric_create(name="Queue depth", slug="queue-depth", actor=actor)
    policy = credit_services.credit_policy_create(
        actor=actor,
        incident=incident,
        name="June",
        window_start=now - timedelta(days=2),
        window_end=now - timedelta(days=1),
        rules=[credit_services.CurrencyRule(currency="USD", minimum=Decimal("10"))],
        regions=[],
        invoice_month=None,
    )
    report = credit_services.credit_report_run(policy=policy, actor=actor)
    # Detection: an alert source whose alert drafted an incident, and a check-in.
    source = metric_services.alert_source_create(
        name="prod-am", kind="alertmanager", automation="draft", actor=actor
    )
    alert = {"status": "firing", "labels": {"service": "api", "severity": "critical"}}
    metric_services.alert_source_intake(
        source=source, body=json.dumps({"version": "4", "alerts": [alert]}).encode()
    )
    checkin = metric_services.checkin_create(name="nightly", period=3600, actor=actor)
    credit_services.accounts_import(
        source=io.StringIO("account_id,name,paying,currency\nacme,Acme,true,USD\n"), actor=actor
    )
    credit_services.refund_request_record(
        policy=policy, account=Account.objects.get(external_id="acme"), actor=actor
    )
    return {
        "page_id": settings.PAGE_ID,
        "incident_id": incident.public_id,
        "update_id": incident.updates.first().public_id,
        "maintenance_id": maintenance.public_id,
        "component_id": catalogue["runs_us"].public_id,
        "group_id": catalogue["runs"].public_id,
        "region_id": catalogue["us"].slug,
        "service_id": catalogue["api"].public_id,
        "subscriber_id": subscriber.public_id,
        "channel_id": str(channel.pk),
        "policy_id": str(policy.pk),
        "report_id": str(report.pk),
        "account_id": "acme",
        "metric_id": metric.public_id,
        "source_id": source.public_id,
        "checkin_id": checkin.public_id,
        "draft_id": str(IncidentDraft.objects.get().pk),
    }


def fields_of(operation: dict) -> tuple[str | None, dict[str, dict]]:
    """(envelope, {field: schema}) of an operation's JSON body, or (None, {})."""
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if not content:
        return None, {}
    properties = content["schema"].get("properties", {})
    if len(properties) == 1:
        [(name, schema)] = properties.items()
        if schema.get("type") == "object" and schema.get("properties"):
            return name, schema["properties"]
    return None, properties


def plausible(schema: dict) -> object:
    """A valid-looking value of a schema: the other fields of a body, so the handler gets as
    far as the malformed one."""
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if schema.get("format") == "date-time":
        return "2026-06-01T00:00:00Z"
    if schema.get("format") == "date":
        return "2026-06-01"
    return {"integer": 1, "number": 1.5, "boolean": False, "array": [], "object": {}}.get(
        kind, "walk"
    )


def kind_of(schema: dict) -> str:
    return (
        schema.get("format")
        if schema.get("format") in ("date-time", "date")
        else (schema.get("type") or "string")
    )


def body_text(envelope: str | None, fields: dict[str, dict], bad_field: str, bad: str) -> str:
    """JSON text of a body whose `bad_field` is the raw JSON text `bad` (NaN, 1e400 and deep
    nesting cannot go through json.dumps)."""
    parts = [
        f"{json.dumps(name)}: {bad if name == bad_field else json.dumps(plausible(schema))}"
        for name, schema in fields.items()
    ]
    inner = "{" + ", ".join(parts) + "}"
    return f'{{"{envelope}": {inner}}}' if envelope else inner


def test_every_operation_survives_malformed_input_without_a_5xx(client, ids, token, settings):
    document = client.get("/v1/openapi.json").json()
    auth = {"HTTP_AUTHORIZATION": f"OAuth {token}"}
    sent = 0
    failures: list[str] = []

    def check(method: str, url: str, response, what: str) -> None:
        nonlocal sent
        sent += 1
        if response.status_code >= 500 and response.status_code != 502:  # 502: channel test
            failures.append(
                f"{method} {url} {what}: {response.status_code} {response.content[:200]}"
            )
        elif response.status_code >= 400 and response["Content-Type"] == "application/json":
            assert "message" in response.json(), (method, url, what)

    operations = [
        (path, method, operation)
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    ]
    # Deletions last, so every other operation finds its rows.
    operations.sort(key=lambda item: item[1] == "delete")
    for path, method, operation in operations:
        url = path
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "path":
                url = url.replace("{" + parameter["name"] + "}", quote(ids[parameter["name"]]))
        send = getattr(client, method)
        if method in ("get", "delete"):
            for query in QUERIES:
                check(method, url, send(f"{url}?{query}", **auth), query)
            continue
        envelope, fields = fields_of(operation)
        for name, schema in fields.items():
            kind = kind_of(schema)
            wrong_type = [] if kind in ("string", "array", "object") else BAD["object"][:2]
            for bad in BAD[kind] + wrong_type:
                text = body_text(envelope, fields, name, bad)
                check(method, url, send(url, text, "application/json", **auth), f"{name}={bad}")
        for content_type, raw in BODIES:
            check(method, url, send(url, raw, content_type, **auth), f"{content_type} {raw[:30]!r}")
    assert sent > 1000 and not failures, "\n".join(failures[:30])
