"""Metrics in the v1 API, in the shape existing scripts already push:

- `POST /v1/pages/{page_id}/metrics/{metric_id}/data` with `{"data": {"timestamp": <unix
  seconds or ISO 8601>, "value": <number>}}` (or a list of such points under "data");
- `POST /v1/pages/{page_id}/metrics/data` with `{"data": {"<metric_id>": [{timestamp, value}]}}`;
- `GET/POST /v1/pages/{page_id}/metrics`, `GET/PATCH/PUT/DELETE …/metrics/{metric_id}`
  (a PATCH changes the thresholds, the display, the component, or the Prometheus query;
  a field sent as null clears it);
- `GET …/metrics/{metric_id}/data?from=…&to=…`: the points over a range (default the last
  24 hours; unix seconds or ISO 8601; at most 10,000 points, oldest first).

A metric is named by its public id or its slug. Writes need the `components` scope, since a
metric can drive a component's status. A metric with `prometheus_url` and
`prometheus_query` is pulled from Prometheus by beat instead of pushed.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError

from incidents.documents import iso
from statuspage.api.framework import (
    ApiError,
    Call,
    delete,
    get,
    given,
    invalid,
    not_found,
    paginate,
    parse_time,
    patch_and_put,
    post,
    route,
    time_from_unix,
)
from statuspage.api.lookups import component_field
from statuspage.api.models import ApiScope
from statuspage.api.schema import NUMBER, B, I, S, enum, nullable
from statuspage.metrics.models import Metric, MetricAlert
from statuspage.metrics.selectors import alerts_open, metric_latest_points, metric_points_between
from statuspage.metrics.services import (
    metric_create,
    metric_delete,
    metric_points_record_many,
    metric_update,
)
from statuspage.models import ComponentStatus
from statuspage.services import UNSET

MAX_POINTS_READ = 10_000

POINT = {
    "type": "object",
    "properties": {"timestamp": {"oneOf": [NUMBER, S]}, "value": NUMBER},
}


def metric_dict(
    metric: Metric,
    *,
    latest: tuple[datetime, float] | None = None,
    alert: MetricAlert | None = None,
    looked_up: bool = False,
) -> dict:
    """A metric with its last point and open alert (looked up here unless the caller did,
    in bulk, for a whole list)."""
    if not looked_up:
        point = metric.points.order_by("-at").first()
        latest = (point.at, point.value) if point else None
        alert = MetricAlert.objects.filter(metric=metric, closed_at__isnull=True).first()
    return {
        "id": metric.public_id,
        "slug": metric.slug,
        "name": metric.name,
        "suffix": metric.unit,
        "description": metric.description or None,
        "display": metric.public,
        "component_id": metric.component.public_id if metric.component_id else None,
        "direction": metric.direction,
        "warning_threshold": metric.warning_threshold,
        "critical_threshold": metric.critical_threshold,
        "critical_component_status": metric.critical_component_status or None,
        "prometheus_url": metric.prometheus_url or None,
        "prometheus_query": metric.prometheus_query or None,
        "prometheus_interval": metric.prometheus_interval if metric.prometheus_query else None,
        "prometheus_error": metric.prometheus_error or None,
        "created_at": iso(metric.created_at),
        "last_value": latest[1] if latest else None,
        "last_value_at": iso(latest[0]) if latest else None,
        "alert": (
            {"level": alert.level, "opened_at": iso(alert.opened_at), "peak": alert.peak_value}
            if alert
            else None
        ),
    }


def _metric(ident: str, field_name: str = "") -> Metric:
    """A metric by public id or slug: named in the path, an unknown one is a 404; named in
    the body (`field_name`), a 422 naming the field."""
    metric = Metric.objects.select_related("component").filter(public_id=ident).first()
    metric = metric or Metric.objects.select_related("component").filter(slug=ident).first()
    if metric is None:
        if field_name:
            raise invalid(field_name, f"unknown metric '{ident}'.")
        raise not_found("metric", ident)
    return metric


def _timestamp(value: Any, where: str) -> datetime:
    """Unix seconds (a number, or digits in a string) or an ISO 8601 time; a time that is not
    one (`NaN`), or is out of range (`1e20`, `"99999999999999"`, `-1e15`), is a 422 naming the
    point's field."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return time_from_unix(float(value), where)
    if isinstance(value, str):
        text = value.strip()
        if text.replace(".", "", 1).isdigit() and text.isascii():
            return time_from_unix(float(text), where)
        return parse_time(text, where)
    raise invalid(where, f"'{value}' is not a unix time or an ISO 8601 time.")


