"""Properties of the v1 API's reading of input (hypothesis): whatever bytes, JSON, form pairs
or query come in, `parse_body`, `parse_form`, `check_values`, the `Call` accessors and the
field parsers of the resources raise nothing but ApiError (a 4xx with a message).

Bounded and deterministic (derandomize): 200 examples each, about a second each."""

from __future__ import annotations

import json
import math
from functools import partial

from django.test import RequestFactory
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from statuspage.api.framework import (
    MAX_INT,
    ApiError,
    Call,
    check_values,
    parse_body,
    parse_form,
    parse_time,
)
from statuspage.api.resources import credits, metrics

PROPERTY = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# Text with everything a body can carry: NUL, control characters, unpaired surrogates.
ANY_TEXT = st.text(alphabet=st.characters(codec=None, categories=None), max_size=40)
NUMBERS = st.one_of(
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, MAX_INT, MAX_INT + 1, 1e20, -1e15, 99999999999999]),
)
TRICKY = st.sampled_from(
    [
        "",
        "2027-02-30",
        "2026-13-45",
        "2027-02-30T10:00:00Z",
        "0001-01-01T00:00+05:00",
        "9999-12-31T23:59:59-05:00",
        "2026-06-22T20:09:00+99:00",
        "1e20",
        "99999999999999",
        "NaN",
        "-Infinity",
        "²",
        "٣",
        "9" * 5000,
        "true",
        "a\x00b",
        "\ud800",
    ]
)
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, ANY_TEXT, TRICKY)
JSON = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(ANY_TEXT, TRICKY), children, max_size=4),
    ),
    max_leaves=20,
)
FIELDS = [
    "name",
    "body",
    "status",
    "position",
    "start_date",
    "scheduled_for",
    "component_ids",
    "components",
    "deliver_notifications",
    "data",
    "rules",
    "warning_threshold",
]
CONTENT_TYPES = st.sampled_from(
    [
        "application/json",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=zz",
        "multipart/form-data",
        "text/csv",
        "text/plain",
        "application/octet-stream",
        "application/json; charset=latin-1",
        "",
        "image/png",
    ]
)


def only_api_errors(action) -> None:
    try:
        action()
    except ApiError as exc:
        assert 400 <= exc.status < 500
        json.dumps(exc.body())  # the answer can be sent


def read_every_field(call: Call) -> None:
    """Every accessor on every field, as handlers do; each may refuse with ApiError only."""
    for name in [*FIELDS, *call.data]:
        for read in (
            partial(call.str, name, max_length=255),
            partial(call.choice, name, ["a", "b"]),
            partial(call.bool, name),
            partial(call.int, name),
            partial(call.datetime, name),
            partial(call.date, name),
            partial(call.list, name),
            partial(call.mapping, name),
        ):
            only_api_errors(read)
    only_api_errors(lambda: call.pagination(limit_name="limit"))


def request_with(body: bytes, content_type: str):
    return RequestFactory().generic("POST", "/v1/pages/p/incidents", body, content_type)


NESTED = st.tuples(
    st.integers(min_value=1, max_value=3000), st.sampled_from("[{"), st.binary(max_size=20)
).map(lambda t: b'{"a": ' + t[1].encode() * t[0] + t[2])
BODIES = st.one_of(st.binary(max_size=300), NESTED, JSON.map(lambda v: json.dumps(v).encode()))


@PROPERTY
@given(body=BODIES, content_type=CONTENT_TYPES, raw=st.sampled_from([None, "csv"]))
def test_any_bytes_are_parsed_or_refused_with_an_api_error(body, content_type, raw):
    def parse() -> None:
        data = parse_body(request_with(body, content_type), raw)
        assert isinstance(data, dict)
        check_values(data, exempt=(raw,) if raw else (), envelope="incident")

    only_api_errors(parse)


@PROPERTY
@given(value=JSON, envelope=st.sampled_from([None, "incident"]))
def test_any_json_is_read_or_refused_with_an_api_error(value, envelope):
    body = value if isinstance(value, dict) else {"incident": value}
    text = json.dumps(body)
    only_api_errors(lambda: parse_body(request_with(text.encode(), "application/json")))
    only_api_errors(lambda: check_values(body, envelope=envelope))
    # The accessors stand on their own too (the MCP server hands them its arguments).
    data = body.get(envelope, body) if envelope else body
    if isinstance(data, dict):
        read_every_field(Call(token=None, data=data, body=body))  # type: ignore[arg-type]


@PROPERTY
@given(value=st.one_of(JSON, NUMBERS, TRICKY))
def test_every_accessor_reads_any_value_or_refuses_with_an_api_error(value):
    read_every_field(Call(token=None, data={"field": value}))  # type: ignore[arg-type]


@PROPERTY
@given(
    pairs=st.lists(
        st.tuples(
            st.one_of(ANY_TEXT, st.sampled_from(["a[b]", "a[]", "a[b][]", "[]", "a[][b]", "]["])),
            ANY_TEXT,
        ),
        max_size=8,
    )
)
def test_any_form_pairs_are_read_or_refused_with_an_api_error(pairs):
    data: dict = {}

    def parse() -> None:
        data.update(parse_form(pairs))
        check_values(data)

    only_api_errors(parse)
    read_every_field(Call(token=None, data=data, body=data))  # type: ignore[arg-type]


@PROPERTY
@given(
    query=st.dictionaries(
        st.sampled_from(["page", "per_page", "limit"]), st.one_of(ANY_TEXT, TRICKY)
    )
)
def test_any_paging_query_is_read_or_refused_with_an_api_error(query):
    def read() -> None:
        check_values(query)
        page, per_page = Call(token=None, query=query).pagination(limit_name="limit")  # type: ignore[arg-type]
        assert 1 <= page * per_page <= 1_000_000 * 100

    only_api_errors(read)


@PROPERTY
@given(value=JSON)
def test_any_metric_points_are_read_or_refused_with_an_api_error(value):
    def read() -> None:
        for at, _ in metrics._points(value, "data"):
            assert 1970 <= at.year <= 9999

    only_api_errors(read)


@PROPERTY
@given(value=st.one_of(JSON, NUMBERS, TRICKY))
def test_any_time_is_read_or_refused_with_an_api_error(value):
    def read() -> None:
        parsed = parse_time(value, "at")
        assert parsed.tzinfo is not None

    only_api_errors(read)


@PROPERTY
@given(rules=JSON, amount=st.one_of(JSON, NUMBERS, TRICKY))
def test_any_credit_rules_are_read_or_refused_with_an_api_error(rules, amount):
    def read() -> None:
        credits._rules(Call(token=None, data={"rules": rules}))  # type: ignore[arg-type]
        parsed = credits._decimal(amount, "minimum")
        assert parsed is None or not math.isnan(parsed)

    only_api_errors(read)
