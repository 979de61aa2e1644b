"""Fixtures of the notifier tests: loopback sinks (Slack/Discord/Teams/Twilio/webhook HTTP,
SMTP), the settings that point Heliograph at them, and Celery in eager mode for in-process
delivery."""

from __future__ import annotations

import time

import pytest
from django.core.cache import cache
from notifier_helpers import PHONES, SMS_FROM, TWILIO_SID, TWILIO_TOKEN
from sinks import ChatSink, SmtpSink

from notifier.integrations.sms import ratelimit
from notifier.messages import notice_cache_clear
from statuspage.conf.celery import app as celery_app


@pytest.fixture(autouse=True)
def _fresh_notices():
    """Notices are cached per process by event key; ids repeat between tests."""
    notice_cache_clear()
    # The rate limit counts per address in the cache, which outlives a test run on Redis.
    cache.delete_many([f"notifier:subscribe:{ip}" for ip in ("127.0.0.1", "203.0.113.9")])
    yield
    notice_cache_clear()


def _forget_sms_budgets() -> None:
    """The per-number SMS budgets of the test numbers (the cache outlives a test)."""
    window = int(time.time() // ratelimit.WINDOW)
    cache.delete_many(
        [
            f"notifier:sms:{bucket}:{phone}:{w}"
            for bucket in ("notice", "code")
            for phone in PHONES
            for w in (window - 1, window, window + 1)
        ]
    )


@pytest.fixture
def sink():
    server = ChatSink()
    yield server
    server.close()


@pytest.fixture
def smtp():
    server = SmtpSink()
    yield server
    server.close()


@pytest.fixture
def loopback(settings, sink, smtp):
    """Point Slack, Discord, webhooks and SMTP at the loopback sinks."""
    settings.HELIOGRAPH_ALLOW_PRIVATE_TARGETS = True
    settings.HELIOGRAPH_SLACK_API_URL = f"{sink.url}/api/"
    settings.HELIOGRAPH_DISCORD_API_URL = f"{sink.url}/api/v10"
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = smtp.host
    settings.EMAIL_PORT = smtp.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 5
    return {"sink": sink, "smtp": smtp}


@pytest.fixture
def production(settings):
    """The production setting: no escape hatch."""
    settings.HELIOGRAPH_ALLOW_PRIVATE_TARGETS = False
    settings.HELIOGRAPH_ALLOWED_TARGET_PORTS = []


@pytest.fixture
def sms(settings, loopback):
    """SMS on, through Twilio's client, against the loopback sink (which checks the auth)."""
    _forget_sms_budgets()
    sink = loopback["sink"]
    sink.twilio_token = TWILIO_TOKEN
    settings.TWILIO_ACCOUNT_SID = TWILIO_SID
    settings.TWILIO_AUTH_TOKEN = TWILIO_TOKEN
    settings.HELIOGRAPH_SMS_FROM = SMS_FROM
    settings.HELIOGRAPH_TWILIO_API_URL = sink.url
    return sink


@pytest.fixture
def eager():
    """Run Celery tasks in-process (the on-commit enqueue then delivers at once)."""
    conf = celery_app.conf
    old = conf.task_always_eager, conf.task_eager_propagates
    conf.task_always_eager, conf.task_eager_propagates = True, True
    yield
    conf.task_always_eager, conf.task_eager_propagates = old
