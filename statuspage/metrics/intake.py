"""What an alert source sends, read into `IncomingAlert`s: the Alertmanager webhook (version 4),
Grafana alerting's webhook contact point, and Heliograph's generic JSON.

Plain functions over the request body, no database: `statuspage.metrics.services` looks the
components up and acts. A payload that cannot be read raises `PayloadError` with the reason
the intake answers (400), and nothing is changed.

Texts are machine-made and an alert must not be lost over a stray character, so names,
summaries and labels are made one line (`statuspage.text.one_line`: control characters and
ANSI sequences become spaces) and then checked by `clean_text` like every stored text.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError

from statuspage.text import clean_text, one_line

MAX_ALERTS = 1000
MAX_LABELS = 100
MAX_NAME = 255
MAX_SUMMARY = 2000
MAX_LABEL_VALUE = 1000
FIRING, RESOLVED = "firing", "resolved"


class PayloadError(Exception):
    """A payload Heliograph cannot read; `reason` is what the sender is told."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class IncomingAlert:
    """One alert as a source sent it, in Heliograph's terms.

    `component_id` (a component's public id, label `component`) or `service` + `region`
    (slugs; no region: the global component of the service) name the component."""

    fingerprint: str
    firing: bool
    name: str
    summary: str = ""
    severity: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    component_id: str = ""
    service: str = ""
    region: str = ""

    @property
    def component_ref(self) -> str:
        """How the alert named its component, for staff when nothing matches."""
        if self.component_id:
            return f"component={self.component_id}"
        if self.service:
            return f"service={self.service}" + (f", region={self.region}" if self.region else "")
        return ""


def _text(value: Any, where: str, limit: int) -> str:
    if value is None:
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise PayloadError(f"{where} must be a string.")
    try:
        text = clean_text(one_line(value), field="text", single_line=True)
    except ValidationError:  # one_line leaves nothing clean_text refuses; kept as a guard
        raise PayloadError(f"{where} contains characters that cannot be stored.") from None
    return text[:limit]


