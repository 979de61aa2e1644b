"""Fixtures of the API tests: tokens and an HTTP helper around Django's test client."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from api_helpers import Api

from statuspage.api.services import api_token_create
from statuspage.services import Actor


@pytest.fixture
def make_token(db) -> Callable[..., str]:
    def make(name: str = "deploy-bot", scopes: list[str] | None = None) -> str:
        _, raw = api_token_create(name=name, scopes=scopes, actor=Actor.system("test"))
        return raw

    return make


@pytest.fixture
def token(make_token) -> str:
    return make_token()


@pytest.fixture
def api(client, token) -> Api:
    return Api(client, token)


@pytest.fixture
def api_as(client, make_token) -> Callable[..., Api]:
    """An Api with a new token of these scopes."""

    def make(name: str, scopes: list[str] | None = None) -> Api:
        return Api(client, make_token(name, scopes))

    return make
