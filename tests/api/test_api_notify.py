"""Subscribers, channels and deliveries through the API; and the issue's "done when" end to
end: a Statuspage v1 client declares and resolves, subscribers and channels are notified."""

from __future__ import annotations

import time

import pytest
import statuspageio
from api_helpers import HookSink
from django.conf import settings as django_settings

from incidents.models import IncidentUpdate
from notifier.models import Channel, Delivery, Subscriber
from statuspage.conf.celery import app as celery_app
from statuspage.models import AuditEntry


@pytest.fixture
def hook(settings):
    settings.HELIOGRAPH_ALLOW_PRIVATE_TARGETS = True
    sink = HookSink()
    yield sink
    sink.close()


@pytest.fixture
def eager():
    conf = celery_app.conf
    old = conf.task_always_eager, conf.task_eager_propagates
    conf.task_always_eager, conf.task_eager_propagates = True, True
    yield
    conf.task_always_eager, conf.task_eager_propagates = old


def test_subscriber_added_confirmed_and_listed(api, catalogue):
    runs_us = catalogue["runs_us"].public_id
    response = api(
        "POST",
        "subscribers.json",
        json_body={
            "subscriber": {
                "email": "Ops@Example.com",
                "component_ids": [runs_us],
                "skip_confirmation_notification": True,
            }
        },
    )
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["email"] == "ops@example.com" and data["mode"] == "email"
    assert data["state"] == "active" and data["components"] == [runs_us]
    assert data["scope"] == "components"
    listed = api("GET", "subscribers").json()
    assert [s["id"] for s in listed] == [data["id"]]
    assert AuditEntry.objects.filter(
        action="subscriber.add_confirmed", actor_name="api:deploy-bot"
    ).exists()


def test_subscriber_double_opt_in_form_encoded(api, catalogue, mailoutbox):
    response = api(
        "POST",
        "subscribers",
        form={"subscriber[email]": "new@example.com"},
    )
    assert response.status_code == 201, response.content
    assert response.json()["state"] == "unconfirmed"
    assert api("GET", "subscribers").json() == []  # only active ones by default
    assert len(api("GET", "subscribers?state=unconfirmed").json()) == 1
    assert AuditEntry.objects.filter(
        action="subscriber.subscribe", actor_name="api:deploy-bot"
    ).exists()


def test_subscriber_bad_input(api, catalogue):
    bad = api("POST", "subscribers", json_body={"subscriber": {"email": "not-an-email"}})
    assert bad.status_code == 422 and bad.json()["message"].startswith("email:")
    missing = api("POST", "subscribers", json_body={"subscriber": {}})
    assert missing.status_code == 422 and missing.json()["message"].startswith("email:")
    unknown = api(
        "POST",
        "subscribers",
        json_body={"subscriber": {"email": "a@example.com", "component_ids": ["nope"]}},
    )
    assert unknown.status_code == 422
    assert unknown.json()["message"].startswith("component_ids:")
    assert not Subscriber.objects.exists()


def test_subscriber_patch_and_unsubscribe(api, catalogue):
    sub = api(
        "POST",
        "subscribers",
        json_body={
            "subscriber": {"email": "a@example.com", "skip_confirmation_notification": "true"}
        },
    ).json()
    patched = api(
        "PATCH",
        f"subscribers/{sub['id']}",
        json_body={"subscriber": {"region_ids": ["eu-central-1"]}},
    ).json()
    assert patched["scope"] == "regions" and patched["regions"] == ["eu-central-1"]
    assert api("DELETE", f"subscribers/{sub['id']}.json").status_code == 204
    assert api("GET", f"subscribers/{sub['id']}").json()["state"] == "unsubscribed"
    actions = set(
        AuditEntry.objects.filter(actor_name="api:deploy-bot").values_list("action", flat=True)
    )
    assert {"subscriber.add_confirmed", "subscriber.update", "subscriber.unsubscribe"} <= actions
    assert api("GET", "subscribers/nope").status_code == 404


def test_subscribers_scope_is_needed(api_as, catalogue):
    incidents_only = api_as("ic", ["read", "incidents"])
    response = incidents_only(
        "POST", "subscribers", json_body={"subscriber": {"email": "a@example.com"}}
    )
    assert response.status_code == 403


