"""Checks on the URLs Heliograph will send to.

A status page that POSTs to any URL it is given is a server-side request forgery tool: a
webhook pointing at 127.0.0.1 or 169.254.169.254 would let anyone who can subscribe reach
internal services. So webhook URLs must be https and must not resolve to a private,
loopback, link-local, multicast or reserved address (checked when saved and again before
each send, against DNS rebinding); Slack and Discord URLs must be on their own hosts.

`settings.HELIOGRAPH_ALLOW_PRIVATE_TARGETS` lifts the host and address checks, for tests
and benchmarks that point everything at loopback sinks.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

SLACK_WEBHOOK_HOSTS = {"hooks.slack.com"}
DISCORD_WEBHOOK_HOSTS = {"discord.com", "discordapp.com", "ptb.discord.com", "canary.discord.com"}
DISCORD_PATH = re.compile(r"^/api(?:/v\d+)?/webhooks/(?P<id>\d{5,25})/(?P<token>[\w-]{20,200})/?$")

_url_validator = URLValidator(schemes=["http", "https"])


def _allow_private() -> bool:
    return settings.HELIOGRAPH_ALLOW_PRIVATE_TARGETS


def _check_syntax(url: str) -> None:
    try:
        _url_validator(url)
    except ValidationError:
        raise ValidationError(f"“{url}” is not a valid URL.") from None


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def check_public_host(url: str) -> None:
    """Refuse a URL whose host resolves to a non-public address (or does not resolve)."""
    if _allow_private():
        return
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        infos = socket.getaddrinfo(host, parts.port or 443, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        raise ValidationError(f"The host “{host}” does not resolve.") from None
    for info in infos:
        address = info[4][0]
        if not _is_public(address):
            raise ValidationError(
                f"The host “{host}” resolves to {address}, a private, loopback or link-local "
                "address; Heliograph only sends to public addresses."
            )


def validate_webhook_url(url: str) -> str:
    """A webhook URL: https, on a public address."""
    url = url.strip()
    _check_syntax(url)
    if not _allow_private():
        if urlsplit(url).scheme != "https":
            raise ValidationError("Webhook URLs must use https.")
        check_public_host(url)
    return url


def validate_slack_webhook_url(url: str) -> str:
    """A Slack incoming webhook: https://hooks.slack.com/services/…"""
    url = url.strip()
    _check_syntax(url)
    if not _allow_private():
        parts = urlsplit(url)
        if parts.scheme != "https" or parts.hostname not in SLACK_WEBHOOK_HOSTS:
            raise ValidationError(
                "A Slack incoming webhook URL starts with https://hooks.slack.com/services/."
            )
    return url


def parse_discord_webhook_url(url: str) -> tuple[int, str]:
    """The (webhook id, token) of a Discord webhook URL, or ValidationError."""
    url = url.strip()
    _check_syntax(url)
    parts = urlsplit(url)
    if not _allow_private() and (
        parts.scheme != "https" or parts.hostname not in DISCORD_WEBHOOK_HOSTS
    ):
        raise ValidationError(
            "A Discord webhook URL starts with https://discord.com/api/webhooks/."
        )
    match = DISCORD_PATH.match(parts.path)
    if not match:
        raise ValidationError(
            "A Discord webhook URL looks like https://discord.com/api/webhooks/<id>/<token>."
        )
    return int(match["id"]), match["token"]


def validate_discord_webhook_url(url: str) -> str:
    parse_discord_webhook_url(url)
    return url.strip()
