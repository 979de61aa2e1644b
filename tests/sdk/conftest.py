"""Fixtures of the SDK tests: a token with every scope, the live server with a small
catalogue, a client on it, the environment of a `heliograph` run, and a loopback server
that answers what a test scripts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sdk_helpers import ScriptedServer  # first: it puts this checkout's sdk/python on sys.path

# isort: split
from heliograph_client import Client

from statuspage.api.services import api_token_create
from statuspage.metrics.services import metric_create
from statuspage.services import Actor

TOKEN_NAME = "sdk-test"


@pytest.fixture
def make_token(transactional_db):
    def make(name: str = TOKEN_NAME, scopes: list[str] | None = None) -> str:
        _, raw = api_token_create(name=name, scopes=scopes, actor=Actor.system("test"))
        return raw

    return make


@pytest.fixture
def token(make_token) -> str:
    return make_token()


@pytest.fixture
def site(transactional_db, live_server, catalogue, actor) -> dict:
    """The live server with the catalogue of tests/conftest.py (run-execution in us-east-1
    and eu-central-1, a global api) and a metric to push to."""
    metric = metric_create(
        name="Queued runs (us-east-1)", slug="queue-depth-us-east-1", actor=actor
    )
    return {**catalogue, "url": live_server.url, "metric": metric}


@pytest.fixture
def client(site, token) -> Iterator[Client]:
    with Client(site["url"], token) as sdk:
        yield sdk


@pytest.fixture
def cli_env(site, token, tmp_path) -> dict[str, str]:
    """The environment of a `heliograph` run: the live server, the token, no config file."""
    return {
        "HELIOGRAPH_URL": site["url"],
        "HELIOGRAPH_TOKEN": token,
        "HELIOGRAPH_CONFIG": str(tmp_path / "no-config.toml"),
        "HELIOGRAPH_PAGE_ID": "",
    }


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    server = ScriptedServer()
    yield server
    server.close()
