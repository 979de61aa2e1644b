"""Channel factories of the notifier tests (through the service functions)."""

from __future__ import annotations

from notifier import services

DISCORD_ID = "123456789012345678"
DISCORD_TOKEN = "abcdefghijklmnopqrstuvwxyz0123456789_-ABCDEFGHIJ"


def slack_channel(sink, actor, **kwargs):
    return services.channel_create(
        kind="slack",
        name=kwargs.pop("name", "ops"),
        url=f"{sink.url}/services/T0/B0/x",
        actor=actor,
        **kwargs,
    )


def slack_bot_channel(sink, actor, **kwargs):
    return services.channel_create(
        kind="slack",
        name=kwargs.pop("name", "ops-bot"),
        token="xoxb-test-token",
        target="C012345",
        actor=actor,
        **kwargs,
    )


def discord_channel(sink, actor, **kwargs):
    return services.channel_create(
        kind="discord",
        name=kwargs.pop("name", "community"),
        url=f"{sink.url}/api/webhooks/{DISCORD_ID}/{DISCORD_TOKEN}",
        actor=actor,
        **kwargs,
    )


def webhook_channel(sink, actor, path="/hook/1", **kwargs):
    return services.channel_create(
        kind="webhook",
        name=kwargs.pop("name", path),
        url=f"{sink.url}{path}",
        actor=actor,
        **kwargs,
    )
