"""Channel factories of the notifier tests (through the service functions)."""

from __future__ import annotations

from notifier import services

DISCORD_ID = "123456789012345678"
TWILIO_SID = "AC" + "0123456789abcdef" * 2
TWILIO_TOKEN = "twilio-auth-token-for-tests"
SMS_FROM = "+12025550123"
# The numbers the SMS tests text (valid mobile numbers of real numbering plans).
PHONES = ["+4915112345678", "+4915112345679", "+819012345678", "+447911123456"]
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


TEAMS_PATH = (
    "/workflows/0f1e2d3c4b5a69788796a5b4c3d2e1f0/triggers/manual/paths/invoke"
    "?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=Zm9vYmFyYmF6cXV4"
)


def teams_channel(sink, actor, **kwargs):
    return services.channel_create(
        kind="teams",
        name=kwargs.pop("name", "support"),
        url=f"{sink.url}{TEAMS_PATH}",
        actor=actor,
        **kwargs,
    )
