"""The published snapshot: the public page and JSON documents, rendered once per change.

`schedule_publish()` is called by every service function that changes what the public sees;
it registers (once per transaction) a rebuild that runs after commit.
"""

from __future__ import annotations

import logging

from django.db import connection, transaction

log = logging.getLogger(__name__)


def schedule_publish() -> None:
    """Rebuild the snapshot after the current transaction commits, once per commit.

    Every change registers a callback; the first one to run after commit rebuilds and the
    rest see nothing pending. (Callbacks of a rolled-back savepoint are dropped by Django.)
    """
    if not connection.in_atomic_block:
        snapshot_publish_safely()
        return
    connection._heliograph_publish_pending = True

    def run() -> None:
        if getattr(connection, "_heliograph_publish_pending", False):
            connection._heliograph_publish_pending = False
            snapshot_publish_safely()

    transaction.on_commit(run)


def snapshot_publish_safely() -> None:
    try:
        snapshot_publish()
    except Exception:  # the write has committed; a failed render must not undo it
        log.exception("snapshot publish failed; the periodic refresh will retry")


def snapshot_publish() -> None:
    """Render the page and JSON documents and store them for the read path."""
