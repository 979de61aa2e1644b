"""The walk of one incident update after its transaction commits (statuspage/hooks.py):
deliveries enqueued first, in one batch, then the public page published once, however many
components the update changed."""

from __future__ import annotations

import pytest
from celery.signals import before_task_publish
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents.services import incident_declare
from notifier.models import Delivery
from notifier.services import channel_create
from statuspage import hooks
from statuspage.models import ComponentStatus
from statuspage.public.snapshot import read_manifest
from statuspage.services import Actor, region_create, service_create


@pytest.fixture
def stages():
    """Which after-commit stages ran, in order (a handler registered like any other app's)."""
    seen: list[tuple[str, int, bool]] = []

    def deliver(commit: hooks.Commit) -> None:
        seen.append((hooks.DELIVER, len(commit.events), commit.public_changed))

    def publish(commit: hooks.Commit) -> None:
        seen.append((hooks.PUBLISH, len(commit.events), commit.public_changed))

    hooks.after_commit(hooks.DELIVER, deliver)
    hooks.after_commit(hooks.PUBLISH, publish)
    yield seen
    hooks._commit_handlers[hooks.DELIVER].remove(deliver)
    hooks._commit_handlers[hooks.PUBLISH].remove(publish)


@pytest.fixture
def published_tasks():
    names: list[str] = []

    def record(sender=None, **kwargs):
        names.append(sender)

    before_task_publish.connect(record, weak=False)
    yield names
    before_task_publish.disconnect(record)


def _catalogue(size: int, actor: Actor) -> list:
    regions = [
        region_create(slug=f"r{size}-{i}", name=f"Region {i}", actor=actor, position=i)
        for i in range(size)
    ]
    service = service_create(name=f"Run execution {size}", regions=regions, actor=actor)
    return list(service.components.all())


def _after_commit_of_a_declare(size, settings, tmp_path, capture) -> tuple[list, int]:
    """Declare an incident changing `size` components; return the after-commit callbacks'
    queries and the number of deliveries written."""
    settings.SNAPSHOT_DIR = tmp_path / f"snapshot-{size}"
    settings.HELIOGRAPH_ALLOW_PRIVATE_TARGETS = True
    actor = Actor.system("test")
    components = _catalogue(size, actor)
    channel_create(
        kind="webhook", name=f"support {size}", url=f"http://127.0.0.1:9/hook/{size}", actor=actor
    )
    with capture(execute=False) as callbacks:
        incident = incident_declare(
            name="Runs not starting",
            body="Investigating.",
            actor=actor,
            impact="critical",
            component_statuses={c: ComponentStatus.MAJOR_OUTAGE for c in components},
        )
    with CaptureQueriesContext(connection) as queries:
        for callback in callbacks:
            callback()
    return queries.captured_queries, Delivery.objects.filter(update__incident=incident).count()


@pytest.mark.django_db
def test_one_update_of_many_components_enqueues_once_then_publishes_once(
    settings, tmp_path, stages, published_tasks, django_capture_on_commit_callbacks
):
    _queries, deliveries = _after_commit_of_a_declare(
        6, settings, tmp_path, django_capture_on_commit_callbacks
    )
    # One Commit for the whole transaction: the update and its six component changes.
    assert stages == [(hooks.DELIVER, 7, True), (hooks.PUBLISH, 7, True)]
    assert deliveries == 1
    assert published_tasks == ["notifier.tasks.deliver_webhook"]
    assert read_manifest() is not None


@pytest.mark.django_db
def test_the_after_commit_path_costs_the_same_for_2_or_12_components(
    settings, tmp_path, django_capture_on_commit_callbacks
):
    small, _ = _after_commit_of_a_declare(2, settings, tmp_path, django_capture_on_commit_callbacks)
    # A second, bigger catalogue beside the first: 12 more components in 12 more regions.
    large, _ = _after_commit_of_a_declare(
        12, settings, tmp_path, django_capture_on_commit_callbacks
    )
    deliver_small = [q for q in small if "notifier_delivery" in q["sql"]]
    deliver_large = [q for q in large if "notifier_delivery" in q["sql"]]
    assert len(deliver_small) == len(deliver_large) == 1
    # The render reads the whole page in a fixed number of queries, whatever the size.
    assert len(large) == len(small), [q["sql"][:80] for q in large]
