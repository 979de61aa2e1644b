"""A Prometheus base URL may be private (staff set it; Prometheus is internal), but never a
link-local or cloud metadata address, and what a server that is not Prometheus answers is
never stored: whoever may set the URL (an API token with the `components` scope) must not be
able to read an internal page through the metric's error."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.exceptions import ValidationError

from statuspage.metrics.prometheus import (
    PrometheusError,
    address_refused,
    check_prometheus_url,
    prometheus_query,
)

SECRET = b"ami-id: i-0123456789 aws_secret_access_key=AKIAEXAMPLESECRET"


@pytest.mark.parametrize(
    "address",
    [
        "169.254.169.254",
        "169.254.1.1",
        "fe80::1",
        "100.100.100.200",
        "fd00:ec2::254",
        "::ffff:169.254.169.254",
    ],
)
def test_it_refuses_link_local_and_metadata_addresses(address):
    assert address_refused(address)


@pytest.mark.parametrize("address", ["10.0.0.5", "127.0.0.1", "192.168.1.2", "::1", "8.8.8.8"])
def test_it_allows_private_loopback_and_public_addresses(address):
    assert not address_refused(address)


@pytest.mark.parametrize(
    "url", ["http://169.254.169.254", "http://[fe80::1]:9090", "http://100.100.100.200"]
)
def test_it_refuses_a_metadata_url_when_saved(url):
    with pytest.raises(ValidationError) as refused:
        check_prometheus_url(url)
    assert "link-local or cloud metadata" in str(refused.value)


def test_a_private_prometheus_is_allowed():
    assert check_prometheus_url("http://10.0.0.5:9090/") == "http://10.0.0.5:9090"


@pytest.fixture
def not_prometheus():
    """An internal page that is not Prometheus, on loopback."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = SECRET if "json" not in self.path else b'{"secret": "' + SECRET + b'"}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.mark.parametrize("path", ["", "/json"])
def test_the_answer_of_a_server_that_is_not_prometheus_is_never_kept(not_prometheus, path):
    with pytest.raises(PrometheusError) as failed:
        prometheus_query(not_prometheus + path, "up", timeout=5)
    assert "is it Prometheus?" in str(failed.value)
    assert "AKIA" not in str(failed.value) and "ami-id" not in str(failed.value)