def _points(raw: Any, where: str) -> list[tuple[datetime, Any]]:
    items = raw if isinstance(raw, list) else [raw]
    if isinstance(raw, dict) and all(k.isdigit() for k in raw):  # form data[0][timestamp]=…
        items = list(raw.values())
    points = []
    for index, item in enumerate(items):
        if not isinstance(item, dict) or "timestamp" not in item or "value" not in item:
            raise invalid(f"{where}[{index}]", "needs a timestamp and a value.")
        points.append((_timestamp(item["timestamp"], f"{where}[{index}].timestamp"), item["value"]))
    return points


def _record(batches: list[tuple[Metric, list]], call: Call) -> list[dict]:
    """Record the points of one or several metrics (all or nothing), answered per metric."""
    try:
        results = metric_points_record_many(batches=batches, actor=call.actor)
    except ValidationError as exc:
        message = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
        raise ApiError(422, message) from None
    return [
        {"metric_id": metric.public_id, "recorded": result.recorded, "level": result.level}
        for (metric, _), result in zip(batches, results, strict=True)
    ]


def metric_data_post(call: Call, metric_id: str) -> dict:
    metric = _metric(metric_id)
    if "data" not in call.body:
        raise invalid("data", "is required.")
    return _record([(metric, _points(call.body["data"], "data"))], call)[0]


def metrics_data_post(call: Call) -> list[dict]:
    """Points of several metrics in one call: all or nothing."""
    data = call.body.get("data")
    if not isinstance(data, dict) or not data:
        raise invalid("data", 'must be an object like {"<metric id>": [{timestamp, value}]}.')
    batches = [
        (_metric(ident, f"data.{ident}"), _points(raw, f"data.{ident}"))
        for ident, raw in data.items()
    ]
    return _record(batches, call)


def metrics_list(call: Call):
    latest = metric_latest_points()
    alerts = {alert.metric_id: alert for alert in alerts_open()}
    return paginate(
        Metric.objects.select_related("component").all(),
        call,
        lambda m: metric_dict(m, latest=latest.get(m.pk), alert=alerts.get(m.pk), looked_up=True),
    )


def metric_get(call: Call, metric_id: str) -> dict:
    return metric_dict(_metric(metric_id))


def _float(call: Call, name: str) -> float | None:
    value = call.data.get(name)
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise invalid(name, "must be a number.") from None
    if not math.isfinite(number):
        raise invalid(name, "must be a finite number.")
    return number


def metric_post(call: Call) -> dict:
    fields = given(
        unit=call.str("suffix", max_length=32),
        description=call.str("description"),
        component=component_field(call),
        public=call.bool("display"),
        direction=call.choice("direction", ["above", "below"]),
        warning_threshold=_float(call, "warning_threshold"),
        critical_threshold=_float(call, "critical_threshold"),
        critical_component_status=call.choice(
            "critical_component_status", list(ComponentStatus.values)
        ),
        prometheus_url=call.str("prometheus_url", max_length=500),
        prometheus_query=call.str("prometheus_query", max_length=2000),
        prometheus_interval=call.int("prometheus_interval", minimum=1),
    )
    try:
        metric = metric_create(
            name=call.str("name", required=True, max_length=200),
            slug=call.str("slug", required=True, max_length=100),
            actor=call.actor,
            **fields,
        )
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise invalid(field, " ".join(messages)) from None
    return metric_dict(metric)


def _nullable_float(call: Call, name: str) -> float | None:
    """A number field of a PATCH: absent → UNSET (unchanged), null or "" → None (cleared)."""
    if name not in call.data:
        return UNSET
    return _float(call, name)


