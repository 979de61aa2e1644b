"""Public subscription flows: double opt-in, signed links, one-click unsubscribe, abuse."""

from __future__ import annotations

import json
import re
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.core import mail, signing
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from incidents import services as incidents
from notifier import services
from notifier.models import Delivery, DeliveryStatus, Scope, Subscriber
from notifier.tokens import make_token, manage_url, request_stamp, unsubscribe_url

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager")]


def link_in(message, path: str) -> str:
    match = re.search(rf"http://testserver(/{path}[^\s\"<>]+)", message.body)
    assert match, message.body
    return match.group(1)


def subscribe(client, capture, **data):
    with capture(execute=True):
        return client.post("/subscribe/", {"kind": "email", "scope": "all", **data})


def test_double_opt_in_confirms_with_a_signed_link(
    client, django_capture_on_commit_callbacks, catalogue
):
    response = subscribe(client, django_capture_on_commit_callbacks, email="Ada@Example.com")
    assert response.status_code == 200
    assert b"Check your inbox" in response.content
    subscriber = Subscriber.objects.get()
    assert subscriber.email == "ada@example.com" and subscriber.confirmed_at is None
    (message,) = mail.outbox
    assert message.to == ["ada@example.com"]
    assert "Confirm" in message.subject
    # Unconfirmed: an incident reaches nobody.
    incidents.incident_declare(name="x", body="y", actor=services.SYSTEM)
    assert Delivery.objects.count() == 0

    response = client.get(link_in(message, "subscribe/confirm/"))
    assert response.status_code == 200 and b"Subscription confirmed" in response.content
    subscriber.refresh_from_db()
    assert subscriber.confirmed_at is not None
    incidents.incident_declare(name="x2", body="y", actor=services.SYSTEM)
    assert Delivery.objects.filter(subscriber=subscriber).count() == 1


def signed_at(payload, seconds_ago: int, purpose: str = "confirm") -> str:
    """A token as make_token would have made it `seconds_ago` (the payload of a confirmation
    token names the subscriber and its request)."""
    signer = signing.TimestampSigner(salt=f"notifier.subscriber.{purpose}")
    data = signing.b64_encode(json.dumps(payload, separators=(",", ":")).encode()).decode()
    value = f"{data}:{signing.b62_encode(int(time.time()) - seconds_ago)}"
    return f"{value}:{signer.signature(value)}"


def request_of(subscriber: Subscriber) -> list:
    return [subscriber.public_id, request_stamp(subscriber.requested_at)]


def test_confirmation_links_expire_after_24_hours(client, catalogue):
    subscriber = Subscriber.objects.create(kind="email", email="ada@example.com")
    response = client.get(f"/subscribe/confirm/{signed_at(request_of(subscriber), 25 * 3600)}/")
    assert response.status_code == 404 and b"expired" in response.content
    subscriber.refresh_from_db()
    assert subscriber.confirmed_at is None
    response = client.get(f"/subscribe/confirm/{signed_at(request_of(subscriber), 23 * 3600)}/")
    assert response.status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.confirmed_at is not None


def test_forged_and_cross_purpose_links_are_refused(client, catalogue):
    subscriber = Subscriber.objects.create(
        kind="email", email="ada@example.com", confirmed_at=timezone.now()
    )
    manage = make_token("manage", subscriber.public_id)
    assert client.get(f"/subscribe/confirm/{manage}/").status_code == 404
    assert client.post(f"/subscriptions/{manage}/unsubscribe/").status_code == 404
    assert client.get(f"/subscriptions/{subscriber.public_id}/").status_code == 404
    subscriber.refresh_from_db()
    assert subscriber.unsubscribed_at is None


