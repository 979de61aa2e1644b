"""Shared fixtures: a small catalogue and actors."""

from __future__ import annotations

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


__all__ = ["Region"]