def _labels(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PayloadError(f"{where} must be an object of strings.")
    if len(value) > MAX_LABELS:
        raise PayloadError(f"{where} has {len(value)} entries; at most {MAX_LABELS}.")
    return {
        _text(key, f"{where} key", 200): _text(val, f"{where}.{key}", MAX_LABEL_VALUE)
        for key, val in value.items()
    }


def _status(value: Any, where: str) -> bool:
    if value not in (FIRING, RESOLVED):
        raise PayloadError(f"{where} must be 'firing' or 'resolved', not {value!r}.")
    return value == FIRING


def _fingerprint(given: Any, labels: dict[str, str], where: str) -> str:
    """The sender's fingerprint, or one made from the labels (sorted), as Alertmanager does:
    the same labels are the same alert."""
    if given:
        return _text(given, where, 200)
    canonical = json.dumps(sorted(labels.items()), separators=(",", ":"))
    return "labels:" + hashlib.sha256(canonical.encode()).hexdigest()[:40]


def _from_labels(
    labels: dict[str, str], annotations: dict[str, str], firing: bool, fingerprint: str
) -> IncomingAlert:
    name = labels.get("alertname") or annotations.get("summary") or "Alert"
    summary = annotations.get("summary") or annotations.get("description") or ""
    return IncomingAlert(
        fingerprint=fingerprint,
        firing=firing,
        name=name[:MAX_NAME],
        summary=summary[:MAX_SUMMARY],
        severity=labels.get("severity", "").lower(),
        labels=labels,
        component_id=labels.get("component", ""),
        service=labels.get("service", ""),
        region=labels.get("region", ""),
    )


def read_json(body: bytes) -> dict:
    try:
        data = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise PayloadError("The body is not UTF-8 text.") from None
    except json.JSONDecodeError as exc:
        raise PayloadError(f"The body is not JSON: {exc.msg} at character {exc.pos}.") from None
    if not isinstance(data, dict):
        raise PayloadError("The body must be a JSON object.")
    return data


def _webhook_alerts(data: dict, *, sender: str) -> list[IncomingAlert]:
    """The `alerts` of an Alertmanager (or Grafana, which copies its shape) webhook."""
    alerts = data.get("alerts")
    if not isinstance(alerts, list) or not alerts:
        raise PayloadError(f"A {sender} payload needs a non-empty list 'alerts'.")
    if len(alerts) > MAX_ALERTS:
        raise PayloadError(f"{len(alerts)} alerts in one payload; at most {MAX_ALERTS}.")
    group_status = data.get("status")
    result = []
    for index, alert in enumerate(alerts):
        where = f"alerts[{index}]"
        if not isinstance(alert, dict):
            raise PayloadError(f"{where} must be an object.")
        firing = _status(alert.get("status", group_status), f"{where}.status")
        labels = _labels(alert.get("labels"), f"{where}.labels")
        annotations = _labels(alert.get("annotations"), f"{where}.annotations")
        fingerprint = _fingerprint(alert.get("fingerprint"), labels, f"{where}.fingerprint")
        result.append(_from_labels(labels, annotations, firing, fingerprint))
    return result


def parse_alertmanager(data: dict) -> list[IncomingAlert]:
    """Alertmanager's webhook: `{"version": "4", "status", "alerts": [{"status", "labels",
    "annotations", "startsAt", "endsAt", "fingerprint", …}], …}` (grouped alerts)."""
    version = data.get("version")
    if version is not None and str(version) != "4":
        raise PayloadError(f"Alertmanager webhook version {version!r}; Heliograph reads '4'.")
    return _webhook_alerts(data, sender="Alertmanager")


def parse_grafana(data: dict) -> list[IncomingAlert]:
    """Grafana alerting's webhook contact point: Alertmanager's shape (`alerts` with
    `status`, `labels`, `annotations`, `fingerprint`) plus Grafana's fields (`title`,
    `state`, `message`, `orgId`, `values`, …), which are not needed."""
    return _webhook_alerts(data, sender="Grafana")


GENERIC_FIELDS = {"component", "service", "region", "status", "severity", "summary", "name"}


def parse_generic(data: dict) -> list[IncomingAlert]:
    """Heliograph's generic JSON, for anything else (Datadog, a shell script):
    `{"component": "<component id>", "status": "firing|resolved", "severity": "critical",
    "summary": "…"}`, or `"service"` (+ `"region"`) slugs instead of `"component"`. Optional:
    `"name"`, `"fingerprint"` (default: the component named, so one alert per component),
    `"labels"` (an object of strings). A list of such objects under `"alerts"` is also read."""
    if "alerts" in data:
        items = data["alerts"]
        if not isinstance(items, list) or not items:
            raise PayloadError("'alerts' must be a non-empty list of alert objects.")
        if len(items) > MAX_ALERTS:
            raise PayloadError(f"{len(items)} alerts in one payload; at most {MAX_ALERTS}.")
    else:
        items = [data]
    result = []
    for index, item in enumerate(items):
        where = f"alerts[{index}]" if "alerts" in data else "body"
        if not isinstance(item, dict):
            raise PayloadError(f"{where} must be an object.")
        if "status" not in item:
            raise PayloadError(f"{where}: 'status' is required ('firing' or 'resolved').")
        firing = _status(item.get("status"), f"{where}.status")
        labels = _labels(item.get("labels"), f"{where}.labels")
        for key in GENERIC_FIELDS - {"status"}:
            if item.get(key) is not None:
                labels[key] = _text(item[key], f"{where}.{key}", MAX_LABEL_VALUE)
        if not (labels.get("component") or labels.get("service")):
            raise PayloadError(
                f"{where}: name the component: 'component', or 'service' (+ 'region')."
            )
        reference = labels.get("component") or f"{labels.get('service')}/{labels.get('region', '')}"
        fingerprint = _text(item.get("fingerprint"), f"{where}.fingerprint", 200)
        fingerprint = fingerprint or f"generic:{reference}:{labels.get('name', '')}"
        summary = labels.get("summary", "")
        result.append(
            IncomingAlert(
                fingerprint=fingerprint[:200],
                firing=firing,
                name=(labels.get("name") or summary or "Alert")[:MAX_NAME],
                summary=summary[:MAX_SUMMARY],
                severity=labels.get("severity", "").lower(),
                labels=labels,
                component_id=labels.get("component", ""),
                service=labels.get("service", ""),
                region=labels.get("region", ""),
            )
        )
    return result


PARSERS = {
    "alertmanager": parse_alertmanager,
    "grafana": parse_grafana,
    "generic": parse_generic,
}


def parse_alerts(kind: str, body: bytes) -> list[IncomingAlert]:
    """The alerts of a payload of a source of `kind`, or PayloadError with the reason."""
    return PARSERS[kind](read_json(body))