def test_the_answer_is_the_same_for_known_and_unknown_addresses(
    client, django_capture_on_commit_callbacks, catalogue
):
    Subscriber.objects.create(kind="email", email="known@example.com", confirmed_at=timezone.now())
    known = subscribe(client, django_capture_on_commit_callbacks, email="known@example.com")
    unknown = subscribe(client, django_capture_on_commit_callbacks, email="new@example.com")
    assert known.status_code == unknown.status_code == 200
    assert known.content == unknown.content
    already, confirm = mail.outbox
    assert "already subscribed" in already.subject and "/subscriptions/" in already.body
    assert "Confirm" in confirm.subject
    # A stranger cannot change a confirmed subscriber's preferences.
    subscribe(
        client,
        django_capture_on_commit_callbacks,
        email="known@example.com",
        scope="regions",
        regions=[catalogue["eu"].pk],
    )
    assert Subscriber.objects.get(email="known@example.com").scope == Scope.ALL


def test_unconfirmed_subscriptions_expire(catalogue):
    old = Subscriber.objects.create(
        kind="email", email="old@example.com", requested_at=timezone.now() - timedelta(hours=25)
    )
    fresh = Subscriber.objects.create(kind="email", email="fresh@example.com")
    confirmed = Subscriber.objects.create(
        kind="email",
        email="yes@example.com",
        confirmed_at=timezone.now(),
        requested_at=timezone.now() - timedelta(days=30),
    )
    assert services.subscribers_expire_unconfirmed() == 1
    assert set(Subscriber.objects.values_list("pk", flat=True)) == {fresh.pk, confirmed.pk}
    assert not Subscriber.objects.filter(pk=old.pk).exists()


def test_manage_link_changes_preferences_without_login(client, catalogue):
    subscriber = Subscriber.objects.create(
        kind="email", email="ada@example.com", confirmed_at=timezone.now()
    )
    url = f"/subscriptions/{make_token('manage', subscriber.public_id)}/"
    page = client.get(url)
    assert page.status_code == 200 and b"ada@example.com" in page.content
    response = client.post(
        url,
        {"scope": "components", "components": [catalogue["runs_eu"].pk], "component_changes": "on"},
    )
    assert response.status_code == 302
    subscriber.refresh_from_db()
    assert subscriber.scope == Scope.COMPONENTS and subscriber.component_changes
    assert list(subscriber.components.all()) == [catalogue["runs_eu"]]
    # Now an incident in us-east-1 does not reach them, one in eu-central-1 does.
    incidents.incident_declare(
        name="us",
        body="y",
        actor=services.SYSTEM,
        component_statuses={catalogue["runs_us"]: "major_outage"},
    )
    assert Delivery.objects.count() == 0
    incidents.incident_declare(
        name="eu",
        body="y",
        actor=services.SYSTEM,
        component_statuses={catalogue["runs_eu"]: "major_outage"},
    )
    assert Delivery.objects.filter(subscriber=subscriber).count() == 1
    # Choosing "components" with none chosen is refused and changes nothing.
    response = client.post(url, {"scope": "services"})
    assert response.status_code == 200 and b"Choose at least one" in response.content
    subscriber.refresh_from_db()
    assert subscriber.scope == Scope.COMPONENTS


