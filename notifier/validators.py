"""Where Heliograph may send: the one rule for every outgoing URL (`check_target`) and every
address it connects to (`address_allowed`).

A status page that POSTs to any URL it is given is a server-side request forgery tool: a
webhook pointing at 127.0.0.1, 10.0.0.5 or a cloud metadata service (169.254.169.254,
100.100.100.200) would let anyone who can subscribe reach internal services. So:

- the scheme is http or https (webhooks: https), with no backslash (parsers disagree on it);
- Slack URLs are on `hooks.slack.com`, Discord URLs on Discord's hosts, Microsoft Teams
  workflow URLs on Microsoft's workflow hosts (`*.logic.azure.com`,
  `*.api.powerplatform.com`), and the Twilio API base on `*.twilio.com`: https on the
  default port and without a user name: they are their vendors' endpoints, nothing else;
- other URLs use port 80 or 443, or one an administrator allowed in
  `settings.HELIOGRAPH_ALLOWED_TARGET_PORTS`;
- every address the host resolves to is *globally reachable* (`ipaddress`'s `is_global`,
  not multicast), and so is the IPv4 address inside an IPv4-mapped (`::ffff:a.b.c.d`),
  6to4 (`2002::/16`), Teredo (`2001::/32`) or NAT64 (`64:ff9b::/96`) address. Asking
  "is it global" rather than "is it private" refuses every range that is not public —
  carrier-grade NAT (100.64/10), benchmarking, documentation, reserved, site-local — not
  only the ones someone remembered to list. Numeric hosts in other spellings (2130706433,
  0177.0.0.1, 0x7f000001, 0x7f.1) are refused as URLs, and would resolve to the same
  refused address anyway.

The rule runs when a URL is saved (every write goes through `notifier.services`: console,
admin, API, MCP, `/subscribe/`) and again before each send (a DNS answer may have changed);
and `notifier.outgoing` applies `address_allowed` to the very address each connection is
made to, so a name that resolves to a public address for the check and to a private one a
moment later (DNS rebinding) is still refused.

`settings.HELIOGRAPH_ALLOW_PRIVATE_TARGETS` is the explicit escape hatch for tests and
benchmarks that point everything at loopback sinks: it lifts the scheme, vendor-host, port
and address rules (a URL must still be an http(s) URL, and redirects are still not followed).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from urllib.parse import urlsplit

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

WEBHOOK = "webhook"
SLACK = "slack"
DISCORD = "discord"
TEAMS = "teams"
TWILIO = "twilio"
KINDS = (WEBHOOK, SLACK, DISCORD, TEAMS, TWILIO)
VENDOR_KINDS = (SLACK, DISCORD, TEAMS, TWILIO)

SLACK_WEBHOOK_HOSTS = {"hooks.slack.com"}
DISCORD_WEBHOOK_HOSTS = {"discord.com", "discordapp.com", "ptb.discord.com", "canary.discord.com"}
DISCORD_PATH = re.compile(r"^/api(?:/v\d+)?/webhooks/(?P<id>\d{5,25})/(?P<token>[\w-]{20,200})/?$")
# Teams "Workflows" webhooks (the Power Automate / Logic Apps HTTP trigger that posts a card to
# a channel or chat): prod-NN.<region>.logic.azure.com/workflows/<id>/triggers/manual/paths/
# invoke, or <env>.environment.api.powerplatform.com/powerautomate/automations/direct/
# workflows/<id>/triggers/manual/paths/invoke. Hosts are matched by these suffixes.
TEAMS_WEBHOOK_SUFFIXES = (".logic.azure.com", ".api.powerplatform.com")
TEAMS_PATH = re.compile(
    r"^(?:/powerautomate/automations/direct)?/workflows/[\w-]{8,64}/triggers/[\w-]{1,64}"
    r"/paths/invoke/?$"
)
TWILIO_API_SUFFIX = ".twilio.com"
DEFAULT_PORTS = frozenset({80, 443})

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052 well-known prefix
_IPV6_LOW = ipaddress.IPv6Network("::/8")  # unspecified, loopback, IPv4-compatible, local NAT64
_url_validator = URLValidator(schemes=["http", "https"])


def _allow_private() -> bool:
    return settings.HELIOGRAPH_ALLOW_PRIVATE_TARGETS


def allowed_ports() -> frozenset[int]:
    """80, 443 and the ports an administrator allowed (`HELIOGRAPH_ALLOWED_TARGET_PORTS`)."""
    return DEFAULT_PORTS | frozenset(settings.HELIOGRAPH_ALLOWED_TARGET_PORTS)


def _ipv4_allowed(ip: ipaddress.IPv4Address) -> bool:
    return ip.is_global and not ip.is_multicast


def address_allowed(address: str) -> bool:
    """Whether Heliograph may connect to this IP address (a string as `getaddrinfo` gives it,
    maybe with an IPv6 zone): globally reachable, and so is any IPv4 address inside it."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv4Address):
        return _ipv4_allowed(ip)
    if ip.ipv4_mapped is not None:
        return _ipv4_allowed(ip.ipv4_mapped)
    if ip in _NAT64:
        return _ipv4_allowed(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    if ip in _IPV6_LOW or ip.is_multicast or ip.is_site_local or not ip.is_global:
        return False
    if ip.sixtofour is not None and not _ipv4_allowed(ip.sixtofour):
        return False
    if ip.teredo is not None and not all(_ipv4_allowed(v4) for v4 in ip.teredo):
        return False
    return True


def refusal(host: str, address: str) -> str:
    """The message of a host refused for one of its addresses (at save, send or connect)."""
    return _(
        "The host “%(host)s” resolves to %(address)s, which is not a public address (a "
        "private, loopback or link-local address, or another range that is not globally "
        "reachable); Heliograph only sends to public addresses."
    ) % {"host": host, "address": address}


def check_host_addresses(host: str, port: int) -> None:
    """Refuse a host that does not resolve, or that resolves to any address not allowed."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise ValidationError(_("The host “%(host)s” does not resolve.") % {"host": host}) from None
    for info in infos:
        address = info[4][0]
        if not address_allowed(address):
            raise ValidationError(refusal(host, address))


# Messages of the subscribe form too: translated into the language active when raised.
_VENDOR_MESSAGES = {
    SLACK: gettext_lazy(
        "A Slack incoming webhook URL starts with https://hooks.slack.com/services/."
    ),
    DISCORD: gettext_lazy("A Discord webhook URL starts with https://discord.com/api/webhooks/."),
    TEAMS: gettext_lazy(
        "A Microsoft Teams workflow webhook URL is on a Microsoft workflow host "
        "(https://….logic.azure.com/workflows/… or "
        "https://….api.powerplatform.com/powerautomate/automations/direct/workflows/…)."
    ),
    TWILIO: "The Twilio API is at https://api.twilio.com (or another host under twilio.com).",
}
TEAMS_PATH_MESSAGE = gettext_lazy(
    "A Microsoft Teams workflow webhook URL ends with /workflows/<id>/triggers/manual/paths/"
    "invoke followed by its signature (copy it whole from the workflow's trigger)."
)
DISCORD_PATH_MESSAGE = gettext_lazy(
    "A Discord webhook URL looks like https://discord.com/api/webhooks/<id>/<token>."
)


def _vendor_message(kind: str) -> str:
    return str(_VENDOR_MESSAGES[kind])


def _vendor_host(kind: str, host: str) -> bool:
    """Whether `host` is one of the vendor's own hosts for this kind of target."""
    if kind == SLACK:
        return host in SLACK_WEBHOOK_HOSTS
    if kind == DISCORD:
        return host in DISCORD_WEBHOOK_HOSTS
    if kind == TEAMS:
        return host.endswith(TEAMS_WEBHOOK_SUFFIXES)
    return host == TWILIO_API_SUFFIX[1:] or host.endswith(TWILIO_API_SUFFIX)


def check_target(url: str, *, kind: str) -> str:
    """The one rule of where Heliograph may send (see the module's docstring): the cleaned
    URL, or ValidationError with the reason. `kind` is `webhook`, `slack`, `discord`,
    `teams` or `twilio` (the configured Twilio API base, checked before each send).

    Vendor hosts are fixed vendor names: they are not looked up here (their addresses are
    checked when connecting, as every connection's are); a webhook's host is anyone's choice
    and is looked up, so a bad one is refused when it is saved."""
    if kind not in KINDS:
        raise ValueError(f"Unknown kind of target: {kind!r}")
    url = url.strip()
    try:
        _url_validator(url)
    except ValidationError:
        raise ValidationError(_("“%(url)s” is not a valid URL.") % {"url": url}) from None
    if "\\" in url:
        raise ValidationError(
            _("“%(url)s” is not a valid URL (it contains a backslash).") % {"url": url}
        )
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        raise ValidationError(
            _("“%(url)s” is not a valid URL (bad port).") % {"url": url}
        ) from None
    if kind == DISCORD and not DISCORD_PATH.match(parts.path):
        raise ValidationError(str(DISCORD_PATH_MESSAGE))
    if kind == TEAMS and not TEAMS_PATH.match(parts.path):
        raise ValidationError(str(TEAMS_PATH_MESSAGE))
    if _allow_private():
        return url
    host = parts.hostname or ""
    if kind in VENDOR_KINDS:
        if parts.scheme != "https" or not _vendor_host(kind, host) or parts.username is not None:
            raise ValidationError(_vendor_message(kind))
        if port not in (None, 443):
            raise ValidationError(
                _("%(rule)s It uses the default port (443).") % {"rule": _vendor_message(kind)}
            )
        return url
    if parts.scheme != "https":
        raise ValidationError(_("Webhook URLs must use https."))
    if port is not None and port not in allowed_ports():
        ports = ", ".join(str(p) for p in sorted(allowed_ports()))
        raise ValidationError(
            _(
                "Port %(port)s is not allowed: Heliograph sends to ports %(ports)s only (an "
                "administrator can allow more with HELIOGRAPH_ALLOWED_TARGET_PORTS)."
            )
            % {"port": port, "ports": ports}
        )
    check_host_addresses(host, port or 443)
    return url


def normalize_phone(number: str, *, region: str = "") -> str:
    """A phone number an SMS can be sent to, in E.164 (`+4915112345678`), or ValidationError.

    `phonenumbers` parses it (international format with `+`, or national with `region`, an
    ISO country code such as "DE") and checks it is a possible and valid number of a real
    numbering plan; fixed lines that cannot take texts are refused where the plan says so."""
    text = (number or "").strip()
    if not text:
        raise ValidationError(_("The phone number is required."))
    if len(text) > 32:
        raise ValidationError(_("That is not a phone number (too long)."))
    try:
        parsed = phonenumbers.parse(text, (region or "").upper() or None)
    except phonenumbers.NumberParseException:
        raise ValidationError(
            _(
                "“%(number)s” is not a phone number: write it with its country code, e.g. "
                "+44 7700 900123."
            )
            % {"number": text}
        ) from None
    if not phonenumbers.is_possible_number(parsed) or not phonenumbers.is_valid_number(parsed):
        raise ValidationError(_("“%(number)s” is not a valid phone number.") % {"number": text})
    kind = phonenumbers.number_type(parsed)
    if kind in (
        phonenumbers.PhoneNumberType.FIXED_LINE,
        phonenumbers.PhoneNumberType.TOLL_FREE,
        phonenumbers.PhoneNumberType.PREMIUM_RATE,
        phonenumbers.PhoneNumberType.SHARED_COST,
        phonenumbers.PhoneNumberType.PAGER,
    ):
        raise ValidationError(
            _("“%(number)s” cannot receive text messages (it is not a mobile number).")
            % {"number": text}
        )
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def phone_region(e164: str) -> str:
    """The ISO country code of a stored number ("DE" for +49…), "" when there is none."""
    if not e164:
        return ""
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(e164, None)) or ""
    except phonenumbers.NumberParseException:
        return ""


def discord_webhook_parts(url: str) -> tuple[int, str]:
    """The (webhook id, token) of a Discord webhook URL that `check_target` accepted."""
    match = DISCORD_PATH.match(urlsplit(url.strip()).path)
    if not match:
        raise ValidationError(str(DISCORD_PATH_MESSAGE))
    return int(match["id"]), match["token"]
