"""Server-side request forgery: Heliograph sends only to public addresses, on the allowed
ports, to Slack's and Discord's own hosts for those, and never follows a redirect.

The rule is `notifier.validators.check_target`, used when a URL is saved (staff through the
services, the console, the API; anonymous visitors through /subscribe/) and again before each
send; `notifier.outgoing` applies the address rule to every connection itself (a name that
resolves differently a moment later is still refused). Nothing here leaves loopback: every
"internal" target is an address literal, `localhost`, or a loopback sink, and every "public"
one an address literal that is never connected to."""

from __future__ import annotations

import ssl
import urllib.request
from urllib.error import URLError

import pytest
import requests
import trustme
from django.core import mail
from django.core.exceptions import ValidationError
from notifier_helpers import (
    DISCORD_ID,
    DISCORD_TOKEN,
    discord_channel,
    slack_bot_channel,
    slack_channel,
    webhook_channel,
)
from sinks import Answer, ChatSink

from incidents import services as incidents
from notifier import outgoing, services
from notifier.integrations import transport_for
from notifier.messages import notice_for_test
from notifier.models import Channel, Delivery, DeliveryStatus, Subscriber
from notifier.transports import TransportError
from notifier.validators import address_allowed, check_host_addresses, check_target

pytestmark = pytest.mark.django_db

# Internal targets in every spelling the issue lists. Each is refused as a webhook URL.
INTERNAL = [
    "https://100.64.0.1/hook",  # carrier-grade NAT (shared address space)
    "https://100.100.100.200/latest/meta-data",  # a cloud metadata service in 100.64/10
    "https://[2002:7f00:1::]/hook",  # 6to4 of 127.0.0.1
    "https://[2002:a9fe:a9fe::]/hook",  # 6to4 of 169.254.169.254
    "https://127.0.0.1/hook",
    "https://169.254.169.254/latest/meta-data",
    "https://[::ffff:127.0.0.1]/hook",  # IPv4-mapped
    "https://[::ffff:7f00:1]/hook",  # IPv4-mapped, hex
    "https://2130706433/hook",  # 127.0.0.1 as one decimal number
    "https://0177.0.0.1/hook",  # octal
    "https://0x7f000001/hook",  # hex
    "https://0x7f.1/hook",  # hex, short form
    "https://[64:ff9b::7f00:1]/hook",  # NAT64 of 127.0.0.1
    "https://localhost/hook",  # a name that resolves to loopback
    "https://[::1]/hook",
    "https://10.1.2.3/hook",
    "https://[fe80::1]/hook",
]


# --- The address rule -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "100.64.0.1",
        "100.100.100.200",
        "127.0.0.1",
        "10.0.0.1",
        "172.16.0.1",
        "192.168.0.1",
        "169.254.169.254",
        "0.0.0.0",
        "198.18.0.1",  # benchmarking
        "192.0.2.1",  # documentation
        "224.0.1.1",  # multicast (Python calls some of it global)
        "255.255.255.255",
        "::1",
        "::",
        "::7f00:1",  # IPv4-compatible (deprecated) 127.0.0.1
        "::ffff:127.0.0.1",
        "::ffff:7f00:1",
        "::ffff:10.0.0.1",
        "2002:7f00:1::",
        "2002:a9fe:a9fe::",
        "2002:6440:1::",  # 6to4 of 100.64.0.1
        "64:ff9b::7f00:1",
        "64:ff9b::a9fe:a9fe",
        "64:ff9b:1::5db8:d70e",  # local-use NAT64 prefix (RFC 8215)
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
        "fe80::1",
        "fe80::1%eth0",
        "fc00::1",
        "fec0::1",  # site-local (deprecated)
        "ff0e::1",  # multicast
        "2001:db8::1",  # documentation
        "not an address",
    ],
)
def test_it_refuses_every_address_that_is_not_globally_reachable(address):
    assert not address_allowed(address)


@pytest.mark.parametrize(
    "address",
    [
        "93.184.215.14",
        "1.1.1.1",
        "2606:4700::1111",
        "::ffff:93.184.215.14",  # IPv4-mapped public address
        "2002:5db8:d70e::1",  # 6to4 of a public address
        "64:ff9b::5db8:d70e",  # NAT64 of a public address (IPv6-only hosts with DNS64)
    ],
)
def test_it_allows_public_addresses(address):
    assert address_allowed(address)


