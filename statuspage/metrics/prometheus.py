"""Reading one number from a Prometheus server: the instant query API
(`GET <base>/api/v1/query?query=<PromQL>`).

No database here: `statuspage.metrics.services.metric_pull_prometheus` records the value as a
point of the metric, and the thresholds do the rest.

Where Heliograph may connect: the notifier's SSRF rule (`notifier.validators.check_target`)
refuses private addresses, because anonymous visitors choose webhook URLs. A Prometheus base
URL is different: only staff (console, admin, an API token with the `components` scope) set
it, it is a pull that staff configure on purpose, and Prometheus almost always lives on an
internal address. So private and loopback addresses are allowed here. Refused: what never
makes sense for a Prometheus base URL (another scheme, credentials in the URL, a query or a
fragment), and link-local and cloud metadata addresses (169.254.0.0/16, fe80::/10,
100.100.100.200, fd00:ec2::254, also inside IPv4-mapped addresses), checked when the URL is
saved and again before every query. Redirects are not followed and proxies not used, so the
server asked is exactly the one configured. Only a number is kept from the answer: an error
names the status code and, for a Prometheus error answer, its error text, never the body of
something that is not Prometheus (a token holder who may set the URL must not be able to
read an internal page through it).
"""

from __future__ import annotations

import ipaddress
import json
import math
import socket
from urllib.parse import urlsplit

import requests
from django.core.exceptions import ValidationError

MAX_ANSWER = 1024 * 1024


class PrometheusError(Exception):
    """A query that gave no number; the message is kept on the metric for staff."""


METADATA_ADDRESSES = {
    ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
    ipaddress.ip_address("fd00:ec2::254"),  # AWS over IPv6
}


def address_refused(address: str) -> bool:
    """A link-local or cloud metadata address (169.254.169.254 is link-local), also inside
    an IPv4-mapped IPv6 address: never a Prometheus server."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return True
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_link_local or ip in METADATA_ADDRESSES


def _refused_address(host: str, port: int) -> str:
    """The first address of `host` that is refused, or ""; a host that does not resolve is
    left to the query to report (Prometheus may be down or not yet in DNS)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return ""
    return next((i[4][0] for i in infos if address_refused(i[4][0])), "")


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
    else:
        address = _refused_address(parts.hostname, parts.port or 80)
        if address:
            problem = (
                f"{parts.hostname} resolves to {address}, a link-local or cloud metadata "
                "address: that is never a Prometheus server."
            )
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
    parts = urlsplit(base_url)
    address = _refused_address(parts.hostname or "", parts.port or 80)
    if address:
        raise PrometheusError(f"{parts.hostname} resolves to {address}: refused (link-local).")
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
            f"The server answered {response.status_code} with {len(raw)} bytes that are not "
            "JSON: is it Prometheus?"
        ) from None
    if not isinstance(data, dict) or data.get("status") != "success":
        if isinstance(data, dict) and data.get("status") == "error" and "errorType" in data:
            error = str(data.get("error", ""))[:300]  # Prometheus' own error answer
            raise PrometheusError(f"Prometheus answered {response.status_code}: {error}")
        raise PrometheusError(
            f"The server answered {response.status_code} with JSON that is not a Prometheus "
            "query answer: is it Prometheus?"
        )
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
