"""Fixtures of the credits tests: the loopback Stripe and the settings that point at it."""

from __future__ import annotations

import pytest
from stripe_sink import API_KEY, StripeSink


@pytest.fixture
def stripe_sink():
    """A loopback Stripe; every test that used it also checks that Stripe would have taken
    every request as sent (no unknown or missing parameter, no bad amount or currency)."""
    sink = StripeSink()
    yield sink
    sink.close()
    assert sink.problems == [], sink.problems


@pytest.fixture
def stripe_settings(settings, stripe_sink):
    settings.HELIOGRAPH_STRIPE_API_KEY = API_KEY
    settings.HELIOGRAPH_STRIPE_API_BASE = stripe_sink.url
    settings.HELIOGRAPH_STRIPE_DRY_RUN = False
    settings.HELIOGRAPH_STRIPE_RATE_LIMIT = 1000
    settings.HELIOGRAPH_STRIPE_CONCURRENCY = 4
    return settings
