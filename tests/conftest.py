"""Shared fixtures: a small catalogue, actors, and Chromium for the browser tests."""

from __future__ import annotations

import os

import pytest

from statuspage.models import Region
from statuspage.services import Actor, region_create, service_create


@pytest.fixture
def actor() -> Actor:
    return Actor.system("test")


@pytest.fixture
def staff_user(django_user_model):
    user = django_user_model.objects.create_user("commander", "ic@example.com", "pw-commander-1")
    user.is_staff = True
    user.save()
    return user


@pytest.fixture
def catalogue(db, actor) -> dict:
    """Two regions, a regional service and a global one."""
    us = region_create(slug="us-east-1", name="US East (N. Virginia)", actor=actor, position=1)
    eu = region_create(slug="eu-central-1", name="EU (Frankfurt)", actor=actor, position=2)
    runs = service_create(name="Run execution", regions=[us, eu], actor=actor, position=1)
    api = service_create(name="API", actor=actor, position=2)
    return {
        "us": us,
        "eu": eu,
        "runs": runs,
        "api": api,
        "runs_us": runs.components.get(region=us),
        "runs_eu": runs.components.get(region=eu),
        "api_global": api.components.get(region=None),
    }


# Debian's Chromium, driven by Playwright (docs: "A real browser").
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium for a module of tests. Playwright's sync API runs an event loop in
    this thread; Django refuses ORM calls there unless told they are safe (they are: the test
    drives one browser). Told for this module only, so it leaks into no other test."""
    if not os.path.exists(CHROMIUM):
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium package "
            "(apt-get install chromium; .ci/run does this) to run the browser tests."
        )
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


__all__ = ["Region"]