@pytest.mark.parametrize("host", ["2130706433", "0177.0.0.1", "0x7f000001", "0x7f.1", "127.1"])
def test_the_address_check_reads_every_numeric_spelling_as_the_address_it_is(host):
    """These are not valid URLs anyway; were one to get through, the address check sees the
    address the resolver makes of it."""
    with pytest.raises(ValidationError, match="resolves to 127.0.0.1"):
        check_host_addresses(host, 443)


# --- Saved: staff, API, anonymous /subscribe/ -------------------------------------------------


@pytest.mark.parametrize("url", INTERNAL)
def test_it_refuses_an_internal_webhook_channel_from_staff_and_writes_nothing(
    production, actor, url
):
    with pytest.raises(ValidationError) as refused:
        services.channel_create(kind="webhook", name="x", url=url, actor=actor)
    assert "url" in refused.value.message_dict
    assert not Channel.objects.exists()


@pytest.mark.parametrize("url", INTERNAL)
def test_it_refuses_an_internal_webhook_from_anonymous_subscribe(
    production, client, django_capture_on_commit_callbacks, url
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/subscribe/",
            {"kind": "webhook", "email": "ops@example.com", "url": url, "scope": "all"},
        )
    assert response.status_code == 400
    assert not Subscriber.objects.exists()
    assert mail.outbox == []


@pytest.mark.parametrize(
    "url", ["https://100.100.100.200/latest/meta-data", "https://[2002:a9fe:a9fe::]/hook"]
)
def test_it_refuses_an_internal_target_in_the_console(production, admin_client, url):
    page = admin_client.post(
        "/console/notifications/channels/new/",
        {"kind": "webhook", "name": "ops", "url": url, "scope": "all", "enabled": "on"},
    )
    assert page.status_code == 200 and "not a public address" in page.content.decode()
    assert not Channel.objects.exists()


@pytest.fixture
def admin_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("boss", "boss@example.com", "pw-boss-12345")
    client.force_login(user)
    return client


# --- Ports and vendor hosts -------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://93.184.215.14:8443/hook",
        "https://93.184.215.14:22/hook",
        "https://93.184.215.14:6379/hook",
    ],
)
def test_it_refuses_webhooks_on_other_ports_unless_an_administrator_allows_them(
    production, settings, url
):
    with pytest.raises(ValidationError, match="HELIOGRAPH_ALLOWED_TARGET_PORTS"):
        check_target(url, kind="webhook")
    settings.HELIOGRAPH_ALLOWED_TARGET_PORTS = [8443, 22, 6379]
    assert check_target(url, kind="webhook") == url


def test_it_allows_webhooks_on_ports_80_and_443(production):
    for url in ("https://93.184.215.14:443/h", "https://93.184.215.14:80/h"):
        assert check_target(url, kind="webhook") == url


SLACK = "https://hooks.slack.com/services/T0/B0/abc"
DISCORD = f"https://discord.com/api/webhooks/{DISCORD_ID}/{DISCORD_TOKEN}"


@pytest.mark.parametrize(
    "kind, url",
    [
        ("slack", "https://hooks.slack.com:8443/services/T0/B0/abc"),
        ("slack", "https://hooks.slack.com:80/services/T0/B0/abc"),
        ("slack", "http://hooks.slack.com/services/T0/B0/abc"),
        ("slack", "https://hooks.slack.com.evil.example/services/T0/B0/abc"),
        ("slack", "https://user@hooks.slack.com/services/T0/B0/abc"),
        ("slack", "https://evil.example\\@hooks.slack.com/services/T0/B0/abc"),
        ("slack", "https://127.0.0.1/services/T0/B0/abc"),
        ("discord", f"https://discord.com:8443/api/webhooks/{DISCORD_ID}/{DISCORD_TOKEN}"),
        ("discord", f"http://discord.com/api/webhooks/{DISCORD_ID}/{DISCORD_TOKEN}"),
        ("discord", f"https://169.254.169.254/api/webhooks/{DISCORD_ID}/{DISCORD_TOKEN}"),
    ],
)
def test_it_refuses_slack_and_discord_urls_off_their_hosts_or_default_port(
    production, settings, kind, url
):
    settings.HELIOGRAPH_ALLOWED_TARGET_PORTS = [80, 8443]  # never for Slack or Discord
    with pytest.raises(ValidationError):
        check_target(url, kind=kind)


