"""The admin is a second door to the notifier's write path, never a second write path: its
channel and subscriber forms save through `notifier.services`, so a URL the services refuse
(a loopback or link-local address: server-side request forgery) is refused in the admin too,
with the service's message on the form, and every save is audited as the console audits it."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError

from incidents import services as incidents
from notifier import services
from notifier.models import Channel, Delivery, Subscriber
from statuspage.models import AuditEntry
from statuspage.services import Actor

pytestmark = pytest.mark.django_db

SLACK_URL = "https://hooks.slack.com/services/T0/B0/x"


@pytest.fixture
def no_private_targets(settings):
    """The production setting: loopback and link-local targets are refused."""
    settings.HELIOGRAPH_ALLOW_PRIVATE_TARGETS = False


def _channel_post(**fields) -> dict:
    data = {
        "kind": "slack",
        "name": "ops",
        "url": "",
        "token": "",
        "target": "",
        # A browser posts the prefilled secret of the old add form; the admin now shows it
        # read-only (the service makes it), so the value is ignored.
        "secret": "0" * 64,
        "enabled": "on",
        "scope": "all",
        "_save": "Save",
    }
    data.update(fields)
    return data


def _subscriber_post(**fields) -> dict:
    data = {"kind": "webhook", "email": "ops@example.com", "url": "", "scope": "all"}
    data.update(fields)
    return data


def _service_error(create, **kwargs) -> dict[str, list[str]]:
    """What the service itself says about this input (and that it saved nothing)."""
    with pytest.raises(ValidationError) as refused:
        create(actor=Actor.system("probe"), **kwargs)
    return refused.value.message_dict


def _form_errors(response) -> dict[str, list[str]]:
    assert response.status_code == 200, "the admin should show the form again, not redirect"
    return response.context["adminform"].form.errors


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:9/services/T0/B0/x", "http://169.254.169.254/latest/meta-data/"],
)
def test_it_refuses_a_slack_channel_on_a_private_address_in_the_admin(
    admin_client, no_private_targets, url
):
    expected = _service_error(services.channel_create, kind="slack", name="ops", url=url)

    response = admin_client.post("/admin/notifier/channel/add/", _channel_post(url=url))

    assert _form_errors(response)["url"] == expected["url"]
    assert Channel.objects.count() == 0
    assert AuditEntry.objects.count() == 0


@pytest.mark.parametrize(
    "url", ["https://127.0.0.1:9/hook", "https://169.254.169.254/latest/meta-data/"]
)
def test_it_refuses_a_webhook_channel_on_a_private_address_in_the_admin(
    admin_client, no_private_targets, url
):
    expected = _service_error(services.channel_create, kind="webhook", name="hook", url=url)

    response = admin_client.post(
        "/admin/notifier/channel/add/", _channel_post(kind="webhook", name="hook", url=url)
    )

    assert _form_errors(response)["url"] == expected["url"]
    assert Channel.objects.count() == 0
    assert AuditEntry.objects.count() == 0


def test_it_refuses_to_point_an_existing_channel_at_a_private_address_in_the_admin(
    admin_client, no_private_targets, actor
):
    channel = services.channel_create(kind="slack", name="ops", url=SLACK_URL, actor=actor)
    before = AuditEntry.objects.count()
    url = "http://169.254.169.254/latest/meta-data/"
    expected = _service_error(services.channel_update, channel=channel, name="ops", url=url)

    response = admin_client.post(
        f"/admin/notifier/channel/{channel.pk}/change/", _channel_post(url=url)
    )

    assert _form_errors(response)["url"] == expected["url"]
    channel.refresh_from_db()
    assert channel.url == SLACK_URL
    assert AuditEntry.objects.count() == before


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "https://127.0.0.1:9/hook",
        "https://169.254.169.254/latest/meta-data/",
    ],
)
def test_it_refuses_a_webhook_subscriber_on_a_private_address_in_the_admin(
    admin_client, no_private_targets, url
):
    expected = _service_error(
        services.subscriber_add_confirmed, kind="webhook", email="ops@example.com", url=url
    )

    response = admin_client.post("/admin/notifier/subscriber/add/", _subscriber_post(url=url))

    assert _form_errors(response)["url"] == expected["url"]
    assert Subscriber.objects.count() == 0
    assert AuditEntry.objects.count() == 0


def _audit(entry: AuditEntry) -> tuple:
    return (entry.user_id, entry.actor_name, entry.action, entry.object_type, entry.summary)


def test_an_admin_save_of_a_channel_is_audited_like_the_console(admin_client, no_private_targets):
    """Create, change and delete a channel once from the console and once from the admin:
    each door writes the same single audit entry for the same change."""
    console = admin_client.post(
        "/console/notifications/channels/new/",
        {"kind": "slack", "name": "ops", "url": SLACK_URL, "scope": "all"},
    )
    assert console.status_code == 302
    from_console = Channel.objects.get()
    (console_create,) = AuditEntry.objects.all()

    response = admin_client.post("/admin/notifier/channel/add/", _channel_post(url=SLACK_URL))
    assert response.status_code == 302
    from_admin = Channel.objects.exclude(pk=from_console.pk).get()
    (admin_create,) = AuditEntry.objects.exclude(pk=console_create.pk)
    assert _audit(admin_create) == _audit(console_create)
    assert admin_create.action == "channel.create"
    assert admin_create.object_id == str(from_admin.pk)
    assert (from_admin.kind, from_admin.name, from_admin.url, from_admin.scope) == (
        from_console.kind,
        from_console.name,
        from_console.url,
        from_console.scope,
    )

    seen = set(AuditEntry.objects.values_list("pk", flat=True))
    admin_client.post(
        f"/console/notifications/channels/{from_console.pk}/",
        {"kind": "slack", "name": "ops-renamed", "url": SLACK_URL, "scope": "all"},
    )
    (console_update,) = AuditEntry.objects.exclude(pk__in=seen)
    seen.add(console_update.pk)
    response = admin_client.post(
        f"/admin/notifier/channel/{from_admin.pk}/change/",
        _channel_post(name="ops-renamed", url=SLACK_URL, enabled=""),
    )
    assert response.status_code == 302
    (admin_update,) = AuditEntry.objects.exclude(pk__in=seen)
    seen.add(admin_update.pk)
    assert _audit(admin_update) == _audit(console_update)
    assert admin_update.action == "channel.update"
    from_admin.refresh_from_db()
    assert from_admin.name == "ops-renamed"

    admin_client.post(f"/console/notifications/channels/{from_console.pk}/delete/")
    (console_delete,) = AuditEntry.objects.exclude(pk__in=seen)
    seen.add(console_delete.pk)
    response = admin_client.post(
        f"/admin/notifier/channel/{from_admin.pk}/delete/", {"post": "yes"}
    )
    assert response.status_code == 302
    (admin_delete,) = AuditEntry.objects.exclude(pk__in=seen)
    assert _audit(admin_delete) == _audit(console_delete)
    assert admin_delete.action == "channel.delete"
    assert Channel.objects.count() == 0


def test_the_admin_bulk_delete_of_channels_is_audited_per_channel(admin_client, actor):
    first = services.channel_create(kind="slack", name="a", url=SLACK_URL, actor=actor)
    second = services.channel_create(kind="slack", name="b", url=SLACK_URL, actor=actor)

    response = admin_client.post(
        "/admin/notifier/channel/",
        {"action": "delete_selected", "_selected_action": [first.pk, second.pk], "post": "yes"},
    )

    assert response.status_code == 302
    assert Channel.objects.count() == 0
    deleted = AuditEntry.objects.filter(action="channel.delete")
    assert sorted(deleted.values_list("object_id", flat=True)) == sorted(
        [str(first.pk), str(second.pk)]
    )


def test_an_admin_subscriber_is_added_confirmed_and_audited(
    admin_client, admin_user, no_private_targets
):
    response = admin_client.post(
        "/admin/notifier/subscriber/add/",
        _subscriber_post(kind="email", email="Ada@Example.com"),
    )

    assert response.status_code == 302
    subscriber = Subscriber.objects.get()
    assert subscriber.email == "ada@example.com"  # normalised by the service
    assert subscriber.is_active
    (entry,) = AuditEntry.objects.all()
    assert (entry.user_id, entry.action, entry.object_id, entry.summary) == (
        admin_user.pk,
        "subscriber.add_confirmed",
        subscriber.public_id,
        "ada@example.com",
    )


def test_an_admin_change_of_a_subscriber_goes_through_the_preferences_service(
    admin_client, admin_user, catalogue, actor
):
    subscriber = services.subscriber_add_confirmed(email="ada@example.com", actor=actor)
    before = AuditEntry.objects.count()

    refused = admin_client.post(
        f"/admin/notifier/subscriber/{subscriber.pk}/change/", {"scope": "regions"}
    )
    assert _form_errors(refused)["scope"] == ["Choose at least one of the regions."]
    assert AuditEntry.objects.count() == before

    response = admin_client.post(
        f"/admin/notifier/subscriber/{subscriber.pk}/change/",
        {"scope": "regions", "regions": [catalogue["us"].pk], "component_changes": "on"},
    )

    assert response.status_code == 302
    subscriber.refresh_from_db()
    assert subscriber.scope == "regions" and subscriber.component_changes
    assert list(subscriber.regions.all()) == [catalogue["us"]]
    (entry,) = AuditEntry.objects.all()[: AuditEntry.objects.count() - before]
    assert (entry.user_id, entry.action, entry.object_id) == (
        admin_user.pk,
        "subscriber.update",
        subscriber.public_id,
    )


def test_admin_unsubscribe_and_delete_of_subscribers_are_audited(admin_client, actor):
    ada = services.subscriber_add_confirmed(email="ada@example.com", actor=actor)
    bob = services.subscriber_add_confirmed(email="bob@example.com", actor=actor)

    admin_client.post(
        "/admin/notifier/subscriber/",
        {"action": "unsubscribe", "_selected_action": [ada.pk]},
    )
    ada.refresh_from_db()
    assert ada.unsubscribed_at is not None
    assert AuditEntry.objects.filter(
        action="subscriber.unsubscribe", object_id=ada.public_id
    ).exists()

    response = admin_client.post(f"/admin/notifier/subscriber/{bob.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Subscriber.objects.filter(pk=bob.pk).exists()
    assert AuditEntry.objects.filter(action="subscriber.delete", object_id=bob.public_id).exists()


def test_staff_who_may_delete_channels_delete_one_with_its_deliveries_in_the_admin(
    client, staff_user, actor
):
    """As in the console, the channel's delete permission is enough: its deliveries go with
    it through channel_delete."""
    channel = services.channel_create(kind="slack", name="ops", url=SLACK_URL, actor=actor)
    incidents.incident_declare(name="Runs not starting", body="Looking.", actor=actor)
    assert Delivery.objects.filter(channel=channel).count() == 1
    staff_user.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_channel", "delete_channel"])
    )
    client.force_login(staff_user)

    response = client.post(f"/admin/notifier/channel/{channel.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not Channel.objects.exists() and not Delivery.objects.exists()
    assert AuditEntry.objects.filter(action="channel.delete", user=staff_user).count() == 1


def test_a_delivery_is_not_edited_in_the_admin(admin_client, actor):
    services.channel_create(kind="slack", name="ops", url=SLACK_URL, actor=actor)
    incidents.incident_declare(name="Runs not starting", body="Looking.", actor=actor)
    delivery = Delivery.objects.get()

    page = admin_client.get(f"/admin/notifier/delivery/{delivery.pk}/change/")
    response = admin_client.post(
        f"/admin/notifier/delivery/{delivery.pk}/change/", {"status": "sent"}
    )

    assert page.status_code == 200 and b'name="_save"' not in page.content
    assert response.status_code == 403
    delivery.refresh_from_db()
    assert delivery.status == "pending"


def test_it_adds_a_channel_disabled_in_the_admin_when_enabled_is_unticked(
    admin_client, no_private_targets
):
    data = _channel_post(name="paused", url=SLACK_URL)
    del data["enabled"]
    response = admin_client.post("/admin/notifier/channel/add/", data)
    assert response.status_code == 302, response.context and _form_errors(response)
    assert Channel.objects.get().enabled is False


def test_an_admin_sms_subscriber_is_stored_in_e164_and_a_fixed_line_is_refused(
    admin_client, settings
):
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = "AC" + "0" * 32, "token"
    settings.HELIOGRAPH_SMS_FROM = "+12025550123"
    refused = admin_client.post(
        "/admin/notifier/subscriber/add/",
        _subscriber_post(kind="sms", email="", phone="+44 20 7183 8750"),
    )
    assert "not a mobile number" in _form_errors(refused)["phone"][0]
    assert not Subscriber.objects.exists()

    added = admin_client.post(
        "/admin/notifier/subscriber/add/",
        _subscriber_post(kind="sms", email="", phone="+49 151 1234 5678"),
    )

    assert added.status_code == 302
    subscriber = Subscriber.objects.get()
    assert (subscriber.phone, subscriber.email, subscriber.is_active) == (
        "+4915112345678",
        "",
        True,
    )
    assert AuditEntry.objects.filter(action="subscriber.add_confirmed").count() == 1


def test_an_admin_teams_subscriber_follows_the_vendor_host_rule(admin_client, no_private_targets):
    response = admin_client.post(
        "/admin/notifier/subscriber/add/",
        _subscriber_post(kind="teams", email="", url="https://example.com/workflows/x"),
    )
    assert "Teams workflow webhook" in " ".join(_form_errors(response)["url"])
    assert not Subscriber.objects.exists()