def test_channels_create_test_and_health(api, catalogue, hook):
    response = api(
        "POST",
        "channels",
        json_body={"channel": {"kind": "webhook", "name": "Ops hook", "url": f"{hook.url}/h"}},
    )
    assert response.status_code == 201, response.content
    channel = response.json()
    assert channel["url"] == f"{hook.url}/…"  # the path (a secret for Slack/Discord) is hidden
    tested = api("POST", f"channels/{channel['id']}/test")
    assert tested.status_code == 200, tested.content
    assert tested.json()["channel"]["last_success_at"] and tested.json()["channel"]["healthy"]
    assert len(hook.received) == 1
    hook.status = 500
    failed = api("POST", f"channels/{channel['id']}/test")
    assert failed.status_code == 502
    assert "test message failed" in failed.json()["message"]
    health = api("GET", "channels").json()[0]
    assert health["last_error"] and health["healthy"] is False
    renamed = api("PATCH", f"channels/{channel['id']}", form={"channel[name]": "Ops"})
    assert renamed.json()["name"] == "Ops" and renamed.json()["scope"] == "all"
    assert api("DELETE", f"channels/{channel['id']}").status_code == 204
    assert not Channel.objects.exists()


def test_channel_bad_input(api, catalogue):
    response = api(
        "POST", "channels", json_body={"channel": {"kind": "pigeon", "name": "x", "url": "x"}}
    )
    assert response.status_code == 422 and "kind" in response.json()["errors"]
    private = api(
        "POST",
        "channels",
        json_body={"channel": {"kind": "webhook", "name": "x", "url": "http://10.0.0.1/h"}},
    )
    assert private.status_code == 422 and "url" in private.json()["errors"]
    assert not Channel.objects.exists()


def test_deliveries_of_an_incident(api, catalogue, hook):
    api(
        "POST",
        "subscribers",
        json_body={
            "subscriber": {"email": "a@example.com", "skip_confirmation_notification": True}
        },
    )
    api(
        "POST",
        "channels",
        json_body={"channel": {"kind": "webhook", "name": "Ops", "url": f"{hook.url}/h"}},
    )
    incident = api(
        "POST", "incidents", json_body={"incident": {"name": "Outage", "body": "Looking."}}
    ).json()
    api("PATCH", f"incidents/{incident['id']}", json_body={"incident": {"status": "resolved"}})
    Delivery.objects.filter(channel__isnull=False).update(
        status="failed", attempts=2, last_error="HTTP 500"
    )
    data = api("GET", f"incidents/{incident['id']}/deliveries").json()
    first, second = data["incident_updates"]
    assert (first["status"], second["status"]) == ("investigating", "resolved")
    assert first["total"] == 2
    assert first["by_status"] == {"pending": 1, "failed": 1}
    assert first["by_medium"] == {"email": 1, "webhook": 1}
    [failure] = first["failures"]
    assert failure["recipient"]["name"] == "Ops" and failure["last_error"] == "HTTP 500"


def test_v1_client_flow_notifies_subscribers_and_channels(
    transactional_db, live_server, token, catalogue, hook, eager, mailoutbox
):
    """The issue's "done when": an existing v1 script, base URL and key changed, declares,
    updates and resolves — and the webhook channel and the subscriber hear every update."""
    client = statuspageio.Client(
        api_key=token, page_id=django_settings.PAGE_ID, base_url=live_server.url
    )
    import requests

    headers = {"Authorization": f"OAuth {token}"}
    base = f"{live_server.url}/v1/pages/{django_settings.PAGE_ID}"
    requests.post(
        f"{base}/subscribers.json",
        json={
            "subscriber": {
                "endpoint": f"{hook.url}/subscriber",
                "email": "ops@example.com",
                "skip_confirmation_notification": True,
            }
        },
        headers=headers,
        timeout=10,
    ).raise_for_status()
    requests.post(
        f"{base}/channels.json",
        json={"channel": {"kind": "webhook", "name": "Support", "url": f"{hook.url}/channel"}},
        headers=headers,
        timeout=10,
    ).raise_for_status()
    incident = client.incidents.create(
        name="Runs not starting", status="investigating", body="Investigating."
    )
    client.incidents.update(incident.id, status="identified", body="Found it.")
    client.incidents.update(incident.id, status="resolved", body="Fixed.")
    deadline = time.monotonic() + 10
    while len(hook.received) < 6 and time.monotonic() < deadline:
        time.sleep(0.05)
    by_path: dict[str, list[str]] = {}
    for item in hook.received:
        by_path.setdefault(item["path"], []).append(item["json"]["incident"]["status"])
    assert by_path == {
        "/subscriber": ["investigating", "identified", "resolved"],
        "/channel": ["investigating", "identified", "resolved"],
    }
    assert IncidentUpdate.objects.count() == 3
    assert set(Delivery.objects.values_list("status", flat=True)) == {"sent"}


