"""How a write in a lower layer reaches the layers above it without importing them.

The catalogue and incidents write; the notifier must add its outbox rows to the same
transaction, then enqueue them, and the public page must be republished. Those are higher
layers (docs/architecture.md), so they register handlers here from their `AppConfig.ready()`,
and the service functions of the lower layers only say what happened:

- `event_record(kind, obj)`, inside the writing transaction, for each event that someone may
  have to be told about: `COMPONENT_CHANGE` (a `ComponentStatusChange`) and `INCIDENT_UPDATE`
  (an `IncidentUpdate`). The handlers registered with `on_event(kind, …)` run at once, in the
  transaction: the notifier writes one delivery per recipient there.
- `public_changed()`, whenever a write changes what the public page shows.

After the transaction commits, once per transaction however many events and changes it
had, the handlers registered with `after_commit(stage, …)` run with a `Commit` that lists
them, stage by stage: `DELIVER` first (the notifier enqueues the new deliveries in one
batch), then `PUBLISH` (the public page is rendered once). A rolled-back transaction runs
nothing. A handler that fails is logged and does not stop the next stage: the rows are
committed, and the periodic jobs (re-queue, snapshot refresh) catch up.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

log = logging.getLogger(__name__)

COMPONENT_CHANGE = "component_change"
INCIDENT_UPDATE = "incident_update"

DELIVER = "deliver"
PUBLISH = "publish"
STAGES = [DELIVER, PUBLISH]

_event_handlers: dict[str, list[Callable[[Any], None]]] = defaultdict(list)
_commit_handlers: dict[str, list[Callable[[Commit], None]]] = defaultdict(list)


@dataclass
class Commit:
    """What one transaction did that higher layers act on after it commits."""

    events: list[tuple[str, int]] = field(default_factory=list)  # (kind, primary key)
    public_changed: bool = False

    def __call__(self) -> None:
        for stage in STAGES:
            for handler in _commit_handlers[stage]:
                try:
                    handler(self)
                except Exception:
                    log.exception("after-commit %s handler %s failed", stage, handler)


def on_event(kind: str, handler: Callable[[Any], None]) -> None:
    """Run `handler(obj)` inside the transaction of every event of `kind`."""
    if handler not in _event_handlers[kind]:
        _event_handlers[kind].append(handler)


def after_commit(stage: str, handler: Callable[[Commit], None]) -> None:
    """Run `handler(commit)` once after each transaction that recorded an event or a change."""
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; use one of {STAGES}")
    if handler not in _commit_handlers[stage]:
        _commit_handlers[stage].append(handler)


def event_record(kind: str, obj: Any) -> None:
    """An event happened (inside the caller's transaction): run its handlers now, and let the
    after-commit handlers know about it."""
    for handler in _event_handlers[kind]:
        handler(obj)
    _current_commit(lambda commit: commit.events.append((kind, obj.pk)))


def public_changed() -> None:
    """What the public page shows changed: republish it after commit."""

    def mark(commit: Commit) -> None:
        commit.public_changed = True

    _current_commit(mark)


def _current_commit(change: Callable[[Commit], None]) -> None:
    """Apply `change` to the pending Commit of the current transaction and make sure a drain
    runs after it commits. Outside a transaction it runs at once.

    The Commit waits on the connection; `_drain` hands it to the stages once, after commit,
    and empties it, so however many drains a transaction registered (one per savepoint level
    that recorded something: Django drops the callbacks of a rolled-back savepoint, so each
    level needs its own), only the first one to run does the work. A Commit left over by a
    transaction that rolled back (its drains were dropped with it) is discarded when the next
    transaction starts with no callbacks at all."""
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        commit = Commit()
        change(commit)
        commit()
        return
    pending = getattr(connection, "_heliograph_commit", None)
    if pending is None or not connection.run_on_commit:
        pending = connection._heliograph_commit = Commit()
    change(pending)
    last = connection.run_on_commit[-1] if connection.run_on_commit else None
    if last is None or last[1] is not _drain or last[0] != set(connection.savepoint_ids):
        transaction.on_commit(_drain)


def _drain() -> None:
    connection = transaction.get_connection()
    commit = getattr(connection, "_heliograph_commit", None)
    connection._heliograph_commit = None
    if commit is not None:
        commit()