def test_it_accepts_slack_and_discord_urls_on_their_hosts(production):
    assert check_target(SLACK, kind="slack") == SLACK
    assert check_target(SLACK.replace(".com/", ".com:443/"), kind="slack")
    assert check_target(DISCORD, kind="discord") == DISCORD
    assert check_target(DISCORD.replace("discord.com", "discordapp.com"), kind="discord")


def test_the_escape_hatch_lifts_the_rules_for_loopback_sinks(settings):
    settings.HELIOGRAPH_ALLOW_PRIVATE_TARGETS = True
    assert check_target("http://127.0.0.1:8080/hook", kind="webhook")
    assert check_target("http://127.0.0.1:8080/services/T0/B0/x", kind="slack")
    assert check_target(
        f"http://localhost:9/api/webhooks/{DISCORD_ID}/{DISCORD_TOKEN}", kind="discord"
    )
    with pytest.raises(ValidationError, match="not a valid URL"):
        check_target("file:///etc/passwd", kind="webhook")


# --- Checked again at send time, and on every connection --------------------------------------


def _saved_on_loopback(settings, sink, actor):
    """Channels saved while the escape hatch was on (or DNS said something else)."""
    settings.HELIOGRAPH_ALLOW_PRIVATE_TARGETS = True
    settings.HELIOGRAPH_SLACK_API_URL = f"{sink.url}/api/"
    settings.HELIOGRAPH_DISCORD_API_URL = f"{sink.url}/api/v10"
    channels = [
        webhook_channel(sink, actor),
        slack_channel(sink, actor),
        slack_bot_channel(sink, actor),
        discord_channel(sink, actor),
    ]
    settings.HELIOGRAPH_ALLOW_PRIVATE_TARGETS = False
    return channels


def test_every_transport_checks_its_target_again_at_send_time(settings, sink, actor):
    for channel in _saved_on_loopback(settings, sink, actor):
        with pytest.raises(TransportError) as refused:
            services.channel_send_test(channel=channel, actor=actor)
        assert refused.value.permanent, channel.kind
        channel.refresh_from_db()
        assert channel.last_error == refused.value.message
    assert sink.received == []


def test_a_host_resolving_to_loopback_at_send_time_marks_the_channel_broken(
    settings, sink, actor, catalogue, django_capture_on_commit_callbacks, eager
):
    """Saved when its name still resolved to a public address (here: under the escape
    hatch), it resolves to loopback when sent: refused, dead, the channel broken."""
    port = int(sink.url.rsplit(":", 1)[1])
    settings.HELIOGRAPH_ALLOW_PRIVATE_TARGETS = True
    channel = services.channel_create(
        kind="webhook", name="x", url=f"https://localhost:{port}/hook", actor=actor
    )
    settings.HELIOGRAPH_ALLOW_PRIVATE_TARGETS = False
    settings.HELIOGRAPH_ALLOWED_TARGET_PORTS = [port]
    with django_capture_on_commit_callbacks(execute=True):
        incidents.incident_declare(name="x", body="y", actor=actor)
    assert Delivery.objects.get(channel=channel).status == DeliveryStatus.DEAD
    channel.refresh_from_db()
    assert channel.broken_at is not None
    assert "“localhost” resolves to 127.0.0.1, which is not a public address" in (
        channel.last_error
    )
    assert sink.received == []