def test_a_private_endpoint_is_refused_naming_endpoint(api_as, catalogue, settings):
    settings.HELIOGRAPH_ALLOW_PRIVATE_TARGETS = False
    admin = api_as("subs", ["subscribers"])
    for skip in (True, False):
        response = admin(
            "POST",
            "subscribers",
            json_body={
                "subscriber": {
                    "email": "ops@example.com",
                    "endpoint": "https://127.0.0.1/hook",
                    "skip_confirmation_notification": skip,
                }
            },
        )
        assert response.status_code == 422, response.content
        assert response.json()["message"].startswith("endpoint:")


def test_it_honours_enabled_false_when_a_channel_is_created(api, catalogue, hook):
    """Finding 9 of issue 9: `"enabled": false` was ignored and the channel sent at once."""
    paused = api(
        "POST",
        "channels",
        json_body={
            "channel": {
                "kind": "webhook",
                "name": "Paused",
                "url": f"{hook.url}/p",
                "enabled": False,
            }
        },
    )
    assert paused.status_code == 201, paused.content
    assert paused.json()["enabled"] is False
    form = api(
        "POST",
        "channels",
        form={
            "channel[kind]": "webhook",
            "channel[name]": "Form",
            "channel[url]": f"{hook.url}/f",
            "channel[enabled]": "false",
        },
    )
    assert form.status_code == 201 and form.json()["enabled"] is False
    default = api(
        "POST",
        "channels",
        json_body={"channel": {"kind": "webhook", "name": "On", "url": f"{hook.url}/o"}},
    )
    assert default.json()["enabled"] is True
    assert dict(Channel.objects.values_list("name", "enabled")) == {
        "Paused": False,
        "Form": False,
        "On": True,
    }
    declared = api(
        "POST", "incidents", json_body={"incident": {"name": "x", "status": "investigating"}}
    )
    assert declared.status_code == 201, declared.content
    assert set(Delivery.objects.values_list("channel__name", flat=True)) == {"On"}


def test_it_refuses_internal_targets_that_v01_took_for_public(api_as, catalogue, settings):
    """Finding 3 of issue 9: carrier-grade NAT, a metadata service and 6to4 of loopback and
    link-local passed as public addresses (the rule: docs/security.md)."""
    settings.HELIOGRAPH_ALLOW_PRIVATE_TARGETS = False
    admin = api_as("subs", ["subscribers"])
    for url in (
        "https://100.64.0.1/hook",
        "https://100.100.100.200/latest/meta-data",
        "https://[2002:7f00:1::]/hook",
        "https://[2002:a9fe:a9fe::]/hook",
    ):
        channel = admin(
            "POST", "channels", json_body={"channel": {"kind": "webhook", "name": "x", "url": url}}
        )
        assert channel.status_code == 422 and "url" in channel.json()["errors"], url
        subscriber = admin(
            "POST",
            "subscribers",
            json_body={"subscriber": {"email": "ops@example.com", "endpoint": url}},
        )
        assert subscriber.status_code == 422 and "endpoint" in subscriber.json()["message"], url
    slack = admin(
        "POST",
        "channels",
        json_body={
            "channel": {
                "kind": "slack",
                "name": "x",
                "url": "https://hooks.slack.com:8443/services/T0/B0/x",
            }
        },
    )
    assert slack.status_code == 422
    assert not Channel.objects.exists() and not Subscriber.objects.exists()