def test_one_click_unsubscribe_works_without_cookies_and_stops_all_mail(
    django_capture_on_commit_callbacks, catalogue
):
    subscriber = Subscriber.objects.create(
        kind="email", email="ada@example.com", confirmed_at=timezone.now()
    )
    with django_capture_on_commit_callbacks(execute=True):
        incidents.incident_declare(name="first", body="y", actor=services.SYSTEM)
    (message,) = mail.outbox
    header = message.extra_headers["List-Unsubscribe"]
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    path = header.strip("<>").removeprefix("http://testserver")

    # A mail client: no cookies, no CSRF token, RFC 8058 body.
    mail_client = Client(enforce_csrf_checks=True)
    # GET (a link scanner) does not unsubscribe.
    assert mail_client.get(path).status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.unsubscribed_at is None
    response = mail_client.post(
        path, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.unsubscribed_at is not None

    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        incidents.incident_declare(name="second", body="y", actor=services.SYSTEM)
    assert mail.outbox == []
    assert not Delivery.objects.filter(status=DeliveryStatus.PENDING).exists()


def test_the_subscribe_form_is_rate_limited_per_address(
    client, django_capture_on_commit_callbacks, catalogue
):
    for n in range(5):
        response = subscribe(client, django_capture_on_commit_callbacks, email=f"u{n}@example.com")
        assert response.status_code == 200
    response = subscribe(client, django_capture_on_commit_callbacks, email="u6@example.com")
    assert response.status_code == 429
    assert response["Retry-After"] == "600"
    assert b"Too many subscription requests" in response.content
    assert not Subscriber.objects.filter(email="u6@example.com").exists()
    # Another address is not affected.
    other = Client(REMOTE_ADDR="203.0.113.9")
    with django_capture_on_commit_callbacks(execute=True):
        response = other.post(
            "/subscribe/", {"kind": "email", "scope": "all", "email": "x@example.com"}
        )
    assert response.status_code == 200


def test_the_honeypot_answers_like_success_and_does_nothing(
    client, django_capture_on_commit_callbacks, catalogue
):
    response = subscribe(
        client, django_capture_on_commit_callbacks, email="bot@example.com", website="http://spam"
    )
    assert response.status_code == 200 and b"Check your inbox" in response.content
    assert Subscriber.objects.count() == 0 and mail.outbox == []


def test_bad_input_is_refused_with_the_reason_and_writes_nothing(
    client, django_capture_on_commit_callbacks, catalogue
):
    response = subscribe(client, django_capture_on_commit_callbacks, email="not-an-address")
    assert response.status_code == 400 and b"is not a valid email address" in response.content
    response = subscribe(
        client,
        django_capture_on_commit_callbacks,
        email="ops@example.com",
        kind="webhook",
        url="https://127.0.0.1/hook",
    )
    assert response.status_code == 400 and b"loopback" in response.content
    response = subscribe(
        client,
        django_capture_on_commit_callbacks,
        email="ops@example.com",
        kind="webhook",
        url="http://example.com/hook",
    )
    assert response.status_code == 400 and b"must use https" in response.content
    response = subscribe(
        client, django_capture_on_commit_callbacks, email="a@example.com", scope="regions"
    )
    assert response.status_code == 400 and b"Choose at least one of the regions" in response.content
    assert Subscriber.objects.count() == 0 and mail.outbox == []


def test_webhook_subscription_confirms_by_email(
    client, django_capture_on_commit_callbacks, settings, catalogue
):
    settings.HELIOGRAPH_ALLOW_PRIVATE_TARGETS = True
    response = subscribe(
        client,
        django_capture_on_commit_callbacks,
        email="ops@example.com",
        kind="webhook",
        url="http://127.0.0.1:9/hook",
    )
    assert response.status_code == 200
    subscriber = Subscriber.objects.get()
    assert subscriber.kind == "webhook" and subscriber.url == "http://127.0.0.1:9/hook"
    (message,) = mail.outbox
    assert "http://127.0.0.1:9/hook" in message.body
    page = client.get(link_in(message, "subscribe/confirm/"))
    subscriber.refresh_from_db()
    assert subscriber.is_active
    # The manage page shows the secret the payloads are signed with.
    manage = re.search(r'href="(/subscriptions/[^"]+)"', page.content.decode()).group(1)
    assert subscriber.secret in client.get(manage).content.decode()


# --- Link lifetimes (issue 9, finding 10) -----------------------------------------------------


def unsubscribe_with(path: str) -> None:
    """What a mail client does with the one-click link: POST, no cookies, no CSRF token."""
    response = Client(enforce_csrf_checks=True).post(
        path, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200


def test_it_refuses_an_old_confirm_link_after_the_address_unsubscribed(
    client, django_capture_on_commit_callbacks, catalogue
):
    subscribe(client, django_capture_on_commit_callbacks, email="ada@example.com")
    (confirmation,) = mail.outbox
    first_link = link_in(confirmation, "subscribe/confirm/")
    assert client.get(first_link).status_code == 200
    subscriber = Subscriber.objects.get()
    unsubscribe_with(
        f"/subscriptions/{make_token('unsubscribe', subscriber.public_id)}/unsubscribe/"
    )

    # The confirmation email is still in the mailbox, its link not 24 hours old.
    response = client.get(first_link)
    assert response.status_code == 404
    subscriber.refresh_from_db()
    assert subscriber.unsubscribed_at is not None and not subscriber.is_active

    # Subscribing again is a new double opt-in: a new link, and only the new one works.
    mail.outbox.clear()
    subscribe(client, django_capture_on_commit_callbacks, email="ada@example.com")
    (again,) = mail.outbox
    assert "Confirm" in again.subject
    subscriber.refresh_from_db()
    assert not subscriber.is_active
    assert client.get(first_link).status_code == 404
    assert client.get(link_in(again, "subscribe/confirm/")).status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.is_active


def test_only_the_newest_confirmation_link_works(
    client, django_capture_on_commit_callbacks, catalogue
):
    subscribe(client, django_capture_on_commit_callbacks, email="ada@example.com")
    subscribe(client, django_capture_on_commit_callbacks, email="ada@example.com")
    older, newer = mail.outbox
    assert client.get(link_in(older, "subscribe/confirm/")).status_code == 404
    assert Subscriber.objects.get().confirmed_at is None
    assert client.get(link_in(newer, "subscribe/confirm/")).status_code == 200
    assert Subscriber.objects.get().is_active
    # Following the right link twice (a mail scanner, a double click) is harmless.
    assert client.get(link_in(newer, "subscribe/confirm/")).status_code == 200


def test_manage_links_expire_after_90_days(client, catalogue):
    subscriber = Subscriber.objects.create(
        kind="email", email="ada@example.com", confirmed_at=timezone.now()
    )
    old = client.get(f"/subscriptions/{signed_at(subscriber.public_id, 91 * 86400, 'manage')}/")
    assert old.status_code == 404 and b"90" in old.content
    response = client.post(
        f"/subscriptions/{signed_at(subscriber.public_id, 91 * 86400, 'manage')}/",
        {"scope": "regions", "regions": [catalogue["eu"].pk]},
    )
    assert response.status_code == 404
    subscriber.refresh_from_db()
    assert subscriber.scope == Scope.ALL
    recent = signed_at(subscriber.public_id, 89 * 86400, "manage")
    assert client.get(f"/subscriptions/{recent}/").status_code == 200


def test_every_email_carries_a_fresh_manage_link(django_capture_on_commit_callbacks, catalogue):
    subscriber = Subscriber.objects.create(
        kind="email", email="ada@example.com", confirmed_at=timezone.now()
    )
    with django_capture_on_commit_callbacks(execute=True):
        incidents.incident_declare(name="x", body="y", actor=services.SYSTEM)
    (message,) = mail.outbox
    token = link_in(message, "subscriptions/").split("/")[2]
    # Signed when the email was sent (within the last minute), not when they subscribed.
    signed = signing.loads(token, salt="notifier.subscriber.manage", max_age=60)
    assert signed == subscriber.public_id


def test_the_one_click_unsubscribe_link_of_an_old_email_still_works(catalogue):
    subscriber = Subscriber.objects.create(
        kind="email", email="ada@example.com", confirmed_at=timezone.now()
    )
    years_old = signed_at(subscriber.public_id, 3 * 365 * 86400, "unsubscribe")
    unsubscribe_with(f"/subscriptions/{years_old}/unsubscribe/")
    subscriber.refresh_from_db()
    assert subscriber.unsubscribed_at is not None


def test_signed_links_are_the_urls_reverse_would_build():
    """manage_url and unsubscribe_url put the token into a path reversed once per process."""
    for build, name in ((manage_url, "notifier:manage"), (unsubscribe_url, "notifier:unsubscribe")):
        url = build("a1b2c3")
        token = url.removeprefix(settings.SITE_URL).split("/")[2]
        assert url == settings.SITE_URL + reverse(name, args=[token])
        assert signing.loads(token, salt=f"notifier.subscriber.{name.split(':')[1]}") == "a1b2c3"