@pytest.mark.parametrize("host", ["localhost", "2130706433", "0177.0.0.1", "0x7f000001", "0x7f.1"])
def test_every_connection_is_checked_whatever_the_url_check_said(production, sink, host):
    """The connection itself refuses an internal address (a DNS answer that changed between
    the check and the connection, DNS rebinding): requests and urllib alike."""
    port = sink.url.rsplit(":", 1)[1]
    url = f"http://{host}:{port}/hook"
    with pytest.raises(requests.ConnectionError) as refused:
        outgoing.session().post(url, data=b"{}", timeout=5)
    assert isinstance(outgoing.refusal_in(refused.value), outgoing.TargetRefused)
    with pytest.raises(URLError) as refused:
        outgoing.opener().open(urllib.request.Request(url, data=b"{}"), timeout=5)
    assert isinstance(outgoing.refusal_in(refused.value), outgoing.TargetRefused)
    assert sink.received == []


@pytest.fixture
def tls_sink():
    """An HTTPS sink at https://localhost:…, its certificate signed by a throwaway CA."""
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    server = ChatSink(tls=server_context)
    with ca.cert_pem.tempfile() as ca_file:
        yield server, client_context, ca_file
    server.close()


def test_checked_connections_speak_tls_to_the_name_in_the_url(settings, tls_sink):
    """Production sends over https: the checked connection still verifies the certificate
    of the URL's name (SNI, hostname check), through requests and through urllib."""
    sink, client_context, ca_file = tls_sink
    settings.HELIOGRAPH_ALLOW_PRIVATE_TARGETS = True
    response = outgoing.session().post(f"{sink.url}/hook", data=b"{}", verify=ca_file, timeout=5)
    assert response.status_code == 200
    request = urllib.request.Request(f"{sink.url}/services/T0/B0/x", data=b"{}")
    with outgoing.opener(client_context).open(request, timeout=5) as answer:
        assert answer.status == 200 and answer.read() == b"ok"
    assert [r.path for r in sink.received] == ["/hook", "/services/T0/B0/x"]
    # A certificate for another name is refused.
    wrong = sink.url.replace("localhost", "127.0.0.1")
    with pytest.raises(requests.exceptions.SSLError):
        outgoing.session().post(f"{wrong}/hook", data=b"{}", verify=ca_file, timeout=5)


# --- No redirects -----------------------------------------------------------------------------

SECRET = "INTERNAL-METADATA-SECRET"


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("medium", ["webhook", "slack", "slack_bot", "discord"])
def test_no_transport_follows_a_redirect(loopback, sink, actor, medium, status):
    make, prefix = {
        "webhook": (webhook_channel, "/hook/1"),
        "slack": (slack_channel, "/services/"),
        "slack_bot": (slack_bot_channel, "/api/chat.postMessage"),
        "discord": (discord_channel, "/api/v10/webhooks/"),
    }[medium]
    channel = make(sink, actor)
    sink.script("/internal/", Answer(200, SECRET))
    sink.script(prefix, Answer(status, "moved", headers={"Location": f"{sink.url}/internal/x"}))

    with pytest.raises(TransportError) as refused:
        services.channel_send_test(channel=channel, actor=actor)

    assert sink.requests_to("/internal/") == []
    assert refused.value.permanent and refused.value.status_code == status
    assert "does not follow redirects" in refused.value.message
    channel.refresh_from_db()
    assert SECRET not in channel.last_error and "/internal/" not in channel.last_error


def test_a_redirecting_webhook_subscriber_is_marked_broken_and_never_followed(
    loopback, sink, catalogue, actor, django_capture_on_commit_callbacks, eager
):
    subscriber = services.subscriber_add_confirmed(
        email="ops@example.com", kind="webhook", url=f"{sink.url}/receiver", actor=actor
    )
    sink.script("/receiver", Answer(302, "", headers={"Location": f"{sink.url}/internal/x"}))
    with django_capture_on_commit_callbacks(execute=True):
        incidents.incident_declare(name="x", body="y", actor=actor)
    assert Delivery.objects.get(subscriber=subscriber).status == DeliveryStatus.DEAD
    subscriber.refresh_from_db()
    assert subscriber.broken_at is not None
    assert sink.requests_to("/internal/") == []


def test_a_discord_message_goes_through_the_checked_session(loopback, sink, actor):
    """The Discord transport still sends (the session discord.py gets is ours)."""
    channel = discord_channel(sink, actor)
    result = transport_for(channel).send(notice_for_test("x"))
    assert result.status_code == 200
    assert len(sink.requests_to(f"/api/v10/webhooks/{DISCORD_ID}/")) == 1