def metric_patch(call: Call, metric_id: str) -> dict:
    """Change a metric: thresholds, display, component, texts, Prometheus source. A field sent
    as null clears it (a threshold, the component, the critical status, the query)."""
    metric = _metric(metric_id)
    component = component_field(call)
    status = None
    if "critical_component_status" in call.data:
        status = call.choice("critical_component_status", list(ComponentStatus.values)) or ""
    prometheus_query = None
    if "prometheus_query" in call.data:
        prometheus_query = call.str("prometheus_query", max_length=2000) or ""
    prometheus_url = None
    if "prometheus_url" in call.data:
        prometheus_url = call.str("prometheus_url", max_length=500) or ""
    metric = metric_update(
        metric=metric,
        actor=call.actor,
        name=call.str("name", max_length=200),
        unit=call.str("suffix", max_length=32),
        description=call.str("description"),
        component=component,
        public=call.bool("display"),
        direction=call.choice("direction", ["above", "below"]),
        warning_threshold=_nullable_float(call, "warning_threshold"),
        critical_threshold=_nullable_float(call, "critical_threshold"),
        critical_component_status=status,
        position=call.int("position"),
        prometheus_url=prometheus_url,
        prometheus_query=prometheus_query,
        prometheus_interval=call.int("prometheus_interval", minimum=1),
    )
    return metric_dict(Metric.objects.select_related("component").get(pk=metric.pk))


def metric_remove(call: Call, metric_id: str) -> None:
    metric_delete(metric=_metric(metric_id), actor=call.actor)


def _query_time(call: Call, name: str) -> datetime | None:
    value = call.query.get(name)
    if value is None or value == "":
        return None
    return _timestamp(value, name)


def metric_data_get(call: Call, metric_id: str) -> dict:
    """The points of a metric between `from` and `to` (default: the last 24 hours)."""
    metric = _metric(metric_id)
    end = _query_time(call, "to") or datetime.now(UTC)
    start = _query_time(call, "from") or end - timedelta(hours=24)
    if start > end:
        raise invalid("from", "must be before 'to'.")
    points = metric_points_between(metric, start=start, end=end, limit=MAX_POINTS_READ + 1)
    return {
        "metric_id": metric.public_id,
        "from": iso(start),
        "to": iso(end),
        "truncated": len(points) > MAX_POINTS_READ,
        "data": [
            {"timestamp": int(at.timestamp()), "value": value}
            for at, value in points[:MAX_POINTS_READ]
        ],
    }


METRIC_PATCH_FIELDS = {
    "name": S,
    "suffix": S,
    "description": S,
    "component_id": nullable(S),
    "display": B,
    "position": I,
    "direction": enum(["above", "below"]),
    "warning_threshold": nullable(NUMBER),
    "critical_threshold": nullable(NUMBER),
    "critical_component_status": nullable(enum(ComponentStatus.values)),
    "prometheus_url": nullable(S),
    "prometheus_query": nullable(S),
    "prometheus_interval": I,
}

ROUTES = [
    # Before `metrics/{metric_id}`, which would match it too.
    route(
        "metrics/data",
        "metrics_data",
        post(metrics_data_post, ApiScope.COMPONENTS, "Push points of several metrics", many=True),
        tag="Metrics",
    ),
    route(
        "metrics",
        "metrics",
        get(metrics_list, "List metrics", paginated=True, many=True),
        post(
            metric_post,
            ApiScope.COMPONENTS,
            "Create a metric (thresholds raise staff alerts)",
            envelope="metric",
            status=201,
            required=["name", "slug"],
            fields={
                "name": S,
                "slug": S,
                "suffix": S,
                "description": S,
                "component_id": S,
                "display": B,
                "direction": enum(["above", "below"]),
                "warning_threshold": NUMBER,
                "critical_threshold": NUMBER,
                "critical_component_status": enum(ComponentStatus.values),
                "prometheus_url": S,
                "prometheus_query": S,
                "prometheus_interval": I,
            },
        ),
        tag="Metrics",
    ),
    route(
        "metrics/{metric_id}/data",
        "metric_data",
        get(
            metric_data_get,
            "Read a metric's points over a range",
            query={
                "from": "Start (unix seconds or ISO 8601); default 24 hours before `to`",
                "to": "End (unix seconds or ISO 8601); default now",
            },
        ),
        post(
            metric_data_post,
            ApiScope.COMPONENTS,
            "Push a point (or a list of points) of a metric",
            fields={"data": POINT},
            status=201,
        ),
        tag="Metrics",
    ),
    route(
        "metrics/{metric_id}",
        "metric",
        get(metric_get, "Get a metric with its last value and open alert"),
        patch_and_put(
            metric_patch,
            ApiScope.COMPONENTS,
            "Change a metric's thresholds, display, component or Prometheus query",
            envelope="metric",
            fields=METRIC_PATCH_FIELDS,
        ),
        delete(metric_remove, ApiScope.COMPONENTS, "Delete a metric with its points and alerts"),
        tag="Metrics",
    ),
]
