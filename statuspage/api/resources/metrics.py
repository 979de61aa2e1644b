"""Metrics in the v1 API, in the shape existing scripts already push:

- `POST /v1/pages/{page_id}/metrics/{metric_id}/data` with `{"data": {"timestamp": <unix
  seconds or ISO 8601>, "value": <number>}}` (or a list of such points under "data");
- `POST /v1/pages/{page_id}/metrics/data` with `{"data": {"<metric_id>": [{timestamp, value}]}}`;
- `GET/POST /v1/pages/{page_id}/metrics`, `GET …/metrics/{metric_id}`.

A metric is named by its public id or its slug. Writes need the `components` scope, since a
metric can drive a component's status.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError

from incidents.documents import iso
from statuspage.api.framework import (
    ApiError,
    Call,
    get,
    invalid,
    not_found,
    paginate,
    parse_time,
    post,
    route,
    time_from_unix,
)
from statuspage.api.models import ApiScope
from statuspage.api.schema import NUMBER, B, S, enum
from statuspage.metrics.models import Metric, MetricAlert
from statuspage.metrics.selectors import alerts_open, metric_latest_points
from statuspage.metrics.services import metric_create, metric_points_record_many
from statuspage.models import Component, ComponentStatus

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
        "created_at": iso(metric.created_at),
        "last_value": latest[1] if latest else None,
        "last_value_at": iso(latest[0]) if latest else None,
        "alert": (
            {"level": alert.level, "opened_at": iso(alert.opened_at), "peak": alert.peak_value}
            if alert
            else None
        ),
    }


def _metric(ident: str) -> Metric:
    metric = Metric.objects.select_related("component").filter(public_id=ident).first()
    metric = metric or Metric.objects.select_related("component").filter(slug=ident).first()
    if metric is None:
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
    batches = [(_metric(ident), _points(raw, f"data.{ident}")) for ident, raw in data.items()]
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
    component = None
    if call.has("component_id"):
        component = Component.objects.filter(public_id=call.str("component_id")).first()
        if component is None:
            raise not_found("component", call.str("component_id") or "")
    name = call.str("name", required=True, max_length=200)
    try:
        metric = metric_create(
            name=name,
            slug=call.str("slug", required=True, max_length=100),
            actor=call.actor,
            unit=call.str("suffix", max_length=32) or "",
            description=call.str("description") or "",
            component=component,
            public=call.bool("display") is not False,
            direction=call.choice("direction", ["above", "below"]) or "above",
            warning_threshold=_float(call, "warning_threshold"),
            critical_threshold=_float(call, "critical_threshold"),
            critical_component_status=call.choice(
                "critical_component_status", list(ComponentStatus.values)
            )
            or "",
        )
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise invalid(field, " ".join(messages)) from None
    return metric_dict(metric)


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
            },
        ),
        tag="Metrics",
    ),
    route(
        "metrics/{metric_id}/data",
        "metric_data",
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
        tag="Metrics",
    ),
]
