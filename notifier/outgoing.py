"""The outgoing HTTP of the transports: connections only to allowed addresses, no redirects,
no proxies.

`notifier.validators.check_target` refuses a bad URL when it is saved and before each send;
but a name can resolve to a public address for that check and to 127.0.0.1 a moment later,
when the HTTP library looks it up again (DNS rebinding). So every connection a transport
makes goes through `connect`, which resolves the name once, refuses it if *any* of its
addresses is not allowed (`validators.address_allowed`), and connects to exactly those
addresses: what was checked is what is used. TLS still verifies the certificate of the name.

- `session()` is a `requests.Session` for the webhook and Discord transports (discord.py's
  `SyncWebhook` takes one): its connections go through `connect`, it never follows a
  redirect (a 3xx comes back as the answer), and it ignores the proxy environment variables.
- `opener()` is the same for `urllib` (which `slack_sdk` uses): checked connections, no
  redirect handler (a 3xx raises `HTTPError` with its own status), no proxy, http(s) only.

Why no redirects: the target was checked, the place it redirects to was not — a receiver
answering `302 Location: http://169.254.169.254/…` would otherwise have us fetch it and
store what it said in the recipient's last error. Why no proxy: a proxy resolves the name
itself, so the address check would check the proxy instead of the target.

`HELIOGRAPH_ALLOW_PRIVATE_TARGETS` lifts the address check here too (loopback sinks in tests);
redirects are refused either way.
"""

from __future__ import annotations

import http.client
import socket
import urllib.request
from typing import Any

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

from notifier.validators import address_allowed, refusal


class TargetRefused(OSError):
    """A connection refused because the host resolves to an address Heliograph does not send
    to. Permanent: the recipient's URL has to change (see `refusal_in`)."""


def connect(address: tuple[str, int], timeout: Any = None, source_address=None, socket_options=()):
    """`socket.create_connection`, but refusing a host with any address that is not allowed,
    and connecting only to the addresses it checked."""
    host, port = address
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    if not settings.HELIOGRAPH_ALLOW_PRIVATE_TARGETS:
        for info in infos:
            if not address_allowed(info[4][0]):
                raise TargetRefused(refusal(host, info[4][0]))
    error: OSError | None = None
    for family, kind, proto, _, sockaddr in infos:
        sock = socket.socket(family, kind, proto)
        try:
            for option in socket_options or ():
                sock.setsockopt(*option)
            if timeout is None or isinstance(timeout, int | float):
                sock.settimeout(timeout)
            if source_address:
                sock.bind(source_address)
            sock.connect(sockaddr)
            return sock
        except OSError as exc:
            error = exc
            sock.close()
    raise error or OSError(f"No address to connect to for {host}")


def refusal_in(error: BaseException) -> TargetRefused | None:
    """The `TargetRefused` inside an HTTP library's error, if that is what it was (requests
    and urllib wrap it in their own errors, some as a cause, some as an argument)."""
    seen: set[int] = set()
    todo: list[object] = [error]
    while todo:
        item = todo.pop()
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, TargetRefused):
            return item
        todo.extend([item.__cause__, item.__context__, getattr(item, "reason", None), *item.args])
    return None


# --- requests / urllib3 -----------------------------------------------------------------------


class _CheckedConnectionMixin:
    def _new_conn(self) -> socket.socket:
        try:
            return connect(
                (self._dns_host, self.port),
                self.timeout,
                source_address=self.source_address,
                socket_options=self.socket_options,
            )
        except TargetRefused:
            raise
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc
        except TimeoutError as exc:
            raise ConnectTimeoutError(self, f"Connection to {self.host} timed out.") from exc
        except OSError as exc:
            raise NewConnectionError(self, f"Failed to establish a new connection: {exc}") from exc


class _CheckedHTTPConnection(_CheckedConnectionMixin, HTTPConnection):
    pass


class _CheckedHTTPSConnection(_CheckedConnectionMixin, HTTPSConnection):
    pass


class _CheckedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _CheckedHTTPConnection


class _CheckedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _CheckedHTTPSConnection


class _CheckedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _CheckedHTTPPool,
            "https": _CheckedHTTPSPool,
        }

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        raise requests.exceptions.InvalidURL("Heliograph does not send notifications via a proxy.")


class _NoRedirectSession(requests.Session):
    def get_redirect_target(self, resp) -> None:
        """Never follow a redirect: the 3xx is the answer (whatever `allow_redirects` says)."""
        return None


def session() -> requests.Session:
    """A session whose connections are checked, that follows no redirect and uses no proxy."""
    checked = _NoRedirectSession()
    checked.trust_env = False
    checked.max_redirects = 0
    adapter = _CheckedAdapter()
    checked.mount("http://", adapter)
    checked.mount("https://", adapter)
    return checked


# --- urllib (slack_sdk) -----------------------------------------------------------------------


class _CheckedHTTPClientConnection(http.client.HTTPConnection):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = connect


class _CheckedHTTPClientSConnection(http.client.HTTPSConnection):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = connect


class _CheckedHTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req):
        return self.do_open(_CheckedHTTPClientConnection, req)


class _CheckedHTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req):
        return self.do_open(_CheckedHTTPClientSConnection, req, context=self._context)


def opener(ssl_context=None) -> urllib.request.OpenerDirector:
    """A urllib opener with checked connections and no redirect, proxy, file or ftp handler:
    a 3xx raises `HTTPError` carrying that 3xx."""
    director = urllib.request.OpenerDirector()
    for handler in (
        _CheckedHTTPHandler(),
        _CheckedHTTPSHandler(context=ssl_context),
        urllib.request.HTTPDefaultErrorHandler(),
        urllib.request.HTTPErrorProcessor(),
    ):
        director.add_handler(handler)
    return director
