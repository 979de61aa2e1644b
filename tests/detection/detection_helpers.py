"""Payloads of the detection tests (and bench/detect.py)."""

from __future__ import annotations


def alertmanager_payload(status: str = "firing", **labels: str) -> dict:
    """A version 4 Alertmanager webhook body with one alert of `labels` (fingerprint from
    them, as Alertmanager does)."""
    labels = {"alertname": "RunQueueStalled", "severity": "critical", **labels}
    fingerprint = "fp-" + "-".join(f"{k}={v}" for k, v in sorted(labels.items()))
    alert = {
        "status": status,
        "labels": labels,
        "annotations": {"summary": "Runs are not being dequeued"},
        "startsAt": "2026-06-22T20:05:00Z",
        "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else "2026-06-22T21:00:00Z",
        "generatorURL": "http://prometheus.internal/graph",
        "fingerprint": fingerprint,
    }
    return {
        "version": "4",
        "groupKey": '{}:{alertname="RunQueueStalled"}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "heliograph",
        "groupLabels": {"alertname": "RunQueueStalled"},
        "commonLabels": labels,
        "commonAnnotations": alert["annotations"],
        "externalURL": "http://alertmanager.internal:9093",
        "alerts": [alert],
    }
