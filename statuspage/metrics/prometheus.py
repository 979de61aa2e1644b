"""Reading one number from a Prometheus server: the instant query API
(`GET <base>/api/v1/query?query=<PromQL>`).

No database here: `statuspage.metrics.services.metric_pull_prometheus` records the value as a
point of the metric, and the thresholds do the rest.

Where Heliograph may connect: the notifier's SSRF rule (`notifier.validators.check_target`)
refuses private addresses, because anonymous visitors choose webhook URLs. A Prometheus base
URL is different: only staff (console, admin, an API token with the `components` scope) set
it, it is a pull that staff configure on purpose, and Prometheus almost always lives on an
internal address. So private and loopback addresses are allowed here; what is refused is
what never makes sense for a Prometheus base URL (another scheme, credentials in the URL, a
query or a fragment), and redirects are not followed and proxies not used, so the server
asked is exactly the one configured. The answer is read as JSON and only the number is
kept; an error stores at most the first 300 characters of what came back.
"""

from __future__ import annotations

import json
import math
from urllib.parse import urlsplit

import requests
from django.core.exceptions import ValidationError

MAX_ANSWER = 1024 * 1024


class PrometheusError(Exception):
    """A query that gave no number; the message is kept on the metric for staff."""


def check_prometheus_url(url: str) -> str:
    """The base URL as stored (no trailing slash), or ValidationError({"prometheus_url": …})."""
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    problem = ""
    if parts.scheme not in ("http", "https") or not parts.hostname:
        problem = "Give an http(s) URL, e.g. http://prometheus:9090."
    elif parts.username or parts.password:
        problem = "Credentials in the URL are not kept; put Prometheus behind a network rule."
    elif parts.query or parts.fragment:
        problem = "Give the base URL only (no ?query or #fragment)."
    elif "\\" in url:
        problem = "A backslash is not allowed in the URL."
    if problem:
        raise ValidationError({"prometheus_url": problem})
    return url


def _session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # no proxy variables: ask exactly the configured server
    return session


def prometheus_query(base_url: str, query: str, *, timeout: float) -> float:
    """The value of an instant query that answers one number: a scalar, or a vector of
    exactly one series. Raises PrometheusError with the reason otherwise."""
    try:
        with _session() as session:
            response = session.get(
                f"{base_url}/api/v1/query",
                params={"query": query},
                timeout=timeout,
                allow_redirects=False,
                stream=True,
            )
            raw = response.raw.read(MAX_ANSWER + 1, decode_content=True)
    except requests.RequestException as exc:
        raise PrometheusError(f"Prometheus unreachable: {exc.__class__.__name__}") from exc
    if 300 <= response.status_code < 400:
        raise PrometheusError(
            f"Prometheus answered {response.status_code}, a redirect: give the final URL."
        )
    if len(raw) > MAX_ANSWER:
        raise PrometheusError("Prometheus answered more than 1 MB: the query must give one number.")
    try:
        data = json.loads(raw)
    except ValueError:
        raise PrometheusError(
            f"Prometheus answered {response.status_code} with no JSON: {raw[:300]!r}"
        ) from None
    if not isinstance(data, dict) or data.get("status") != "success":
        error = str(data.get("error", "")) if isinstance(data, dict) else ""
        raise PrometheusError(f"Prometheus answered {response.status_code}: {error[:300]}")
    result_type = data.get("data", {}).get("resultType")
    result = data.get("data", {}).get("result")
    try:
        if result_type == "scalar":
            value = float(result[1])
        elif result_type == "vector":
            if not result:
                raise PrometheusError("The query answered no series (no data yet?).")
            if len(result) > 1:
                raise PrometheusError(
                    f"The query answered {len(result)} series; it must answer one number "
                    "(wrap it in sum(…) or max(…))."
                )
            value = float(result[0]["value"][1])
        else:
            raise PrometheusError(f"The query answered a {result_type}; it must answer one number.")
    except (TypeError, KeyError, IndexError, ValueError):
        raise PrometheusError("Prometheus answered a result Heliograph cannot read.") from None
    if not math.isfinite(value):
        raise PrometheusError(f"The query answered {value}, not a finite number.")
    return value
